// `launchprof diff A B`: two traces side by side (whole-trace metrics, and kernels by name), B against A.
#pragma once

#include <string>

#include "launchprof/analyze/run_info.h"

namespace CLI {
class App;
}

namespace launchprof {

struct DiffCliOptions {
  std::string a, b;
  std::string json_path;
  size_t top_n = 15;
  bool quiet = false;
};

CLI::App* add_diff_command(CLI::App& app, DiffCliOptions& options);
int run_diff(const DiffCliOptions& options, const RunInfo& run);

}  // namespace launchprof
