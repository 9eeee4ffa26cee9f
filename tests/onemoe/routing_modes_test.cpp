// The routing modes beyond scores-then-top-k, on one GPU, against the fp64 reference's own implementation of each
// (reference/routing_modes.cpp): top-k over the logits with a softmax over the k (gpt-oss), and a routed scaling
// factor on softmax and sigmoid scores (DeepSeek's routed_scaling_factor).
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <memory>
#include <string>

#include "gpu_available.h"
#include "harness/moe_problem.h"
#include "onemoe/onemoe.h"
#include "reference/compare.h"
#include "reference/moe_reference.h"

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

namespace onemoe {
namespace {

struct GroupedCase {
  const char* name;
  MoeShape shape;
  int groups, topk_groups, group_score_topk;
  Scoring scoring;
  bool renormalize;
  float scaling;
};

const GroupedCase kGrouped[] = {
    // DeepSeek-V3's router: 256 experts in 8 groups, 4 chosen by their top-2 sums, k = 8, sigmoid, 2.5.
    {"deepseek_v3_E256_g8_top4_k8", {300, 256, 8, 1024, 512}, 8, 4, 2, Scoring::kSigmoid, true, 2.5f},
    // DeepSeek-V2's: softmax scores, the group maximum, no renormalization.
    {"deepseek_v2_E64_g8_top3_k6_softmax_max", {257, 64, 6, 512, 512}, 8, 3, 1, Scoring::kSoftmax, false, 1.f},
    {"one_group_T1_E16_k2", {1, 16, 2, 512, 512}, 1, 1, 2, Scoring::kSigmoid, true, 1.f},
};

class GroupedRouting : public ::testing::TestWithParam<GroupedCase> {};

// Against the reference's grouped mode with the same correction bias. The bias is large enough to change choices
// (a third of the experts get +0.1, which moves sigmoid scores of ~0.5 past each other).
TEST_P(GroupedRouting, MatchesReferenceWithCorrectionBias) {
  REQUIRE_GPU();
  const GroupedCase& c = GetParam();
  MoeConfig config;
  config.routing = Routing::kGroupedTopK;
  config.num_groups = c.groups;
  config.topk_groups = c.topk_groups;
  config.group_score_topk = c.group_score_topk;
  config.scoring = c.scoring;
  config.renormalize = c.renormalize;
  config.routed_scaling_factor = c.scaling;
  ASSERT_TRUE(Context::can_implement(c.shape, config).ok()) << Context::can_implement(c.shape, config).message;
  std::unique_ptr<harness::DeviceProblem> problem;
  ASSERT_TRUE(harness::DeviceProblem::create(c.shape, config, 101, &problem).ok());
  const int E = c.shape.num_experts;
  std::vector<float> bias(E);
  std::vector<double> bias64(E);
  for (int e = 0; e < E; ++e) {
    bias[e] = e % 3 == 1 ? 0.1f : (e % 7 == 0 ? -0.05f : 0.f);
    bias64[e] = bias[e];
  }
  float* d_bias = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&d_bias), E * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(d_bias, bias.data(), E * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  std::unique_ptr<Context> ctx;
  ASSERT_TRUE(Context::create(c.shape, config, {}, &ctx).ok());
  RunArgs args = problem->run_args();
  args.score_bias = d_bias;
  ASSERT_TRUE(problem->poison_outputs(nullptr).ok());
  ASSERT_TRUE(ctx->run(args, nullptr).ok());
  const Result r = ctx->synchronize_and_check(nullptr);
  ASSERT_TRUE(r.ok()) << r.message;
  std::vector<float> got;
  std::vector<int32_t> ids;
  ASSERT_TRUE(problem->download_output(&got).ok());
  ASSERT_TRUE(problem->download_topk_ids(&ids).ok());

  const harness::HostInputs& in = problem->inputs();
  const reference::RefConfig rc = harness::reference_config(c.shape, config);
  reference::RefWeights rw{in.w_router.data(), in.w1.data(), nullptr, in.w2.data()};
  rw.score_bias = bias64.data();
  const reference::RefOutput ref = reference::moe_forward(in.x.data(), c.shape.num_tokens, rw, rc);
  ASSERT_TRUE(ref.ok()) << ref.error;
  const std::vector<uint8_t> near_tie = reference::near_tie_tokens(ref, 1e-3);
  const reference::CompareResult cmp =
      reference::compare_rows(got.data(), ref.out.data(), c.shape.num_tokens, c.shape.hidden, near_tie,
                              reference::tolerance_for(harness::check_dtype(config)));
  EXPECT_TRUE(cmp.pass) << cmp.summary;
  EXPECT_EQ(reference::count_routing_mismatches(ids.data(), ref, c.shape.num_tokens, c.shape.top_k, 1e-3), 0);
  int64_t checked = 0;
  for (uint8_t t : near_tie) checked += t == 0;
  EXPECT_GT(checked, c.shape.num_tokens / 2) << "most tokens were near ties: the test checked little";
  cudaFree(d_bias);
}

INSTANTIATE_TEST_SUITE_P(Modes, GroupedRouting, ::testing::ValuesIn(kGrouped),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace onemoe
