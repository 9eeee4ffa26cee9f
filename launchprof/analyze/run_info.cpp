#include "launchprof/analyze/run_info.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <ctime>

#ifndef LAUNCHPROF_SOURCE_DIR
#define LAUNCHPROF_SOURCE_DIR "."
#endif

namespace launchprof {
namespace {

std::string shell_quote(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s)
    plain = plain && (isalnum(static_cast<unsigned char>(c)) || std::string_view("-_./=:,+@%").find(c) != std::string_view::npos);
  if (plain) return s;
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  out += '\'';
  return out;
}

}  // namespace

std::string utc_now_iso8601() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string git_commit(const std::string& dir) {
  std::string cmd = "git -C " + shell_quote(dir.empty() ? LAUNCHPROF_SOURCE_DIR : dir) + " rev-parse HEAD 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "unknown";
  char buf[128] = {};
  std::string out;
  if (std::fgets(buf, sizeof(buf), p)) out = buf;
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.size() == 40 ? out : "unknown";
}

RunInfo make_run_info(int argc, char** argv) {
  RunInfo r;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) r.command += ' ';
    r.command += shell_quote(argv[i]);
  }
  // A copy of the tree without .git (the GPU machine's) is told its commit, as the study scripts are.
  const char* env = std::getenv("LAUNCHPROF_COMMIT");
  r.commit = env != nullptr && *env != '\0' ? std::string(env) : git_commit();
  r.date = utc_now_iso8601();
  return r;
}

}  // namespace launchprof
