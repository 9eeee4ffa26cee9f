// What each rank measured for one bench row, flattened to doubles so one NCCL all-gather brings every rank's
// numbers to rank 0, and the row rank 0 makes of them. Pure host code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "multi_gpu/ep_impl.h"

namespace onemoe::multi_gpu {

struct RankStats {
  bool ok = false;                // every step ran (the rank prints its own error to stderr)
  int64_t wrong = -1;             // elements outside tolerance + routing mismatches; -1: not checked
  int64_t checked_tokens = 0;
  Traffic traffic;                // as the implementation counted it
  std::vector<int64_t> rows_to;   // [R] rows of this rank's tokens whose expert is on rank d; empty: unknown
  int64_t launches = -1;          // kernels per forward counted on this rank (or the process); -1: not counted
  int64_t bitwise_mismatch = -1;  // elements differing from the 1-GPU run; -1: not compared
  std::vector<double> times_ms;   // [iters] per-forward time on this rank
};

// Fixed length for (world_size, iters): every rank packs the same number of doubles.
size_t packed_size(int world_size, int iters);
std::vector<double> pack(const RankStats& stats, int world_size, int iters);
RankStats unpack(const double* packed, int world_size, int iters);

struct RowSummary {
  bool all_ok = false;
  double ms = 0, p99_ms = 0;               // of the per-iteration max over ranks
  std::optional<int64_t> wrong;            // sum over ranks; nullopt when any rank did not check
  std::optional<int64_t> bitwise_mismatch; // sum; nullopt when not compared on every rank with tokens
  std::optional<int64_t> launches;         // max over ranks
  std::vector<uint64_t> bytes_sent;        // [R] payload + control
  uint64_t max_bytes_sent = 0;
  double payload_efficiency = 0;           // Σ payload / Σ (payload + control); 1 when nothing was sent
  // Whether each rank's reported rows to/back from peers equal what its routing implies; nullopt when the
  // routing was not read back.
  std::optional<bool> traffic_matches_routing;
};

// times: per iteration, the max over ranks, then median and p99. launches_divisor divides the launch count
// (the world size when one process counted every rank's kernels).
RowSummary summarize(const std::vector<RankStats>& ranks, const std::vector<int64_t>& tokens_per_rank,
                     int64_t launches_divisor);

}  // namespace onemoe::multi_gpu
