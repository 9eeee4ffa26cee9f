// Host-side entry points of the fused kernel (no CUDA templates: callable from plain C++).
#pragma once

#include <cuda_runtime_api.h>

#include "kernel_params.h"
#include "onemoe/onemoe.h"

namespace onemoe::device {

struct KernelVariant {
  DType dtype;
  bool exact_fp32;  // fp32 via FFMA instead of TF32
};

struct KernelResources {
  size_t dynamic_smem_bytes;
  int max_blocks_per_sm;  // co-resident blocks per SM at that smem (0: cannot run)
  int expert_tile_n;      // kExpertTileN as the kernel was compiled: the host plan must use the same
};

// Raises the kernel's dynamic-smem limit and reports its occupancy.
cudaError_t prepare_kernel(KernelVariant variant, KernelResources* out);
// One cooperative launch of the whole forward.
cudaError_t launch_moe_forward(KernelVariant variant, const KernelParams& params, int grid_blocks,
                               size_t dynamic_smem_bytes, cudaStream_t stream);

}  // namespace onemoe::device
