// One rank's part of a bench row: upload its slice of the global problem, check the implementation against
// the fp64 reference (and optionally bitwise against a 1-GPU onemoe run), count launches, time the forwards.
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <barrier>
#include <memory>
#include <string>
#include <vector>

#include "harness/moe_problem.h"
#include "multi_gpu/ep_bench.h"
#include "multi_gpu/rank_stats.h"

namespace onemoe::multi_gpu {

struct RankContext {
  int rank = 0, world_size = 1, device = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  std::barrier<>* threads = nullptr;  // one process drives every GPU (--gpus): host barrier of the threads
};

// One row's problem, the same on every rank.
struct Case {
  MoeShape global_shape;  // num_tokens = Σ T_r
  MoeConfig config;
  std::string dtype_label;
  std::vector<int64_t> tokens_per_rank;
  std::vector<int> expert_to_rank;
  std::shared_ptr<const harness::HostInputs> inputs;  // global inputs, already skewed when asked
  int64_t max_tokens() const;
  MoeShape rank_max_shape() const;  // global shape with num_tokens = max_r T_r
};

// true on every rank iff ok on every rank (an NCCL all-reduce); false also when the all-reduce fails.
bool all_ranks_ok(const RankContext& ctx, bool ok);

// Every rank's packed stats, in rank order (an NCCL all-gather).
Result gather_stats(const RankContext& ctx, const std::vector<double>& mine, std::vector<double>* all);

class RankBuffers;
struct RankBuffersDeleter {
  void operator()(RankBuffers* buffers) const;
};
using RankBuffersPtr = std::unique_ptr<RankBuffers, RankBuffersDeleter>;

// Uploads this rank's tokens, the router, its experts' weights, and output buffers.
Result upload_rank_slice(const RankContext& ctx, const Case& c, RankBuffersPtr* out);

// Runs one implementation on this rank (collective with the other ranks). Errors go to stderr with the rank.
RankStats run_impl_on_rank(const RankContext& ctx, const Case& c, RankBuffers& buffers, const std::string& impl,
                           const EpOptions& options);

}  // namespace onemoe::multi_gpu
