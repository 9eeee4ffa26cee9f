// Dispatch from the runtime (dtype, fp32 math) to the compiled expert-parallel kernel instances.
#include "ep_launch.h"

namespace onemoe::device {

cudaError_t prepare_ep_kernel(KernelVariant v, KernelResources* out) {
  switch (v.dtype) {
    case DType::kBF16: return prepare_ep_bf16(out);
    case DType::kFP16: return prepare_ep_fp16(out);
    case DType::kFP32: return v.exact_fp32 ? prepare_ep_fp32_ffma(out) : prepare_ep_fp32_tf32(out);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_moe_ep_forward(KernelVariant v, const EpKernelParams& params, int grid_blocks, size_t smem,
                                  cudaStream_t stream) {
  switch (v.dtype) {
    case DType::kBF16: return launch_ep_bf16(params, grid_blocks, smem, stream);
    case DType::kFP16: return launch_ep_fp16(params, grid_blocks, smem, stream);
    case DType::kFP32:
      return v.exact_fp32 ? launch_ep_fp32_ffma(params, grid_blocks, smem, stream)
                          : launch_ep_fp32_tf32(params, grid_blocks, smem, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace onemoe::device
