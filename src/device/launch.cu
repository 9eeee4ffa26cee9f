// Dispatch from the runtime (dtype, fp32 math) to the compiled kernel instances, one per .cu file so that
// they compile in parallel.
#include "launch.h"
#include "launch_instances.h"

namespace onemoe::device {

cudaError_t prepare_kernel(KernelVariant v, KernelResources* out) {
  switch (v.dtype) {
    case DType::kBF16: return prepare_bf16(out);
    case DType::kFP16: return prepare_fp16(out);
    case DType::kFP32: return v.exact_fp32 ? prepare_fp32_ffma(out) : prepare_fp32_tf32(out);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_moe_forward(KernelVariant v, const KernelParams& params, int grid_blocks, size_t smem,
                               cudaStream_t stream) {
  switch (v.dtype) {
    case DType::kBF16: return launch_bf16(params, grid_blocks, smem, stream);
    case DType::kFP16: return launch_fp16(params, grid_blocks, smem, stream);
    case DType::kFP32:
      return v.exact_fp32 ? launch_fp32_ffma(params, grid_blocks, smem, stream)
                          : launch_fp32_tf32(params, grid_blocks, smem, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace onemoe::device
