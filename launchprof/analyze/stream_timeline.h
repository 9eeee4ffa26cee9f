// Per-stream timeline measures: the gap before each kernel on its stream, classed by what the GPU waited
// for, and the launch queue length over time.
#pragma once

#include <cstdint>
#include <vector>

#include "launchprof/analyze/event_model.h"

namespace launchprof {

// Why a stream was idle between kernel p and the next kernel j (gap = start_j - end_p):
//   kHostWait:   the launch call of j started after p ended, so the GPU waited for the host;
//   kKernelWait: the launch call of j returned before p ended, so j sat queued behind p;
//   kOther:      the launch call was in flight when p ended, or j has no launch call (orphan);
//   kOverlap:    j started before p ended (concurrent graph branches, or clock skew); no gap time.
enum class GapClass : uint8_t { kFirst, kHostWait, kKernelWait, kOther, kOverlap };
constexpr int kNumGapClasses = 5;
const char* gap_class_name(GapClass c);

struct GapStats {
  uint64_t count[kNumGapClasses] = {};
  int64_t gap_ns[kNumGapClasses] = {};  // summed gaps (zero for kFirst and kOverlap)
  void add(const GapStats& o) {
    for (int i = 0; i < kNumGapClasses; ++i) count[i] += o.count[i], gap_ns[i] += o.gap_ns[i];
  }
};

// Per-kernel launch data resolved through the join; lq and queue delay are meaningful only if joined.
struct KernelTiming {
  std::vector<uint8_t> joined;
  std::vector<int64_t> launch_start_ns;
  std::vector<int64_t> launch_end_ns;
};

// `stream_kernels` is one stream's kernels in start order. Writes each kernel's class and gap.
GapStats classify_gaps(const std::vector<uint32_t>& stream_kernels, const std::vector<KernelRec>& kernels,
                       const KernelTiming& timing, std::vector<uint8_t>* gap_class, std::vector<int64_t>* gap_ns);

// Queue length = kernels whose launch call has started but which have not started running, i.e. the
// number of open [launch_start, kernel_start) intervals. Mean is time-weighted over [window_start, window_end].
struct QueueStats {
  uint32_t max = 0;
  double mean = 0.0;
};
QueueStats queue_length(const std::vector<uint32_t>& scope_kernels, const std::vector<KernelRec>& kernels,
                        const KernelTiming& timing, int64_t window_start, int64_t window_end);

}  // namespace launchprof
