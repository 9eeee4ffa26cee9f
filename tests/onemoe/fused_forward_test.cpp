// GPU correctness of the fused forward against the fp64 CPU reference: fresh random inputs, poisoned
// outputs, every dtype, and bitwise-identical repeats.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gpu_available.h"
#include "harness/moe_problem.h"
#include "onemoe/onemoe.h"

namespace onemoe {
namespace {

struct Case {
  const char* name;
  int64_t T;
  int E, k, H, I;
  bool gated;
  Activation act;
  Scoring scoring;
  bool renormalize;
  float capacity_factor;
  bool all_dtypes;  // false: bf16 and tf32 only (the largest shapes)
};

const Case kCases[] = {
    {"T1_E8_k1_H512_I512", 1, 8, 1, 512, 512, false, Activation::kGELU, Scoring::kSoftmax, true, 0, true},
    {"T3_E8_k2_H512_I768_gated_silu", 3, 8, 2, 512, 768, true, Activation::kSiLU, Scoring::kSoftmax, true, 0, true},
    {"T100_E64_k8_H768_I1408_relu_sigmoid_raw", 100, 64, 8, 768, 1408, false, Activation::kReLU, Scoring::kSigmoid,
     false, 0, true},
    {"T300_E8_k2_H2048_I1408_relu", 300, 8, 2, 2048, 1408, false, Activation::kReLU, Scoring::kSoftmax, true, 0, true},
    {"T4097_E64_k2_H512_I512_capacity1.25", 4097, 64, 2, 512, 512, false, Activation::kGELU, Scoring::kSoftmax, true,
     1.25f, true},
    {"T4097_E256_k2_H1408_I512_gated_silu", 4097, 256, 2, 1408, 512, true, Activation::kSiLU, Scoring::kSoftmax, true,
     0, false},
    {"T100_E256_k8_H2048_I2048", 100, 256, 8, 2048, 2048, false, Activation::kGELU, Scoring::kSoftmax, true, 0, false},
};

struct DTypeCase {
  const char* name;
  DType dtype;
  Fp32Math math;
};
const DTypeCase kDTypes[] = {{"bf16", DType::kBF16, Fp32Math::kTF32},
                             {"fp16", DType::kFP16, Fp32Math::kTF32},
                             {"tf32", DType::kFP32, Fp32Math::kTF32},
                             {"fp32", DType::kFP32, Fp32Math::kFFMA}};

using Param = std::tuple<Case, DTypeCase>;

class FusedForward : public ::testing::TestWithParam<Param> {};

TEST_P(FusedForward, MatchesReferenceAndRepeatsBitwise) {
  REQUIRE_GPU();
  const auto& [c, d] = GetParam();
  if (!c.all_dtypes && d.dtype == DType::kFP16) GTEST_SKIP() << "large shape: covered by bf16";
  if (!c.all_dtypes && d.dtype == DType::kFP32 && d.math == Fp32Math::kFFMA) GTEST_SKIP() << "large shape: tf32 only";
  const MoeShape shape{c.T, c.E, c.k, c.H, c.I};
  MoeConfig config;
  config.dtype = d.dtype;
  config.fp32_math = d.math;
  config.scoring = c.scoring;
  config.renormalize = c.renormalize;
  config.activation = c.act;
  config.gated = c.gated;
  config.capacity_factor = c.capacity_factor;

  std::unique_ptr<harness::DeviceProblem> problem;
  ASSERT_TRUE(harness::DeviceProblem::create(shape, config, /*seed=*/uint64_t(c.T * 131 + c.E), &problem).ok());
  std::unique_ptr<Context> ctx;
  const Result created = Context::create(shape, config, {}, &ctx);
  ASSERT_TRUE(created.ok()) << created.message;

  const RunArgs args = problem->run_args();
  ASSERT_TRUE(problem->poison_outputs(nullptr).ok());
  Result r = ctx->run(args, nullptr);
  ASSERT_TRUE(r.ok()) << r.message;
  r = ctx->synchronize_and_check(nullptr);
  ASSERT_TRUE(r.ok()) << r.message;

  harness::CheckReport report;
  ASSERT_TRUE(problem->check(/*all tokens*/ 0, &report).ok());
  EXPECT_TRUE(report.pass) << report.summary();
  EXPECT_EQ(report.routing_mismatches, 0);

  std::vector<uint8_t> first, second;
  ASSERT_TRUE(problem->download_output_bytes(&first).ok());
  for (int repeat = 0; repeat < 3; ++repeat) {
    ASSERT_TRUE(problem->poison_outputs(nullptr).ok());
    ASSERT_TRUE(ctx->run(args, nullptr).ok());
    r = ctx->synchronize_and_check(nullptr);
    ASSERT_TRUE(r.ok()) << r.message;
    ASSERT_TRUE(problem->download_output_bytes(&second).ok());
    EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size())) << "repeat " << repeat << " differs";
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string name = std::string(std::get<0>(info.param).name) + "_" + std::get<1>(info.param).name;
  for (char& ch : name)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Shapes, FusedForward, ::testing::Combine(::testing::ValuesIn(kCases), ::testing::ValuesIn(kDTypes)),
                         param_name);

// One Context, many T: shapes are runtime values and back-to-back forwards need no reset.
TEST(FusedForwardRuntimeShapes, OneContextServesEveryTokenCount) {
  REQUIRE_GPU();
  MoeConfig config;  // bf16, softmax, gelu
  const MoeShape max_shape{4097, 32, 2, 512, 512};
  std::unique_ptr<Context> ctx;
  ContextOptions options;
  options.max_tokens = 4097;
  ASSERT_TRUE(Context::create(max_shape, config, options, &ctx).ok());
  for (int64_t T : {1, 4097, 3, 128, 129, 1000}) {
    MoeShape shape = max_shape;
    shape.num_tokens = T;
    std::unique_ptr<harness::DeviceProblem> problem;
    ASSERT_TRUE(harness::DeviceProblem::create(shape, config, uint64_t(T), &problem).ok());
    ASSERT_TRUE(problem->poison_outputs(nullptr).ok());
    Result r = ctx->run(problem->run_args(), nullptr);
    ASSERT_TRUE(r.ok()) << r.message;
    r = ctx->synchronize_and_check(nullptr);
    ASSERT_TRUE(r.ok()) << r.message;
    harness::CheckReport report;
    ASSERT_TRUE(problem->check(0, &report).ok());
    EXPECT_TRUE(report.pass) << "T=" << T << ": " << report.summary();
  }
}

}  // namespace
}  // namespace onemoe

namespace onemoe {
namespace {

// The top of the supported token range, with the most experts and the largest k. Dropless, so a strided
// subset of tokens is checked (each token's output depends only on its own routing).
TEST(FusedForwardLargeT, T65536_E256_k8) {
  REQUIRE_GPU();
  const MoeShape shape{65536, 256, 8, 512, 512};
  MoeConfig config;
  std::unique_ptr<harness::DeviceProblem> problem;
  ASSERT_TRUE(harness::DeviceProblem::create(shape, config, 65536, &problem).ok());
  std::unique_ptr<Context> ctx;
  ASSERT_TRUE(Context::create(shape, config, {}, &ctx).ok());
  ASSERT_TRUE(problem->poison_outputs(nullptr).ok());
  ASSERT_TRUE(ctx->run(problem->run_args(), nullptr).ok());
  const Result r = ctx->synchronize_and_check(nullptr);
  ASSERT_TRUE(r.ok()) << r.message;
  harness::CheckReport report;
  ASSERT_TRUE(problem->check(/*max_check_tokens=*/2048, &report).ok());
  EXPECT_TRUE(report.pass) << report.summary();
}

}  // namespace
}  // namespace onemoe
