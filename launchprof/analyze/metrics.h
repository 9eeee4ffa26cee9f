// SKIP metrics for one scope (the whole trace, one device, or one stream).
//   lq_j        = kernel_start - launch_call_start              (joined kernels; graph kernels use the graph launch)
//   TKLQT       = sum of lq_j, negative values included and counted (never clamped)
//   AKD         = mean kernel duration over all kernels in scope
//   IL          = last kernel end in scope - anchor, where the anchor is the first operator start in the trace
//                 (cpu_op / user_annotation), else the first launch call, else the first kernel. Undefined (not
//                 negative) when every kernel of the scope ends before the anchor (clock skew): see il_defined
//   idle        = IL - |union of kernel, memcpy and memset intervals within [anchor, last end]|   (never negative;
//                 undefined with IL). A copy keeps the GPU busy, so copy time is not idle time
//   idle_sum    = IL - sum of kernel durations                             (the paper's formula; negative when
//                                                                           kernels overlap)
//   queue_delay = max(0, kernel_start - launch_call_end)
#pragma once

#include <cstdint>
#include <vector>

#include "launchprof/analyze/event_model.h"
#include "launchprof/analyze/join.h"
#include "launchprof/analyze/stream_timeline.h"

namespace launchprof {

enum class AnchorKind : uint8_t { kOperator, kLaunch, kKernel, kNone };
const char* anchor_kind_name(AnchorKind k);

struct Anchor {
  AnchorKind kind = AnchorKind::kNone;
  int64_t ts_ns = 0;
};
Anchor find_anchor(const TraceData& trace, const JoinResult& join);

constexpr int64_t kAllStreams = INT64_MIN;
constexpr int32_t kAllDevices = INT32_MIN;

struct ScopeMetrics {
  int32_t device = kAllDevices;
  int64_t stream = kAllStreams;

  uint64_t kernels = 0;
  uint64_t joined = 0;
  uint64_t orphans = 0;
  uint64_t graph_kernels = 0;

  int64_t tklqt_ns = 0;
  uint64_t negative_lq = 0;
  int64_t negative_lq_ns = 0;  // sum of the negative lq values (included in tklqt_ns)
  int64_t lq_min_ns = 0, lq_p50_ns = 0, lq_p99_ns = 0, lq_max_ns = 0;  // nearest-rank, joined kernels
  int64_t launch_call_p50_ns = 0;  // median duration of the joined kernels' launch calls (the unqueued part of lq)

  int64_t kernel_time_ns = 0;  // sum of durations
  int64_t busy_ns = 0;         // union of kernel, memcpy and memset intervals within [anchor, last_end]
  int64_t copy_busy_ns = 0;    // the part of busy_ns covered by copies and sets only (no kernel running)
  int64_t first_start_ns = 0, last_end_ns = 0;
  // IL, idle and idle_sum are defined when the scope has a kernel ending at or after the anchor; otherwise they
  // are 0 here and reported as undefined (null, '-', empty), never as a negative time.
  bool il_defined = false;
  int64_t il_ns = 0, idle_ns = 0, idle_sum_ns = 0;
  uint64_t kernels_before_anchor = 0;
  uint64_t kernels_ending_before_anchor = 0;

  int64_t queue_delay_ns = 0;  // sum over joined kernels
  int64_t queue_delay_max_ns = 0;
  uint64_t started_before_launch_returned = 0;  // kernel_start < launch_call_end

  GapStats gaps;
  QueueStats queue;

  uint64_t memcpy = 0, memset = 0;
  int64_t memcpy_ns = 0, memset_ns = 0;

  double akd_ns() const { return kernels ? static_cast<double>(kernel_time_ns) / kernels : 0.0; }
  double lq_mean_ns() const { return joined ? static_cast<double>(tklqt_ns) / joined : 0.0; }
  bool idle_fraction_defined() const { return il_defined && il_ns > 0; }
  double idle_fraction() const { return idle_fraction_defined() ? static_cast<double>(idle_ns) / il_ns : 0.0; }
};

struct PerKernelDerived {
  KernelTiming timing;
  std::vector<uint8_t> gap_class;
  std::vector<int64_t> gap_ns;
};

PerKernelDerived derive_per_kernel(const TraceData& trace, const JoinResult& join);

// `scope_kernels`: kernel indices of the scope (any order); `scope_mems`: its memcpy/memset indices. Gap stats are
// added by the caller, since they are per-stream by nature.
ScopeMetrics compute_scope(const TraceData& trace, const PerKernelDerived& derived,
                           std::vector<uint32_t> scope_kernels, const Anchor& anchor, const JoinResult& join,
                           const std::vector<uint32_t>& scope_mems = {});

}  // namespace launchprof
