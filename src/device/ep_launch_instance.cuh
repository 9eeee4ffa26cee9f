// Defines prepare_ep_<suffix>/launch_ep_<suffix> for one (element type, fp32 math) instance of the
// expert-parallel kernel.
#pragma once

#include "ep_kernel.cuh"
#include "ep_launch.h"
#include "persistent_launch.cuh"

#define ONEMOE_DEFINE_EP_INSTANCE(suffix, Elem, kExactFp32)                                                        \
  namespace onemoe::device {                                                                                       \
  cudaError_t prepare_ep_##suffix(KernelResources* out) {                                                          \
    return prepare_persistent(moe_ep_forward_kernel<Elem, kExactFp32>, gemm_smem_bytes<Elem, kExactFp32>(), out);   \
  }                                                                                                                \
  cudaError_t launch_ep_##suffix(const EpKernelParams& params, int grid_blocks, size_t smem, cudaStream_t stream) { \
    return launch_persistent(moe_ep_forward_kernel<Elem, kExactFp32>, params, grid_blocks, smem, stream);          \
  }                                                                                                                \
  }
