// `launchprof timeline`: merge onemoe-bench's in-kernel task timeline (CSV) into a Chrome trace.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace launchprof {

struct TimelineCliOptions {
  std::string trace_path;
  std::string tasks_path;
  std::string output_path;
  std::string kernel = "moe_forward_kernel";
  int64_t kernel_index = -1;  // among the kernels whose name contains `kernel`, in start order; -1 = the last
};

CLI::App* add_timeline_command(CLI::App& app, TimelineCliOptions& options);
int run_timeline(const TimelineCliOptions& options);

}  // namespace launchprof
