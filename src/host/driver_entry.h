// A CUDA driver function reached through the runtime (cudaGetDriverEntryPoint), so that nothing links libcuda:
// a binary that links it does not even start on a machine without the driver (CI lists the GPU tests there).
#pragma once

#include <cuda_runtime_api.h>

namespace onemoe::host {

// The driver's `name` as Fn, or null when this driver does not have it.
template <class Fn>
Fn driver_entry_point(const char* name) {
  void* ptr = nullptr;
  cudaDriverEntryPointQueryResult status;
  if (cudaGetDriverEntryPoint(name, &ptr, cudaEnableDefault, &status) != cudaSuccess ||
      status != cudaDriverEntryPointSuccess)
    return nullptr;
  return reinterpret_cast<Fn>(ptr);
}

}  // namespace onemoe::host
