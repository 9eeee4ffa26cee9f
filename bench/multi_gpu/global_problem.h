// The global problem of a multi-GPU run: all ranks' tokens concatenated in rank order (rank 0 first) and the
// full expert weights, drawn from the seed exactly like a single-GPU problem of T_total tokens; and the slices
// one rank gets (its tokens, its experts' weights). Pure host code.
#pragma once

#include <cstdint>
#include <vector>

#include "harness/moe_problem.h"
#include "onemoe/onemoe.h"

namespace onemoe::multi_gpu {

struct TokenRange {
  int64_t first = 0;  // global index of the rank's first token
  int64_t count = 0;
};

// Rank r's tokens are [sum of T before r, + T_r).
std::vector<TokenRange> token_ranges(const std::vector<int64_t>& tokens_per_rank);

// Global ids of the experts rank holds, ascending (the order of its local weights).
std::vector<int> experts_of_rank(const std::vector<int>& expert_to_rank, int rank);

// Rows [first, first + count) of a row-major tensor with row_len elements per row.
std::vector<double> slice_rows(const std::vector<double>& tensor, int64_t row_len, int64_t first, int64_t count);

// The blocks of `experts` (each expert_elems long, e.g. I*H) of a [E, ...] tensor, in the given order.
std::vector<double> gather_experts(const std::vector<double>& tensor, int64_t expert_elems,
                                   const std::vector<int>& experts);

// Routes most tokens to the experts of skew_rank: every x element gets +1 and those experts' router rows get
// +skew/H, which adds about `skew` to their logits for every token. Values are re-rounded to the dtype.
// skew <= 0 leaves the inputs alone.
void apply_skew(harness::HostInputs* inputs, const MoeShape& global_shape, const MoeConfig& config,
                const std::vector<int>& expert_to_rank, int skew_rank, double skew);

// rows_to_rank[d] = rows of these ids whose expert lives on rank d (ids outside [0, E) are ignored).
std::vector<int64_t> rows_per_destination(const std::vector<int32_t>& topk_ids, const std::vector<int>& expert_to_rank,
                                          int world_size);

}  // namespace onemoe::multi_gpu
