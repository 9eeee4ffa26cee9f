// onemoe distributed: the expert-parallel MoE layer over the GPUs of one NVLink domain, still one kernel
// launch per GPU per forward. Peers talk through NCCL's device API (LSA pointers into symmetric windows);
// see docs/protocol.md for every flag and counter.
//
// Every rank of `comm` creates one DistributedContext (collective) and then calls run() once per forward
// (the same number of times on every rank). Tokens stay on their rank: x and out are this rank's [T_r, H],
// and T_r may differ between ranks and may be 0. The router weight is replicated ([E, H] everywhere); the
// expert weights are this rank's experts only, in ascending global expert id:
//   w1, w3 [E_local, I, H],  w2 [E_local, H, I]   (E_local = local_experts().size()).
// With the same global inputs, the output is bitwise identical for any rank count and placement.
#pragma once

#include <nccl.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "onemoe/onemoe.h"

namespace onemoe {

// Rank that holds each expert. Empty means contiguous blocks in expert order: every rank holds E / R
// experts and the first E % R ranks one more (E need not divide by R).
struct ExpertPlacement {
  std::vector<int> expert_to_rank;
};

std::vector<int> contiguous_placement(int num_experts, int world_size);

struct DistributedOptions {
  // device, max_tokens (T_r upper bound; must be the same on every rank: it sizes the symmetric window)
  // and wait_timeout_ms (also bounds the wait for a peer that never launches).
  ContextOptions context;
  ExpertPlacement placement;
};

// Traffic of the last forward, counted by the kernel (bytes this rank wrote into peers' windows).
struct TrafficStats {
  uint64_t rows_to_peers = 0;     // token rows sent to other ranks (dispatch)
  uint64_t rows_returned = 0;     // expert output rows sent back to other ranks (combine)
  uint64_t payload_bytes = 0;     // (rows_to_peers + rows_returned) * H * dtype size
  uint64_t control_bytes = 0;     // counts, row metadata and flags written to peers
  uint64_t rows_local = 0;        // rows whose expert is on this rank (no link crossed)
};

class DistributedContextImpl;

class DistributedContext {
 public:
  // Collective over comm: every rank calls it with the same shape, config and placement. comm stays owned
  // by the caller and must outlive the context. Requires every rank to be reachable by LSA (one NVLink
  // domain); the GIN path for other peers is described in docs/protocol.md but not built.
  static Result create(const MoeShape& shape_with_max_tokens, const MoeConfig& config, ncclComm_t comm,
                       const DistributedOptions& options, std::unique_ptr<DistributedContext>* out);
  ~DistributedContext();

  static Result can_implement(const MoeShape& shape, const MoeConfig& config, int world_size,
                              const ExpertPlacement& placement);

  // Enqueues this rank's part of one forward: exactly one kernel launch. args.num_tokens may be 0 (x and out
  // may then be null). args.workspace must be null: the context owns its workspace.
  Result run(const RunArgs& args, cudaStream_t stream);
  // Waits for the stream; reports a timeout (naming the peer that did not answer) and the traffic counts.
  // After a timeout the context is unusable (peers may hold half a forward); create a new one.
  Result synchronize_and_check(cudaStream_t stream, TrafficStats* traffic = nullptr);
  // This rank's tasks of the last forward (options.context.record_task_timeline; after synchronize_and_check).
  Result task_timeline(std::vector<TaskSpan>* out) const;

  int rank() const;
  int world_size() const;
  const std::vector<int>& local_experts() const;  // global ids held here, ascending
  const std::vector<int>& expert_to_rank() const;
  int grid_blocks() const;

 private:
  explicit DistributedContext(std::unique_ptr<DistributedContextImpl> impl);
  friend struct internal::ContextAccess;
  std::unique_ptr<DistributedContextImpl> impl_;
};

}  // namespace onemoe
