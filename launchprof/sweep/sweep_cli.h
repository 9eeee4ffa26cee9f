// `launchprof sweep`: command-line options and the run.
#pragma once

#include <string>
#include <vector>

#include "launchprof/analyze/run_info.h"

namespace CLI {
class App;
}

namespace launchprof {

struct SweepCliOptions {
  std::vector<std::string> labels;
  std::string json_path;
  std::string png_path;
  double threshold = 0.5;
  double queue_factor = 4.0;
  bool quiet = false;
};

constexpr int kExitPlotUnavailable = 3;  // --png asked for but python3/matplotlib could not draw it

CLI::App* add_sweep_command(CLI::App& app, SweepCliOptions& options);
int run_sweep(const SweepCliOptions& options, const RunInfo& run);

}  // namespace launchprof
