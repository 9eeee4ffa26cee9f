// Element conversions and activations shared by the kernel stages.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace onemoe::device {

template <class Elem>
__device__ __forceinline__ float to_float(Elem v);
template <>
__device__ __forceinline__ float to_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <>
__device__ __forceinline__ float to_float<__half>(__half v) { return __half2float(v); }

template <class Elem>
__device__ __forceinline__ Elem from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }

// Stores two adjacent elements (n, n+1); the address is aligned to two elements.
template <class Elem>
__device__ __forceinline__ void store_pair(Elem* p, float v0, float v1) {
  p[0] = from_float<Elem>(v0);
  p[1] = from_float<Elem>(v1);
}
template <>
__device__ __forceinline__ void store_pair<__nv_bfloat16>(__nv_bfloat16* p, float v0, float v1) {
  *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(v0, v1);
}
template <>
__device__ __forceinline__ void store_pair<__half>(__half* p, float v0, float v1) {
  *reinterpret_cast<__half2*>(p) = __floats2half2_rn(v0, v1);
}
template <>
__device__ __forceinline__ void store_pair<float>(float* p, float v0, float v1) {
  *reinterpret_cast<float2*>(p) = make_float2(v0, v1);
}

enum ActivationCode : int { kActReLU = 0, kActGELU = 1, kActSiLU = 2 };

// The activation with its kind fixed at compile time. kFast: SiLU with __expf and the approximate divide; its
// IEEE divide and expf made it ~10% slower than GELU on the main row (runs 53-54). Their errors (~1e-7) sit far
// below the rounding of a bf16/fp16 hidden value. GELU keeps erff: an A&S 7.1.26 erf with the hardware
// reciprocal and exponential (two MUFU operations per value) was 12 µs slower on the main row (run 54).
template <int kAct, bool kFast>
__device__ __forceinline__ float activate(float v) {
  if constexpr (kAct == kActReLU) return v > 0.f ? v : (v == v ? 0.f : v);  // keep NaN
  else if constexpr (kAct == kActGELU) return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
  else if constexpr (kFast) return __fdividef(v, 1.f + __expf(-v));
  else return v / (1.f + expf(-v));
}

// Fast activations for 16-bit hidden values only: fp32 (TF32 and exact) keeps the libm functions. (With the fast
// SiLU the TF32 kernel spilled 20 bytes, and that build never ran.)
template <class Elem>
inline constexpr bool kFastActivation = sizeof(Elem) == 2;

// A GEMM tile transform (expert_gemm.cuh) applying activation `act` to the accumulators: one branch per tile,
// then one straight unrolled loop (a branch per element kept each GELU's dependent chain from overlapping the
// next one's).
template <bool kFast>
struct ActivateAccumulators {
  int act;
  template <class ForEach>
  __device__ __forceinline__ void operator()(ForEach&& for_each) const {
    switch (act) {
      case kActReLU:
        for_each([](float v) { return activate<kActReLU, kFast>(v); });
        break;
      case kActGELU:
        for_each([](float v) { return activate<kActGELU, kFast>(v); });
        break;
      default:
        for_each([](float v) { return activate<kActSiLU, kFast>(v); });
        break;
    }
  }
};

}  // namespace onemoe::device
