// Defines prepare_ep_<suffix>/launch_ep_<suffix> for one (element type, fp32 math) instance of the
// expert-parallel kernel.
#pragma once

#include "ep_kernel.cuh"
#include "ep_launch.h"

namespace onemoe::device {

template <class Elem, bool kExactFp32>
cudaError_t prepare_ep_instance(KernelResources* out) {
  const size_t smem = gemm_smem_bytes<Elem, kExactFp32>();
  auto kernel = moe_ep_forward_kernel<Elem, kExactFp32>;
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
  if (err != cudaSuccess) return err;
  int blocks = 0;
  err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, kThreadsPerBlock, smem);
  if (err != cudaSuccess) return err;
  *out = KernelResources{smem, blocks};
  return cudaSuccess;
}

template <class Elem, bool kExactFp32>
cudaError_t launch_ep_instance(const EpKernelParams& params, int grid_blocks, size_t smem, cudaStream_t stream) {
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(grid_blocks);
  config.blockDim = dim3(kThreadsPerBlock);
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeCooperative;  // the runtime refuses a grid that cannot be co-resident
  attr[0].val.cooperative = 1;
  config.attrs = attr;
  config.numAttrs = 1;
  return cudaLaunchKernelEx(&config, moe_ep_forward_kernel<Elem, kExactFp32>, params);
}

}  // namespace onemoe::device

#define ONEMOE_DEFINE_EP_INSTANCE(suffix, Elem, kExactFp32)                                                       \
  namespace onemoe::device {                                                                                      \
  cudaError_t prepare_ep_##suffix(KernelResources* out) { return prepare_ep_instance<Elem, kExactFp32>(out); }    \
  cudaError_t launch_ep_##suffix(const EpKernelParams& params, int grid_blocks, size_t smem, cudaStream_t stream) { \
    return launch_ep_instance<Elem, kExactFp32>(params, grid_blocks, smem, stream);                               \
  }                                                                                                               \
  }
