// Occupancy query and cooperative launch of a persistent kernel, shared by the one-GPU and the
// expert-parallel instances.
#pragma once

#include <cuda_runtime_api.h>

#include "launch.h"

namespace onemoe::device {

// Raises the kernel's dynamic-smem limit to smem and reports how many blocks fit on one SM.
template <class Params>
cudaError_t prepare_persistent(void (*kernel)(Params), size_t smem, KernelResources* out) {
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
  if (err != cudaSuccess) return err;
  int blocks = 0;
  err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, kThreadsPerBlock, smem);
  if (err != cudaSuccess) return err;
  *out = KernelResources{smem, blocks, kExpertTileN};
  return cudaSuccess;
}

// The runtime refuses a cooperative grid that cannot be co-resident, instead of letting it hang.
template <class Params>
cudaError_t launch_persistent(void (*kernel)(Params), const Params& params, int grid_blocks, size_t smem,
                              cudaStream_t stream) {
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(grid_blocks);
  config.blockDim = dim3(kThreadsPerBlock);
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeCooperative;
  attr[0].val.cooperative = 1;
  config.attrs = attr;
  config.numAttrs = 1;
  return cudaLaunchKernelEx(&config, kernel, params);
}

}  // namespace onemoe::device
