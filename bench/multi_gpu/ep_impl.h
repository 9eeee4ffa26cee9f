// The two expert-parallel implementations onemoe-bench times, behind one interface: the fused
// onemoe::DistributedContext and the bulk-synchronous baseline. Both follow distributed.h's conventions.
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "onemoe/onemoe.h"

namespace onemoe::multi_gpu {

// Bytes one rank sent to other ranks in the last forward, as the implementation counted them.
struct Traffic {
  uint64_t rows_to_peers = 0, rows_returned = 0, rows_local = 0;
  uint64_t payload_bytes = 0, control_bytes = 0;
};

class EpImpl {
 public:
  virtual ~EpImpl() = default;
  // Enqueues this rank's part of one forward (collective: every rank calls it once per forward).
  virtual Result run(const RunArgs& args, cudaStream_t stream) = 0;
  // Waits for the stream, reports device-side failures and the last forward's traffic.
  virtual Result finish(cudaStream_t stream, Traffic* traffic) = 0;
  // This rank's tasks of the last forward, when the implementation records them.
  virtual Result task_timeline(std::vector<TaskSpan>* out) const {
    (void)out;
    return Result::error(Status::kErrorNotSupported, "no task timeline");
  }
};

// Whether the fused distributed kernel is compiled into this binary (the library may not have it yet).
bool onemoe_distributed_available();

// max_shape.num_tokens: the largest T of any rank (the same on every rank).
Result onemoe_can_implement(const MoeShape& max_shape, const MoeConfig& config, int world_size,
                            const std::vector<int>& expert_to_rank);
Result make_onemoe_impl(const MoeShape& max_shape, const MoeConfig& config, ncclComm_t comm, int device,
                        const std::vector<int>& expert_to_rank, double wait_timeout_ms, bool record_timeline,
                        std::unique_ptr<EpImpl>* out);

Result make_bulk_sync_impl(const MoeShape& max_shape, const MoeConfig& config, ncclComm_t comm,
                           const std::vector<int>& expert_to_rank, std::unique_ptr<EpImpl>* out);

}  // namespace onemoe::multi_gpu
