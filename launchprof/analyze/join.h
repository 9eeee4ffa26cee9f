// The operator -> launch call -> kernel join.
//   kernel <-> launch: args.correlation of the kernel equals that of a runtime/driver call. A graph launch
//                      shares its correlation with every kernel of the graph, so one call may own many kernels.
//   launch <-> operator: args["External id"] of the call equals that of a cpu_op (or user_annotation);
//                      without one, the innermost operator on the same thread that contains the call.
#pragma once

#include <cstdint>
#include <vector>

#include "launchprof/analyze/event_model.h"

namespace launchprof {

struct JoinResult {
  std::vector<int32_t> kernel_launch;  // per kernel: index into TraceData::apis, or -1 (orphan)
  std::vector<uint32_t> api_kernels;   // per API call: kernels joined to it
  std::vector<int32_t> api_op;         // per API call: index into TraceData::ops, or -1
  std::vector<uint8_t> api_shadowed;   // per API call: 1 if another call with its correlation was preferred

  uint64_t orphans_no_correlation = 0;  // kernel without args.correlation
  uint64_t orphans_unmatched = 0;       // kernel whose correlation matches no runtime/driver call
  uint64_t launches = 0;                // kernel-launch calls (including graph launches)
  uint64_t launches_without_kernel = 0;
  uint64_t graph_launches = 0;
  uint64_t graph_kernels = 0;
  uint64_t duplicate_correlations = 0;  // extra calls sharing one correlation id (all but the preferred)
  uint64_t launches_op_by_external_id = 0;
  uint64_t launches_op_by_containment = 0;
  uint64_t launches_without_op = 0;

  uint64_t orphans() const { return orphans_no_correlation + orphans_unmatched; }
};

JoinResult join_events(const TraceData& trace);

}  // namespace launchprof
