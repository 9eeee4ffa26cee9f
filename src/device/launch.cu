#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernel.cuh"
#include "launch.h"

namespace onemoe::device {
namespace {

template <class Elem, bool kExactFp32>
cudaError_t prepare(KernelResources* out) {
  const size_t smem = gemm_smem_bytes<Elem, kExactFp32>();
  auto kernel = moe_forward_kernel<Elem, kExactFp32>;
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
  if (err != cudaSuccess) return err;
  int blocks = 0;
  err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, kThreadsPerBlock, smem);
  if (err != cudaSuccess) return err;
  *out = KernelResources{smem, blocks};
  return cudaSuccess;
}

template <class Elem, bool kExactFp32>
cudaError_t launch(const KernelParams& params, int grid_blocks, size_t smem, cudaStream_t stream) {
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
  return cudaLaunchKernelEx(&config, moe_forward_kernel<Elem, kExactFp32>, params);
}

}  // namespace

cudaError_t prepare_kernel(KernelVariant v, KernelResources* out) {
  switch (v.dtype) {
    case DType::kBF16:
      return prepare<__nv_bfloat16, false>(out);
    case DType::kFP16:
      return prepare<__half, false>(out);
    case DType::kFP32:
      return v.exact_fp32 ? prepare<float, true>(out) : prepare<float, false>(out);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_moe_forward(KernelVariant v, const KernelParams& params, int grid_blocks, size_t smem,
                               cudaStream_t stream) {
  switch (v.dtype) {
    case DType::kBF16:
      return launch<__nv_bfloat16, false>(params, grid_blocks, smem, stream);
    case DType::kFP16:
      return launch<__half, false>(params, grid_blocks, smem, stream);
    case DType::kFP32:
      return v.exact_fp32 ? launch<float, true>(params, grid_blocks, smem, stream)
                          : launch<float, false>(params, grid_blocks, smem, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace onemoe::device
