// The bulk-synchronous expert-parallel baseline: the MoE forward over the ranks of an NCCL communicator the
// way a PyTorch expert-parallel layer does it, with host-driven collectives between stages. Same function,
// tensors and conventions as onemoe::DistributedContext (onemoe/distributed.h): x/out are this rank's
// [T_r, H] (T_r may differ per rank and be 0), w_router is replicated, w1/w3/w2 hold this rank's experts only
// in ascending global id, and expert_to_rank places the experts (empty = contiguous blocks).
//
//   gate GEMM → scores + top-k → histogram → offsets → scatter (rows grouped by destination rank, then by
//   ascending expert id, then token order) → gather x rows
//   → ncclAllGather of the per-expert counts → counts to host + stream sync (PyTorch's .tolist())
//   → all-to-all of the token rows (ncclGroupStart + ncclSend/ncclRecv per rank, self included)
//   → expert FFN: one cublasGemmGroupedBatchedEx per GEMM, one problem per (source rank, local expert)
//   → all-to-all of the expert outputs back to their source rank
//   → combine (fp32, ascending expert order, no atomics).
//
// Dropless only: a capacity makes the drop order global (all ranks' tokens in rank order), which a
// per-rank sort cannot decide; can_implement says so. run() synchronizes its stream once, so it cannot be
// captured in a CUDA graph. Every rank must call run() the same number of times (it is collective).
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "onemoe/onemoe.h"

namespace onemoe::baselines {

// The bench row name.
constexpr const char* kBulkSyncName = "baseline-bulk-sync";

// Bytes this rank sent to OTHER ranks in one forward (its copies to itself are not counted).
struct BulkSyncTraffic {
  uint64_t rows_to_peers = 0;  // token rows sent to experts on other ranks
  uint64_t rows_returned = 0;  // expert output rows sent back to other ranks
  uint64_t rows_local = 0;     // rows whose expert is on this rank
  uint64_t payload_bytes = 0;  // (rows_to_peers + rows_returned) * H * dtype size
  uint64_t control_bytes = 0;  // the per-expert counts (E int32 to every other rank)
  uint64_t total_bytes() const { return payload_bytes + control_bytes; }
};

// What one rank sends, from the gathered counts: all_counts[src * E + e] = rows of rank src's tokens routed to
// expert e. Pure host arithmetic, shared by the baseline and its test.
BulkSyncTraffic bulk_sync_traffic(const std::vector<int32_t>& all_counts, const std::vector<int>& expert_to_rank,
                                  int rank, int hidden, size_t elem_bytes);

// Rank r holds [r*E/R, (r+1)*E/R) with the first E % R ranks holding one more: distributed.h's rule for an
// empty placement, restated here so the baseline does not need the fused library's distributed part.
std::vector<int> contiguous_expert_to_rank(int num_experts, int world_size);

// The order in which a rank lays out the rows it sends: experts sorted by (owner rank, expert id).
// sort_key[e] = position of e in that order. Identity for contiguous placement.
std::vector<int32_t> rank_major_expert_order(const std::vector<int>& expert_to_rank, int world_size);

struct BulkSyncState;

class BulkSyncBaseline {
 public:
  // Why this cannot run, or success. Pure host check. expert_to_rank empty = contiguous.
  static Result can_implement(const MoeShape& shape, const MoeConfig& config, int world_size,
                              const std::vector<int>& expert_to_rank);
  // Collective over comm only through later run() calls; create itself talks to no peer. max_shape.num_tokens
  // bounds this rank's T. Uses the current device.
  static Result create(const MoeShape& max_shape, const MoeConfig& config, ncclComm_t comm,
                       const std::vector<int>& expert_to_rank, std::unique_ptr<BulkSyncBaseline>* out);
  ~BulkSyncBaseline();
  BulkSyncBaseline(const BulkSyncBaseline&) = delete;
  BulkSyncBaseline& operator=(const BulkSyncBaseline&) = delete;

  // One forward of this rank (collective). args.num_tokens may be 0 (x/out may then be null).
  // args.workspace is ignored. Blocks the host once, until the counts are known.
  Result run(const RunArgs& args, cudaStream_t stream);

  const BulkSyncTraffic& last_traffic() const;
  int rank() const;
  int world_size() const;
  const std::vector<int>& local_experts() const;
  const std::vector<int>& expert_to_rank() const;

 private:
  explicit BulkSyncBaseline(std::unique_ptr<BulkSyncState> state);
  std::unique_ptr<BulkSyncState> state_;
};

}  // namespace onemoe::baselines
