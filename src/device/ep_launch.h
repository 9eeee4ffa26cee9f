// Host-side entry points of the expert-parallel kernel (no CUDA templates: callable from plain C++).
#pragma once

#include <cuda_runtime_api.h>

#include "ep_params.h"
#include "launch.h"

namespace onemoe::device {

cudaError_t prepare_ep_kernel(KernelVariant variant, KernelResources* out);
// One cooperative launch of this rank's part of the forward.
cudaError_t launch_moe_ep_forward(KernelVariant variant, const EpKernelParams& params, int grid_blocks,
                                  size_t dynamic_smem_bytes, cudaStream_t stream);

#define ONEMOE_DECLARE_EP_INSTANCE(suffix)                  \
  cudaError_t prepare_ep_##suffix(KernelResources* out);    \
  cudaError_t launch_ep_##suffix(const EpKernelParams& params, int grid_blocks, size_t smem, cudaStream_t stream);

ONEMOE_DECLARE_EP_INSTANCE(bf16)
ONEMOE_DECLARE_EP_INSTANCE(fp16)
ONEMOE_DECLARE_EP_INSTANCE(fp32_tf32)
ONEMOE_DECLARE_EP_INSTANCE(fp32_ffma)

#undef ONEMOE_DECLARE_EP_INSTANCE

}  // namespace onemoe::device
