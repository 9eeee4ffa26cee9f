// GPU checks of the KernelCounter and of the launch structure of both baselines (fp32 FFMA, small shape).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "baselines/kernel_counter.h"
#include "baselines/pipeline_baseline.h"

namespace onemoe::baselines {
namespace {

class BaselineGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) GTEST_SKIP() << "no CUDA device";
  }
};

// A device buffer of random floats in [-scale, scale].
struct DeviceFloats {
  float* ptr = nullptr;
  DeviceFloats(size_t n, float scale, std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> host(n);
    for (float& v : host) v = dist(rng);
    EXPECT_EQ(cudaMalloc(&ptr, n * sizeof(float)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(ptr, host.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceFloats() { cudaFree(ptr); }
};

TEST_F(BaselineGpu, CounterCountsOneMemsetAndNoKernel) {
  void* buf = nullptr;
  ASSERT_EQ(cudaMalloc(&buf, 4096), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  KernelCounter counter;
  const Result started = counter.start();
  ASSERT_TRUE(started.ok()) << started.message;
  KernelCounter second;
  EXPECT_FALSE(second.start().ok());  // CUPTI buffers are process-wide: one counter at a time
  ASSERT_EQ(cudaMemsetAsync(buf, 0, 4096, nullptr), cudaSuccess);
  const Result stopped = counter.stop_and_flush();
  ASSERT_TRUE(stopped.ok()) << stopped.message;
  EXPECT_EQ(counter.memsets(), 1);
  EXPECT_EQ(counter.kernels(), 0);
  EXPECT_EQ(counter.memcpys(), 0);
  EXPECT_EQ(counter.dropped_records(), 0);
  cudaFree(buf);
}

TEST_F(BaselineGpu, BothKindsAgreeAndLaunchAtLeastTheirStages) {
  constexpr int kT = 64, kE = 4, kK = 2, kH = 64, kI = 64;
  std::mt19937 rng(7);
  DeviceFloats x(kT * kH, 1.f, rng), wr(kE * kH, 0.5f, rng), w1(kE * kI * kH, 0.2f, rng), w2(kE * kH * kI, 0.2f, rng);
  float* out = nullptr;
  int32_t* ids = nullptr;
  ASSERT_EQ(cudaMalloc(&out, kT * kH * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&ids, kT * kK * sizeof(int32_t)), cudaSuccess);
  MoeConfig config;
  config.dtype = DType::kFP32;
  config.fp32_math = Fp32Math::kFFMA;
  RunArgs args;
  args.num_tokens = kT;
  args.x = x.ptr;
  args.w_router = wr.ptr;
  args.w1 = w1.ptr;
  args.w2 = w2.ptr;
  args.out = out;
  args.topk_ids = ids;

  std::vector<std::vector<float>> outs;
  for (BaselineKind kind : {BaselineKind::kPerExpertLoop, BaselineKind::kGroupedGemm}) {
    std::unique_ptr<PipelineBaseline> base;
    Result r = PipelineBaseline::create(kind, MoeShape{kT, kE, kK, kH, kI}, config, &base);
    ASSERT_TRUE(r.ok()) << r.message;
    r = base->run(args, nullptr);  // warm-up: cuBLAS picks its kernels
    ASSERT_TRUE(r.ok()) << r.message;
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    KernelCounter counter;
    r = counter.start();
    ASSERT_TRUE(r.ok()) << r.message;
    r = base->run(args, nullptr);
    ASSERT_TRUE(r.ok()) << r.message;
    r = counter.stop_and_flush();
    ASSERT_TRUE(r.ok()) << r.message;

    std::vector<int32_t> host_ids(kT * kK);
    ASSERT_EQ(cudaMemcpy(host_ids.data(), ids, host_ids.size() * sizeof(int32_t), cudaMemcpyDeviceToHost), cudaSuccess);
    const int64_t active = static_cast<int64_t>(std::set<int32_t>(host_ids.begin(), host_ids.end()).size());
    // Own kernels: router, histogram, offsets, scatter, gather, combine; then per stage at least one cuBLAS kernel.
    const int64_t minimum = kind == BaselineKind::kPerExpertLoop ? 6 + 1 + active * 3  // gate; GEMM1, act, GEMM2
                                                                 : 7 + 1 + 3;          // + pointers; gate, G1, act, G2
    EXPECT_GE(counter.kernels(), minimum) << baseline_name(kind);
    EXPECT_GE(counter.memcpys(), 1) << baseline_name(kind);  // the expert counts to the host
    std::printf("%s: kernels=%lld memcpys=%lld memsets=%lld (active experts %lld)\n", baseline_name(kind),
                static_cast<long long>(counter.kernels()), static_cast<long long>(counter.memcpys()),
                static_cast<long long>(counter.memsets()), static_cast<long long>(active));
    outs.emplace_back(kT * kH);
    ASSERT_EQ(cudaMemcpy(outs.back().data(), out, kT * kH * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  }
  double max_diff = 0;
  for (int i = 0; i < kT * kH; ++i)
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(outs[0][i] - outs[1][i])));
  EXPECT_LT(max_diff, 1e-4);
  cudaFree(out);
  cudaFree(ids);
}

}  // namespace
}  // namespace onemoe::baselines
