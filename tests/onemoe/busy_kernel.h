// A kernel that holds SMs for a bounded time, for tests of what onemoe does when it is not alone on the GPU.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace onemoe::testing {

// `blocks` blocks of `threads` threads that each spin for `milliseconds` and exit.
cudaError_t launch_busy_kernel(int blocks, int threads, double milliseconds, cudaStream_t stream);

}  // namespace onemoe::testing
