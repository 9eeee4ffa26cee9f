// Elementwise kernels of the baseline pipelines: row gather, activation, and the fp32 combine.
#include <cuda_runtime.h>

#include <algorithm>

#include "baselines/baseline_kernels.h"
#include "baselines/vec_io.cuh"

namespace onemoe::baselines {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 8192;  // grid-stride loops cover the rest

unsigned grid_for(int64_t work_items) {
  return static_cast<unsigned>(std::clamp<int64_t>((work_items + kThreads - 1) / kThreads, 1, kMaxBlocks));
}

template <class T>
__global__ void gather_kernel(const T* __restrict__ x, const int32_t* __restrict__ token_of_row,
                              const int32_t* __restrict__ total_rows, int64_t max_rows, int hidden,
                              T* __restrict__ xp) {
  const int64_t vecs_per_row = hidden / Vec16<T>::kN;
  const int64_t num_vecs = min(static_cast<int64_t>(*total_rows), max_rows) * vecs_per_row;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < num_vecs;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / vecs_per_row;
    const int64_t col = (i % vecs_per_row) * Vec16<T>::kN;
    store_vec(xp + row * hidden + col, load_vec(x + static_cast<int64_t>(token_of_row[row]) * hidden + col));
  }
}

__device__ __forceinline__ float activate(Activation act, float v) {
  switch (act) {
    case Activation::kReLU:
      return fmaxf(v, 0.f);
    case Activation::kGELU:
      return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    case Activation::kSiLU:
      return v / (1.f + expf(-v));
  }
  return v;
}

template <class T>
__global__ void activation_kernel(Activation act, const T* __restrict__ g, const T* __restrict__ u, T* __restrict__ h,
                                  int64_t num_vecs) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < num_vecs;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t e0 = i * Vec16<T>::kN;
    const Vec16<T> gv = load_vec(g + e0);
    Vec16<T> hv;
    if (u != nullptr) {
      const Vec16<T> uv = load_vec(u + e0);
#pragma unroll
      for (int j = 0; j < Vec16<T>::kN; ++j)
        hv.v[j] = from_float<T>(activate(act, to_float(gv.v[j])) * to_float(uv.v[j]));
    } else {
#pragma unroll
      for (int j = 0; j < Vec16<T>::kN; ++j) hv.v[j] = from_float<T>(activate(act, to_float(gv.v[j])));
    }
    store_vec(h + e0, hv);
  }
}

// One thread per 16-byte column chunk of one token; the k slots are visited in ascending expert order.
template <class T>
__global__ void combine_kernel(const T* __restrict__ y, const int32_t* __restrict__ row_of_slot,
                               const float* __restrict__ weights, int64_t num_tokens, int top_k, int hidden,
                               T* __restrict__ out) {
  constexpr int kN = Vec16<T>::kN;
  const int64_t vecs_per_row = hidden / kN;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < num_tokens * vecs_per_row;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t token = i / vecs_per_row;
    const int64_t col = (i % vecs_per_row) * kN;
    float acc[kN];
#pragma unroll
    for (int j = 0; j < kN; ++j) acc[j] = 0.f;
    for (int s = 0; s < top_k; ++s) {
      const int32_t row = row_of_slot[token * top_k + s];
      if (row < 0) continue;  // dropped at capacity: contributes zero
      const float w = weights[token * top_k + s];
      const Vec16<T> yv = load_vec(y + static_cast<int64_t>(row) * hidden + col);
#pragma unroll
      for (int j = 0; j < kN; ++j) acc[j] = fmaf(w, to_float(yv.v[j]), acc[j]);
    }
    Vec16<T> ov;
#pragma unroll
    for (int j = 0; j < kN; ++j) ov.v[j] = from_float<T>(acc[j]);
    store_vec(out + token * hidden + col, ov);
  }
}

template <class T>
cudaError_t gather_typed(const void* x, const int32_t* token_of_row, const int32_t* total_rows, int64_t max_rows,
                         int hidden, void* xp, cudaStream_t stream) {
  const int64_t work = max_rows * (hidden / Vec16<T>::kN);
  gather_kernel<T><<<grid_for(work), kThreads, 0, stream>>>(static_cast<const T*>(x), token_of_row, total_rows,
                                                            max_rows, hidden, static_cast<T*>(xp));
  return cudaGetLastError();
}

template <class T>
cudaError_t activation_typed(Activation act, const void* g, const void* u, void* h, int64_t num_elements,
                             cudaStream_t stream) {
  const int64_t num_vecs = num_elements / Vec16<T>::kN;
  activation_kernel<T><<<grid_for(num_vecs), kThreads, 0, stream>>>(
      act, static_cast<const T*>(g), static_cast<const T*>(u), static_cast<T*>(h), num_vecs);
  return cudaGetLastError();
}

template <class T>
cudaError_t combine_typed(const void* y, const int32_t* row_of_slot, const float* weights, int64_t num_tokens,
                          int top_k, int hidden, void* out, cudaStream_t stream) {
  const int64_t work = num_tokens * (hidden / Vec16<T>::kN);
  combine_kernel<T><<<grid_for(work), kThreads, 0, stream>>>(static_cast<const T*>(y), row_of_slot, weights, num_tokens,
                                                             top_k, hidden, static_cast<T*>(out));
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_gather(DType dtype, const void* x, const int32_t* token_of_row, const int32_t* total_rows,
                          int64_t max_rows, int hidden, void* xp, cudaStream_t stream) {
  switch (dtype) {
    case DType::kBF16:
      return gather_typed<__nv_bfloat16>(x, token_of_row, total_rows, max_rows, hidden, xp, stream);
    case DType::kFP16:
      return gather_typed<__half>(x, token_of_row, total_rows, max_rows, hidden, xp, stream);
    case DType::kFP32:
      return gather_typed<float>(x, token_of_row, total_rows, max_rows, hidden, xp, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_activation(DType dtype, Activation act, const void* g, const void* u, void* h, int64_t num_elements,
                              cudaStream_t stream) {
  switch (dtype) {
    case DType::kBF16:
      return activation_typed<__nv_bfloat16>(act, g, u, h, num_elements, stream);
    case DType::kFP16:
      return activation_typed<__half>(act, g, u, h, num_elements, stream);
    case DType::kFP32:
      return activation_typed<float>(act, g, u, h, num_elements, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_combine(DType dtype, const void* y, const int32_t* row_of_slot, const float* weights,
                           int64_t num_tokens, int top_k, int hidden, void* out, cudaStream_t stream) {
  switch (dtype) {
    case DType::kBF16:
      return combine_typed<__nv_bfloat16>(y, row_of_slot, weights, num_tokens, top_k, hidden, out, stream);
    case DType::kFP16:
      return combine_typed<__half>(y, row_of_slot, weights, num_tokens, top_k, hidden, out, stream);
    case DType::kFP32:
      return combine_typed<float>(y, row_of_slot, weights, num_tokens, top_k, hidden, out, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace onemoe::baselines
