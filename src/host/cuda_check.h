// CUDA error to Result, and a scoped current-device switch: shared by the contexts.
#pragma once

#include <cuda_runtime_api.h>

#include <sstream>

#include "onemoe/onemoe.h"

namespace onemoe::host {

inline Result cuda_error(cudaError_t err, const char* what) {
  std::ostringstream os;
  os << what << ": " << cudaGetErrorName(err) << " (" << cudaGetErrorString(err) << ")";
  return Result::error(Status::kErrorCuda, os.str());
}

#define ONEMOE_CUDA_TRY(call, what)                                         \
  do {                                                                      \
    cudaError_t err_ = (call);                                              \
    if (err_ != cudaSuccess) return ::onemoe::host::cuda_error(err_, what); \
  } while (0)

// Makes `device` current for the scope and restores the caller's device after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    cudaGetDevice(&previous_);
    if (previous_ != device) cudaSetDevice(device);
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace onemoe::host
