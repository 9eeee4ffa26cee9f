// Stand-in while the onemoe library has no DistributedContext (src/host/distributed_context.cpp): the bench
// builds and reports the onemoe rows as not available instead of failing to link.
#include "multi_gpu/ep_impl.h"

namespace onemoe::multi_gpu {

bool onemoe_distributed_available() { return false; }

Result onemoe_can_implement(const MoeShape&, const MoeConfig&, int, const std::vector<int>&) {
  return Result::error(Status::kErrorNotSupported, "this onemoe library has no DistributedContext yet");
}

Result make_onemoe_impl(const MoeShape& s, const MoeConfig& c, ncclComm_t, int, const std::vector<int>& p,
                        std::unique_ptr<EpImpl>*) {
  return onemoe_can_implement(s, c, 0, p);
}

}  // namespace onemoe::multi_gpu
