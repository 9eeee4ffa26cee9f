// The join of one recorded process: launch call -> GPU op (by correlation id), driver call -> the runtime call it
// ran inside, API call -> the NVTX range (operator) around it; and the summary that follows from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trace_model.h"

namespace launchprof::record {

struct LinkOptions {
  // Keep only what happens between cudaProfilerStart and cudaProfilerStop (or cuProfilerStart/Stop).
  bool capture_profiler_range = false;
};

// Indices into the TraceModel vectors; -1 means "none".
struct LinkedTrace {
  std::vector<int32_t> api_parent;    // call -> innermost runtime call on the same thread that encloses it
  std::vector<int32_t> api_range;     // API call -> innermost NVTX range open at its start on the same thread
  std::vector<int32_t> op_launch;     // GPU op -> the outermost API call that launched it
  std::vector<uint8_t> op_first;      // 1 if the op is the earliest op of its launch call (the flow's target)
  std::vector<uint32_t> api_num_ops;  // API call -> number of GPU ops linked to it
  std::vector<uint8_t> api_kept;      // 0: nested call (the enclosing runtime call stands for it) or outside capture
  std::vector<uint8_t> op_kept;
  std::vector<uint8_t> range_kept;
  std::vector<uint8_t> sync_kept;
  uint64_t base_ns = 0;                // smallest timestamp written; trace times are relative to it
  bool capture_range_missing = false;  // capture asked for, but no cudaProfilerStart seen: everything kept
};

LinkedTrace link_trace(const TraceModel& model, const LinkOptions& options);

// SKIP's quantities for one process, over the kept records. lq_j = kernel start - launch call start.
struct TraceSummary {
  uint64_t kernels = 0;
  uint64_t memcpys = 0;
  uint64_t memsets = 0;
  uint64_t graph_kernels = 0;        // kernels run by a graph launch (their lq includes earlier graph nodes)
  uint64_t kernel_launch_calls = 0;  // kept outermost calls that launch kernels (see is_kernel_launch_api)
  uint64_t launches_without_op = 0;  // such calls with no GPU op at all
  uint64_t orphan_kernels = 0;       // kernels with no launch call
  uint64_t orphan_other_ops = 0;     // memcpy/memset with no API call
  uint64_t lq_terms = 0;             // kernels with a launch call: the terms of TKLQT
  uint64_t negative_lq = 0;          // terms with kernel start < launch call start (clock trouble; kept as is)
  int64_t tklqt_ns = 0;
  int64_t kernel_time_ns = 0;  // sum of kernel durations
  uint64_t api_calls = 0;      // kept, written
  uint64_t nested_calls = 0;   // calls inside a runtime call: not written, the runtime call stands for them
  uint64_t ranges = 0;
  uint64_t syncs = 0;
};

TraceSummary summarize(const TraceModel& model, const LinkedTrace& linked);

// A few lines for stderr, each starting with "launchprof:".
std::string format_summary(const TraceModel& model, const LinkedTrace& linked, const TraceSummary& summary);

}  // namespace launchprof::record
