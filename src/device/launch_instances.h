// One prepare/launch pair per compiled kernel instance (defined in instance_*.cu).
#pragma once

#include "launch.h"

namespace onemoe::device {

#define ONEMOE_DECLARE_INSTANCE(suffix)                                  \
  cudaError_t prepare_##suffix(KernelResources* out);                    \
  cudaError_t launch_##suffix(const KernelParams& params, int grid_blocks, size_t smem, cudaStream_t stream);

ONEMOE_DECLARE_INSTANCE(bf16)
ONEMOE_DECLARE_INSTANCE(fp16)
ONEMOE_DECLARE_INSTANCE(fp32_tf32)
ONEMOE_DECLARE_INSTANCE(fp32_ffma)

#undef ONEMOE_DECLARE_INSTANCE

}  // namespace onemoe::device
