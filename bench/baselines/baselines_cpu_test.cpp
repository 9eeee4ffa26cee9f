// Host-only checks of the baselines: argument checks, capacity, names, and clean failures without a GPU.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "baselines/baseline_state.h"
#include "baselines/kernel_counter.h"
#include "baselines/pipeline_baseline.h"

namespace onemoe::baselines {
namespace {

bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

MoeShape small_shape() { return MoeShape{37, 8, 2, 128, 128}; }

TEST(BaselineNames, MatchBenchImplNames) {
  EXPECT_STREQ(baseline_name(BaselineKind::kPerExpertLoop), "baseline-torch-loop");
  EXPECT_STREQ(baseline_name(BaselineKind::kGroupedGemm), "baseline-grouped-gemm");
}

TEST(BaselineCanImplement, AcceptsEveryDtypeForBothKinds) {
  for (BaselineKind kind : {BaselineKind::kPerExpertLoop, BaselineKind::kGroupedGemm}) {
    for (DType dtype : {DType::kBF16, DType::kFP16, DType::kFP32}) {
      MoeConfig config;
      config.dtype = dtype;
      const Result r = PipelineBaseline::can_implement(kind, small_shape(), config);
      EXPECT_TRUE(r.ok()) << r.message;
    }
  }
}

TEST(BaselineCanImplement, RejectsWithTheRightStatus) {
  const MoeConfig bf16;
  MoeShape s = small_shape();
  s.top_k = 9;  // > E
  EXPECT_EQ(PipelineBaseline::can_implement(BaselineKind::kPerExpertLoop, s, bf16).status,
            Status::kErrorInvalidArgument);
  s = small_shape();
  s.num_experts = 64;
  s.top_k = 33;  // > one warp of picks
  EXPECT_EQ(PipelineBaseline::can_implement(BaselineKind::kPerExpertLoop, s, bf16).status, Status::kErrorNotSupported);
  s = small_shape();
  s.hidden = 100;  // 200 bytes per bf16 row: not a multiple of 16
  EXPECT_EQ(PipelineBaseline::can_implement(BaselineKind::kGroupedGemm, s, bf16).status, Status::kErrorNotSupported);
  MoeConfig fp32;
  fp32.dtype = DType::kFP32;
  s.hidden = 100;  // 400 bytes per fp32 row: fine
  EXPECT_TRUE(PipelineBaseline::can_implement(BaselineKind::kGroupedGemm, s, fp32).ok());
  s = small_shape();
  s.num_experts = 4096;
  EXPECT_EQ(PipelineBaseline::can_implement(BaselineKind::kPerExpertLoop, s, bf16).status, Status::kErrorNotSupported);
  MoeConfig nan_cf;
  nan_cf.capacity_factor = std::nanf("");
  EXPECT_EQ(PipelineBaseline::can_implement(BaselineKind::kPerExpertLoop, small_shape(), nan_cf).status,
            Status::kErrorInvalidArgument);
}

TEST(BaselineCapacity, CeilOfFactorTimesSlotsPerExpert) {
  MoeConfig c;
  c.capacity_factor = 0.0f;
  EXPECT_EQ(expert_capacity(c, 37, 2, 8), -1);
  c.capacity_factor = -1.0f;
  EXPECT_EQ(expert_capacity(c, 37, 2, 8), -1);
  c.capacity_factor = 1.0f;
  EXPECT_EQ(expert_capacity(c, 37, 2, 8), 10);  // 74 / 8 = 9.25
  EXPECT_EQ(expert_capacity(c, 32, 2, 8), 8);   // exact: no round-up
  c.capacity_factor = 1.25f;
  EXPECT_EQ(expert_capacity(c, 37, 2, 8), 12);  // 11.5625
}

TEST(KernelCounterNoGpu, StartFailsCleanly) {
  if (have_gpu()) GTEST_SKIP() << "a GPU is present; baselines_gpu_test covers the counter";
  KernelCounter counter;
  const Result r = counter.start();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status, Status::kErrorCuda);
  EXPECT_NE(r.message.find("no CUDA device"), std::string::npos) << r.message;
  EXPECT_FALSE(counter.stop_and_flush().ok());  // never started
  EXPECT_EQ(counter.kernels(), 0);
}

TEST(PipelineBaselineNoGpu, CreateFailsCleanly) {
  if (have_gpu()) GTEST_SKIP() << "a GPU is present";
  std::unique_ptr<PipelineBaseline> base;
  const Result r = PipelineBaseline::create(BaselineKind::kGroupedGemm, small_shape(), MoeConfig{}, &base);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.message.empty());
  EXPECT_EQ(base, nullptr);
}

}  // namespace
}  // namespace onemoe::baselines
