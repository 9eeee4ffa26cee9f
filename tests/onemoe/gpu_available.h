// GPU tests call REQUIRE_GPU() first: on a machine without a CUDA GPU they are reported as skipped, never
// as passed.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

namespace onemoe::testing {

inline bool gpu_available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

}  // namespace onemoe::testing

#define REQUIRE_GPU()                                                      \
  do {                                                                     \
    if (!::onemoe::testing::gpu_available()) GTEST_SKIP() << "no CUDA GPU visible: GPU test skipped"; \
  } while (0)
