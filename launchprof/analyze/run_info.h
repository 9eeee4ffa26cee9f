// What a results file records about the run itself (see shared RESULTS.md): command, commit, date.
#pragma once

#include <string>

namespace launchprof {

struct RunInfo {
  std::string command;  // argv joined, shell-quoted where needed
  std::string commit;   // `git rev-parse HEAD` of the source tree at run time, or "unknown"
  std::string date;     // UTC, ISO 8601
};

RunInfo make_run_info(int argc, char** argv);
std::string utc_now_iso8601();
// Runs `git -C <dir> rev-parse HEAD`; dir defaults to the source tree launchprof was built from.
std::string git_commit(const std::string& dir = "");

}  // namespace launchprof
