// EpImpl over onemoe::DistributedContext (built when the library has the distributed part).
#include <cuda_runtime_api.h>

#include "multi_gpu/ep_impl.h"
#include "onemoe/distributed.h"

namespace onemoe::multi_gpu {
namespace {

class OnemoeImpl final : public EpImpl {
 public:
  explicit OnemoeImpl(std::unique_ptr<DistributedContext> ctx) : ctx_(std::move(ctx)) {}
  Result run(const RunArgs& args, cudaStream_t stream) override { return ctx_->run(args, stream); }
  Result finish(cudaStream_t stream, Traffic* traffic) override {
    TrafficStats t;
    Result r = ctx_->synchronize_and_check(stream, &t);
    *traffic = Traffic{t.rows_to_peers, t.rows_returned, t.rows_local, t.payload_bytes, t.control_bytes};
    return r;
  }
  Result task_timeline(std::vector<TaskSpan>* out) const override { return ctx_->task_timeline(out); }

 private:
  std::unique_ptr<DistributedContext> ctx_;
};

}  // namespace

bool onemoe_distributed_available() { return true; }

Result onemoe_can_implement(const MoeShape& max_shape, const MoeConfig& config, int world_size,
                            const std::vector<int>& expert_to_rank) {
  return DistributedContext::can_implement(max_shape, config, world_size, ExpertPlacement{expert_to_rank});
}

Result make_onemoe_impl(const MoeShape& max_shape, const MoeConfig& config, ncclComm_t comm, int device,
                        const std::vector<int>& expert_to_rank, double wait_timeout_ms, bool record_timeline,
                        std::unique_ptr<EpImpl>* out) {
  DistributedOptions options;
  options.context.device = device;
  options.context.wait_timeout_ms = wait_timeout_ms;
  options.context.max_tokens = max_shape.num_tokens;
  options.context.record_task_timeline = record_timeline;
  options.placement.expert_to_rank = expert_to_rank;
  std::unique_ptr<DistributedContext> ctx;
  if (Result r = DistributedContext::create(max_shape, config, comm, options, &ctx); !r.ok()) return r;
  *out = std::make_unique<OnemoeImpl>(std::move(ctx));
  return Result::success();
}

}  // namespace onemoe::multi_gpu
