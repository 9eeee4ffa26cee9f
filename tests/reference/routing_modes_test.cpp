// The routing modes by hand: top-k then softmax (Mixtral, gpt-oss's router bias), DeepSeek's grouped top-k with its
// correction bias, the routed scaling factor, and properties on random inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tests/reference/small_moe.h"

namespace onemoe::reference {
namespace {

using testing::random_moe;
using testing::random_x;
using testing::SmallMoe;

// E=4, k=2, H=1, x=[1]: logits = w_router = [1, 3, 2, 0]. The best two logits are experts 1 (3) and 2 (2);
// softmax over them: 1/(1+e^-1) = 0.7310585786300049 and 1/(1+e) = 0.2689414213699951.
// The margin is in logits: 2 - 1 = 1.
TEST(RoutingModes, TopKThenSoftmaxByHand) {
  SmallMoe moe(4, 2, 1, 1);
  moe.config.routing = RefRouting::kTopKSoftmax;
  const double logits[] = {1.0, 3.0, 2.0, 0.0};
  for (int e = 0; e < 4; ++e) moe.router_at(e, 0) = logits[e];
  RefOutput o = moe.forward({1.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids, (std::vector<int32_t>{1, 2}));
  EXPECT_NEAR(o.topk_weights[0], 0.7310585786300049, 1e-15);
  EXPECT_NEAR(o.topk_weights[1], 0.2689414213699951, 1e-15);
  EXPECT_DOUBLE_EQ(o.topk_margin[0], 1.0);
}

// gpt-oss's router has a bias on the logits. E=3, k=2, w_router = 0, b_router = [0, 2, 1]: logits [0, 2, 1],
// so experts {1, 2} with softmax([2, 1]) = [0.7310585786300049, 0.2689414213699951].
TEST(RoutingModes, RouterBiasIsAddedToTheLogits) {
  SmallMoe moe(3, 2, 1, 1);
  moe.config.routing = RefRouting::kTopKSoftmax;
  moe.b_router = {0.0, 2.0, 1.0};
  RefOutput o = moe.forward({1.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids, (std::vector<int32_t>{1, 2}));
  EXPECT_NEAR(o.topk_weights[0], 0.7310585786300049, 1e-15);
  EXPECT_NEAR(o.topk_weights[1], 0.2689414213699951, 1e-15);
}

// Softmax over the top-k logits is, in exact arithmetic, softmax over all E then top-k then renormalize: the two
// modes are written separately, so agreeing on random inputs checks both.
TEST(RoutingModes, TopKThenSoftmaxAgreesWithRenormalizedSoftmaxTopK) {
  SmallMoe moe = random_moe(16, 4, 8, 4, false, 41);
  const std::vector<double> x = random_x(100, 8, 42);
  moe.config.routing = RefRouting::kTopKSoftmax;
  RefOutput mixtral = moe.forward(x);
  moe.config.routing = RefRouting::kTopK;
  moe.config.renormalize = true;
  RefOutput qwen = moe.forward(x);
  ASSERT_TRUE(mixtral.ok() && qwen.ok());
  EXPECT_EQ(mixtral.topk_ids, qwen.topk_ids);
  for (size_t i = 0; i < qwen.topk_weights.size(); ++i) {
    EXPECT_NEAR(mixtral.topk_weights[i], qwen.topk_weights[i], 1e-14) << i;
  }
  for (size_t i = 0; i < qwen.out.size(); ++i) EXPECT_NEAR(mixtral.out[i], qwen.out[i], 1e-13) << i;
}

// kTopK, sigmoid, no renormalize, scaling 2.5. E=2, k=1, x = [1], logits [ln 3, 0]: score 3/4 -> weight 1.875.
TEST(RoutingModes, RoutedScalingFactorMultipliesTheWeights) {
  SmallMoe moe(2, 1, 1, 1);
  moe.config.scoring = RefScoring::kSigmoid;
  moe.config.renormalize = false;
  moe.config.routed_scaling_factor = 2.5;
  moe.router_at(0, 0) = std::log(3.0);
  moe.set_scaled_identity_expert(0, 1.0);
  RefOutput o = moe.forward({1.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids[0], 0);
  EXPECT_NEAR(o.topk_weights[0], 1.875, 1e-15);
  EXPECT_NEAR(o.out[0], 1.875, 1e-15);  // expert 0 is relu: y(1) = 1
}

// The grouped fixture: E=8 in 4 groups of 2, H=1, x=[1], sigmoid scores p set through logit(p) = ln(p/(1-p)):
//   expert   0    1  |  2     3     |  4     5    |  6    7
//   p       0.8  0.1 |  0.5   0.375 |  0.3   0.3  |  0.2  0.2
//   bias    0.1  0   |  0.125 0.2   |  0.25  0.25 |  0    0
//   p+bias  0.9  0.1 |  0.625 0.575 |  0.55  0.55 |  0.2  0.2
// Group scores, the sum of the top 2 biased: [1.0, 1.2, 1.1, 0.4]; by the group maximum instead: [0.9, 0.625, 0.55,
// 0.2]. Experts 4 and 5 are identical, so their tie is exact.
SmallMoe grouped_fixture(int top_k) {
  SmallMoe moe(8, top_k, 1, 1);
  const double p[] = {0.8, 0.1, 0.5, 0.375, 0.3, 0.3, 0.2, 0.2};
  for (int e = 0; e < 8; ++e) moe.router_at(e, 0) = std::log(p[e] / (1.0 - p[e]));
  moe.score_bias = {0.1, 0.0, 0.125, 0.2, 0.25, 0.25, 0.0, 0.0};
  moe.config.routing = RefRouting::kGroupedTopK;
  moe.config.scoring = RefScoring::kSigmoid;
  moe.config.num_groups = 4;
  moe.config.topk_groups = 2;
  return moe;
}

// DeepSeek-V3: groups 1 and 2 win (1.2, 1.1) although expert 0 has the best score of all; among experts 2..5 the
// best three biased are 2, 3 and 4 (4 beats its equal 5 by the lower id). Weights are the UNbiased scores
// [0.5, 0.375, 0.3] / 1.175 · 2.5. Margin: the expert tie, 0.
TEST(RoutingModes, GroupedTopKPicksGroupsBySumOfTopTwo) {
  SmallMoe moe = grouped_fixture(3);
  moe.config.routed_scaling_factor = 2.5;
  RefOutput o = moe.forward({1.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids, (std::vector<int32_t>{2, 3, 4}));
  EXPECT_NEAR(o.topk_weights[0], 1.0638297872340425, 1e-14);
  EXPECT_NEAR(o.topk_weights[1], 0.7978723404255318, 1e-14);
  EXPECT_NEAR(o.topk_weights[2], 0.6382978723404255, 1e-14);
  EXPECT_EQ(o.topk_margin[0], 0.0);
}

// k=2: experts 2 and 3, weights [0.5, 0.375] / 0.875 · 2.5. Margin: min(group gap 1.1 - 1.0, expert gap
// 0.575 - 0.55) = 0.025.
TEST(RoutingModes, GroupedTopKMarginIsTheSmallerGap) {
  SmallMoe moe = grouped_fixture(2);
  moe.config.routed_scaling_factor = 2.5;
  RefOutput o = moe.forward({1.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids, (std::vector<int32_t>{2, 3}));
  EXPECT_NEAR(o.topk_weights[0], 1.4285714285714284, 1e-14);
  EXPECT_NEAR(o.topk_weights[1], 1.0714285714285714, 1e-14);
  EXPECT_NEAR(o.topk_margin[0], 0.025, 1e-14);
}

// DeepSeek-V2's rule (group score = its maximum): groups 0 and 1 win (0.9, 0.625), then experts 0, 2, 3.
// No renormalize, no scaling: weights are the raw scores [0.8, 0.5, 0.375].
// Margin: min(group gap 0.625 - 0.55, expert gap 0.575 - 0.1) = 0.075.
TEST(RoutingModes, GroupedTopKByGroupMaximum) {
  SmallMoe moe = grouped_fixture(3);
  moe.config.group_score_topk = 1;
  moe.config.renormalize = false;
  RefOutput o = moe.forward({1.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids, (std::vector<int32_t>{0, 2, 3}));
  EXPECT_NEAR(o.topk_weights[0], 0.8, 1e-15);
  EXPECT_NEAR(o.topk_weights[1], 0.5, 1e-15);
  EXPECT_NEAR(o.topk_weights[2], 0.375, 1e-15);
  EXPECT_NEAR(o.topk_margin[0], 0.075, 1e-14);
}

// Without the correction bias the group sums are [0.9, 0.875, 0.6, 0.4]: groups 0 and 1, experts 0, 2, 3.
TEST(RoutingModes, GroupedTopKWithoutBiasUsesTheScores) {
  SmallMoe moe = grouped_fixture(3);
  moe.score_bias.clear();
  moe.config.renormalize = false;
  RefOutput o = moe.forward({1.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids, (std::vector<int32_t>{0, 2, 3}));
}

// On random inputs, recomputing the rule here: the chosen experts lie in the topk_groups best groups (by the sum of
// the top two biased scores), no candidate left out beats a chosen one, and the weights are the unbiased sigmoid
// scores renormalized to routed_scaling_factor.
TEST(RoutingModes, GroupedTopKStaysInsideTheChosenGroups) {
  constexpr int kE = 32, kGroups = 8, kTopGroups = 3, kK = 6, kH = 8, kT = 200, kGroupSize = kE / kGroups;
  SmallMoe moe = random_moe(kE, kK, kH, 4, false, 51);
  moe.score_bias.resize(kE);
  fill_uniform(moe.score_bias, 52, -0.3, 0.3);
  moe.config.routing = RefRouting::kGroupedTopK;
  moe.config.scoring = RefScoring::kSigmoid;
  moe.config.num_groups = kGroups;
  moe.config.topk_groups = kTopGroups;
  moe.config.routed_scaling_factor = 2.5;
  const std::vector<double> x = random_x(kT, kH, 53);
  RefOutput o = moe.forward(x);
  ASSERT_TRUE(o.ok()) << o.error;
  int64_t outside_best_expert = 0;  // tokens whose best-scoring expert lies outside the chosen groups
  for (int t = 0; t < kT; ++t) {
    double score[kE], biased[kE];
    for (int e = 0; e < kE; ++e) {
      double logit = 0.0;
      for (int h = 0; h < kH; ++h) logit += x[t * kH + h] * moe.router_at(e, h);
      score[e] = 1.0 / (1.0 + std::exp(-logit));
      biased[e] = score[e] + moe.score_bias[e];
    }
    std::vector<std::pair<double, int>> groups;
    for (int g = 0; g < kGroups; ++g) {
      std::vector<double> in(biased + g * kGroupSize, biased + (g + 1) * kGroupSize);
      std::sort(in.rbegin(), in.rend());
      groups.push_back({in[0] + in[1], g});
    }
    std::sort(groups.rbegin(), groups.rend());
    std::vector<bool> group_chosen(kGroups, false), chosen(kE, false);
    for (int j = 0; j < kTopGroups; ++j) group_chosen[groups[j].second] = true;
    double sum = 0.0, worst_chosen = INFINITY, best_left = -INFINITY;
    for (int s = 0; s < kK; ++s) {
      const int e = o.topk_ids[t * kK + s];
      ASSERT_TRUE(group_chosen[e / kGroupSize]) << "t=" << t << " expert " << e;
      chosen[e] = true;
      sum += score[e];
      worst_chosen = std::min(worst_chosen, biased[e]);
    }
    for (int e = 0; e < kE; ++e) {
      if (group_chosen[e / kGroupSize] && !chosen[e]) best_left = std::max(best_left, biased[e]);
    }
    EXPECT_GE(worst_chosen, best_left - 1e-12) << "t=" << t;
    double weight_sum = 0.0;
    for (int s = 0; s < kK; ++s) {
      const int e = o.topk_ids[t * kK + s];
      EXPECT_NEAR(o.topk_weights[t * kK + s], score[e] / sum * 2.5, 1e-12);
      weight_sum += o.topk_weights[t * kK + s];
    }
    EXPECT_NEAR(weight_sum, 2.5, 1e-12);
    const int best = static_cast<int>(std::max_element(biased, biased + kE) - biased);
    outside_best_expert += !group_chosen[best / kGroupSize];
  }
  EXPECT_GT(outside_best_expert, 0);  // the group limit did bind somewhere, so the check above had teeth
}

// Renormalized weights sum to 1 in every mode that renormalizes, on random inputs.
TEST(RoutingModes, RenormalizedWeightsSumToOne) {
  SmallMoe moe = random_moe(12, 3, 8, 4, false, 61);
  const std::vector<double> x = random_x(64, 8, 62);
  struct Mode {
    RefRouting routing;
    RefScoring scoring;
  } modes[] = {{RefRouting::kTopK, RefScoring::kSoftmax},
               {RefRouting::kTopK, RefScoring::kSigmoid},
               {RefRouting::kTopKSoftmax, RefScoring::kSoftmax},
               {RefRouting::kGroupedTopK, RefScoring::kSigmoid}};
  moe.config.num_groups = 4;
  moe.config.topk_groups = 2;
  for (const Mode& m : modes) {
    moe.config.routing = m.routing;
    moe.config.scoring = m.scoring;
    RefOutput o = moe.forward(x);
    ASSERT_TRUE(o.ok()) << o.error;
    for (int t = 0; t < 64; ++t) {
      double sum = 0.0;
      for (int s = 0; s < 3; ++s) sum += o.topk_weights[t * 3 + s];
      EXPECT_NEAR(sum, 1.0, 1e-14) << "mode " << static_cast<int>(m.routing) << " t=" << t;
    }
  }
}

TEST(RoutingModes, InvalidGroupedConfigsAreErrors) {
  SmallMoe moe = grouped_fixture(3);
  ASSERT_TRUE(moe.forward({1.0}).ok());
  auto error_of = [&](auto change) {
    SmallMoe m = grouped_fixture(3);
    change(m);
    return m.forward({1.0}).error;
  };
  EXPECT_NE(error_of([](SmallMoe& m) { m.config.num_groups = 3; }).find("num_groups"), std::string::npos);
  EXPECT_NE(error_of([](SmallMoe& m) { m.config.topk_groups = 5; }).find("topk_groups"), std::string::npos);
  EXPECT_NE(error_of([](SmallMoe& m) { m.config.group_score_topk = 3; }).find("group_score_topk"), std::string::npos);
  EXPECT_NE(error_of([](SmallMoe& m) { m.config.topk_groups = 1; }).find("exceeds"), std::string::npos);  // k=3 > 2
  EXPECT_NE(error_of([](SmallMoe& m) { m.config.routing = RefRouting::kTopK; }).find("score_bias"), std::string::npos);
  EXPECT_NE(error_of([](SmallMoe& m) { m.config.routed_scaling_factor = NAN; }).find("routed_scaling_factor"),
            std::string::npos);
}

}  // namespace
}  // namespace onemoe::reference
