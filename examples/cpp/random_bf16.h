// Random bf16 tensors on the GPU for the examples (normal values scaled by 1/sqrt(fan_in)).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cmath>
#include <random>
#include <vector>

inline void* random_bf16(size_t count, int fan_in, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(float(fan_in)));
  std::vector<__nv_bfloat16> host(count);
  for (auto& v : host) v = __float2bfloat16(normal(gen));
  void* device = nullptr;
  cudaMalloc(&device, count * sizeof(__nv_bfloat16));
  cudaMemcpy(device, host.data(), count * sizeof(__nv_bfloat16), cudaMemcpyHostToDevice);
  return device;
}
