#include "host/sm_budget.h"

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <algorithm>

#include "host/driver_entry.h"

namespace onemoe::host {

int current_context_sms(int device_sms) {
  using GetCurrentFn = CUresult (*)(CUcontext*);
  using GetResourceFn = CUresult (*)(CUcontext, CUdevResource*, CUdevResourceType);
  static const GetCurrentFn get_current = driver_entry_point<GetCurrentFn>("cuCtxGetCurrent");
  static const GetResourceFn get_resource = driver_entry_point<GetResourceFn>("cuCtxGetDevResource");
  if (get_current == nullptr || get_resource == nullptr) return device_sms;
  cudaFree(nullptr);  // makes the runtime's context current if the caller has not touched the device yet
  CUcontext ctx = nullptr;
  if (get_current(&ctx) != CUDA_SUCCESS || ctx == nullptr) return device_sms;
  CUdevResource sm{};
  if (get_resource(ctx, &sm, CU_DEV_RESOURCE_TYPE_SM) != CUDA_SUCCESS || sm.sm.smCount == 0) return device_sms;
  return std::min(device_sms, int(sm.sm.smCount));
}

}  // namespace onemoe::host
