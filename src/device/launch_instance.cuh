// Defines prepare_<suffix>/launch_<suffix> for one (element type, fp32 math) instance of the kernel.
#pragma once

#include "kernel.cuh"
#include "launch_instances.h"
#include "persistent_launch.cuh"

#define ONEMOE_DEFINE_INSTANCE(suffix, Elem, kExactFp32)                                                      \
  namespace onemoe::device {                                                                                  \
  cudaError_t prepare_##suffix(KernelResources* out) {                                                        \
    return prepare_persistent(moe_forward_kernel<Elem, kExactFp32>, gemm_smem_bytes<Elem, kExactFp32>(), out); \
  }                                                                                                           \
  cudaError_t launch_##suffix(const KernelParams& params, int grid_blocks, size_t smem, cudaStream_t stream) { \
    return launch_persistent(moe_forward_kernel<Elem, kExactFp32>, params, grid_blocks, smem, stream);        \
  }                                                                                                           \
  }
