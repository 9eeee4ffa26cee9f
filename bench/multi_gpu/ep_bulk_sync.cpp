// EpImpl over the bulk-synchronous baseline.
#include <cuda_runtime_api.h>

#include "baselines/bulk_sync_baseline.h"
#include "multi_gpu/ep_impl.h"

namespace onemoe::multi_gpu {
namespace {

class BulkSyncImpl final : public EpImpl {
 public:
  explicit BulkSyncImpl(std::unique_ptr<baselines::BulkSyncBaseline> b) : b_(std::move(b)) {}
  Result run(const RunArgs& args, cudaStream_t stream) override { return b_->run(args, stream); }
  Result finish(cudaStream_t stream, Traffic* traffic) override {
    const cudaError_t err = cudaStreamSynchronize(stream);
    const baselines::BulkSyncTraffic& t = b_->last_traffic();
    *traffic = Traffic{t.rows_to_peers, t.rows_returned, t.rows_local, t.payload_bytes, t.control_bytes};
    if (err != cudaSuccess) return Result::error(Status::kErrorCuda, cudaGetErrorString(err));
    return Result::success();
  }

 private:
  std::unique_ptr<baselines::BulkSyncBaseline> b_;
};

}  // namespace

Result make_bulk_sync_impl(const MoeShape& max_shape, const MoeConfig& config, ncclComm_t comm,
                           const std::vector<int>& expert_to_rank, std::unique_ptr<EpImpl>* out) {
  std::unique_ptr<baselines::BulkSyncBaseline> b;
  if (Result r = baselines::BulkSyncBaseline::create(max_shape, config, comm, expert_to_rank, &b); !r.ok()) return r;
  *out = std::make_unique<BulkSyncImpl>(std::move(b));
  return Result::success();
}

}  // namespace onemoe::multi_gpu
