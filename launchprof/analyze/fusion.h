// Fusion candidates (SKIP's proximity score). On each stream, kernels in start order form sequences that are
// split wherever the host blocked (cudaDeviceSynchronize, cudaStreamSynchronize, cudaEventSynchronize, a
// non-async cudaMemcpy, ...), since work on either side of a host wait cannot be fused. For every chain of L
// consecutive kernel names (L = 2..8):
//   score = occurrences of the chain / occurrences of its first kernel (over all streams).
// A score near 1 means the first kernel is almost always followed by the rest of the chain.
// The listed candidates do not overlap: best first, each claims the kernels of its occurrences, and a later chain
// counts only occurrences whose kernels no listed chain has claimed (so shifted windows of one long repeated chain,
// or a chain overlapping itself, are not counted twice, and launches_removable adds up over the table).
#pragma once

#include <cstdint>
#include <vector>

#include "launchprof/analyze/event_model.h"
#include "launchprof/analyze/join.h"
#include "launchprof/analyze/metrics.h"

namespace launchprof {

struct FusionOptions {
  int min_len = 2;
  int max_len = 8;
  uint64_t min_occurrences = 2;  // a chain seen once is not a pattern
  size_t top_n = 10;
  size_t max_distinct_chains = 4u << 20;  // bounds memory on pathological traces; hitting it is reported
};

struct FusionCandidate {
  std::vector<uint32_t> names;  // kernel name ids, in order
  uint64_t chain_occurrences = 0;  // every window with these names, overlapping ones included (the score's numerator)
  uint64_t occurrences = 0;        // the non-overlapping windows it was given (what the removable counts sum over)
  uint64_t first_kernel_occurrences = 0;
  double score = 0.0;
  int64_t kernel_time_ns = 0;   // summed durations of the kernels of its occurrences
  int64_t lq_removable_ns = 0;  // summed lq of kernels 2..L of its occurrences: the launch+queue time fusion removes
  uint64_t launches_removable() const { return occurrences * (names.size() - 1); }
};

struct FusionResult {
  std::vector<FusionCandidate> candidates;  // best first, non-overlapping (see above)
  uint64_t sequences = 0;        // sync-split sequences over all streams
  uint64_t sync_calls = 0;       // host sync calls used as split points
  uint64_t distinct_chains = 0;
  bool table_full = false;       // max_distinct_chains reached: counts of later new chains are missing
  bool selection_cut = false;    // the non-overlap selection stopped at its work bound before filling top_n
};

// `streams`: kernel indices of each stream in start order.
FusionResult find_fusion_candidates(const TraceData& trace, const JoinResult& join, const PerKernelDerived& derived,
                                    const std::vector<std::vector<uint32_t>>& streams, const FusionOptions& options);

}  // namespace launchprof
