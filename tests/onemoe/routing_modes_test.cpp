// The routing modes beyond scores-then-top-k, on one GPU, against the fp64 reference's own implementation of each
// (reference/routing_modes.cpp): top-k over the logits with a softmax over the k (gpt-oss), and a routed scaling
// factor on softmax and sigmoid scores (DeepSeek's routed_scaling_factor).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "gpu_available.h"
#include "harness/moe_problem.h"
#include "onemoe/onemoe.h"

namespace onemoe {
namespace {

struct ModeCase {
  const char* name;
  MoeShape shape;
  Routing routing;
  Scoring scoring;
  bool renormalize;
  float scaling;
  DType dtype;
};

const ModeCase kModes[] = {
    {"topk_softmax_T300_E32_k4", {300, 32, 4, 512, 512}, Routing::kTopKSoftmax, Scoring::kSoftmax, true, 1.f,
     DType::kBF16},
    {"topk_softmax_T1_E8_k2_fp16", {1, 8, 2, 512, 512}, Routing::kTopKSoftmax, Scoring::kSoftmax, true, 1.f,
     DType::kFP16},
    {"topk_softmax_scaled_T4097_E64_k2", {4097, 64, 2, 512, 512}, Routing::kTopKSoftmax, Scoring::kSoftmax, true,
     2.f, DType::kBF16},
    {"sigmoid_scaled_T128_E64_k8", {128, 64, 8, 768, 512}, Routing::kTopK, Scoring::kSigmoid, true, 2.5f,
     DType::kBF16},
    {"softmax_raw_scaled_T257_E16_k2_tf32", {257, 16, 2, 512, 512}, Routing::kTopK, Scoring::kSoftmax, false, 0.5f,
     DType::kFP32},
};

class RoutingModes : public ::testing::TestWithParam<ModeCase> {};

TEST_P(RoutingModes, MatchReference) {
  REQUIRE_GPU();
  const ModeCase& c = GetParam();
  MoeConfig config;
  config.dtype = c.dtype;
  config.routing = c.routing;
  config.scoring = c.scoring;
  config.renormalize = c.renormalize;
  config.routed_scaling_factor = c.scaling;
  std::unique_ptr<harness::DeviceProblem> problem;
  ASSERT_TRUE(harness::DeviceProblem::create(c.shape, config, 97, &problem).ok());
  std::unique_ptr<Context> ctx;
  const Result created = Context::create(c.shape, config, {}, &ctx);
  ASSERT_TRUE(created.ok()) << created.message;
  ASSERT_TRUE(problem->poison_outputs(nullptr).ok());
  ASSERT_TRUE(ctx->run(problem->run_args(), nullptr).ok());
  const Result r = ctx->synchronize_and_check(nullptr);
  ASSERT_TRUE(r.ok()) << r.message;
  harness::CheckReport report;
  ASSERT_TRUE(problem->check(0, &report).ok());
  EXPECT_TRUE(report.pass) << report.summary();
  EXPECT_EQ(report.routing_mismatches, 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, RoutingModes, ::testing::ValuesIn(kModes),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace onemoe
