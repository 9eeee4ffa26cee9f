#include "host/fault_injection.h"

#include <cuda_runtime_api.h>

#include "host/cuda_check.h"

namespace onemoe::internal {

Result epoch_ahead(int device, const void* d_forward_epoch, uint32_t forwards_ahead, uint32_t* epoch) {
  host::DeviceGuard guard(device);
  uint32_t last = 0;
  ONEMOE_CUDA_TRY(cudaDeviceSynchronize(), "waiting for the context's forwards");
  ONEMOE_CUDA_TRY(cudaMemcpy(&last, d_forward_epoch, sizeof(last), cudaMemcpyDeviceToHost), "reading the forward epoch");
  *epoch = forwards_ahead == 0 ? 0 : last + forwards_ahead;
  return Result::success();
}

}  // namespace onemoe::internal
