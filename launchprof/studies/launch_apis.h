// The null kernel launched through every launch API CUDA has, each call inside an NVTX range named
// "launch:<api>", so that a trace can be checked API by API: the range's launch call must have its kernels.
#pragma once

#include <cuda_runtime.h>

#include <vector>

namespace launchprof::studies {

__global__ void null_kernel();

struct LaunchApi {
  const char* name;      // also the NVTX range name after "launch:"
  int kernels_per_call;  // a graph launch runs several
  cudaError_t (*launch)(cudaStream_t stream);
};

// Builds what some launches need (a CUDA graph) on first use; the device must be current.
const std::vector<LaunchApi>& launch_apis();

// The <<<>>> launch used by the timing loops.
void launch_null(cudaStream_t stream);

}  // namespace launchprof::studies
