// Whole-forward properties: input validation, T = 0, multi-rank = concatenation, the grouped expert path against
// the plain per-row definition, and independence from the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "reference/compare.h"
#include "reference/expert_ffn.h"
#include "tests/reference/small_moe.h"

namespace onemoe::reference {
namespace {

using testing::random_moe;
using testing::random_x;
using testing::randomize_optional;
using testing::SmallMoe;

TEST(Forward, ZeroTokensGiveEmptyOutputs) {
  SmallMoe moe(4, 2, 2, 2);
  RefOutput o = moe_forward(nullptr, 0, moe.weights(), moe.config);
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_TRUE(o.out.empty());
  EXPECT_TRUE(o.topk_ids.empty());
  EXPECT_TRUE(o.topk_margin.empty());
  EXPECT_EQ(o.expert_counts, (std::vector<int64_t>(4, 0)));
}

TEST(Forward, InvalidInputsReturnAnError) {
  SmallMoe moe(2, 3, 2, 2);  // k > E
  const std::vector<double> x = {1.0, 2.0};
  RefOutput o = moe.forward(x);
  EXPECT_FALSE(o.ok());
  EXPECT_NE(o.error.find("top_k"), std::string::npos) << o.error;
  EXPECT_TRUE(o.out.empty());

  moe.config.top_k = 0;
  EXPECT_FALSE(moe.forward(x).ok());
  moe.config.top_k = 1;
  ASSERT_TRUE(moe.forward(x).ok());  // the fixture itself is valid once k is

  EXPECT_FALSE(moe_forward(x.data(), -1, moe.weights(), moe.config).ok());
  EXPECT_FALSE(moe_forward(nullptr, 1, moe.weights(), moe.config).ok());
  RefWeights no_router = moe.weights();
  no_router.w_router = nullptr;
  EXPECT_FALSE(moe_forward(x.data(), 1, no_router, moe.config).ok());
  RefWeights plain_with_w3 = moe.weights();
  plain_with_w3.w3 = moe.w1.data();
  EXPECT_FALSE(moe_forward(x.data(), 1, plain_with_w3, moe.config).ok());
  moe.config.gated = true;  // gated without w3
  RefWeights gated_without_w3 = moe.weights();
  gated_without_w3.w3 = nullptr;
  EXPECT_FALSE(moe_forward(x.data(), 1, gated_without_w3, moe.config).ok());
  moe.config.gated = false;
  moe.config.hidden = 0;
  EXPECT_FALSE(moe_forward(x.data(), 1, moe.weights(), moe.config).ok());
}

// The grouped, blocked expert path must equal the plain definition out[t] = Σ_kept w·y_e(x[t]) (per-row FFN,
// no grouping). Shapes are not multiples of the 4-wide inner loop, and T·k/E > 64 rows per work item.
TEST(Forward, GroupedExpertsMatchPerRowDefinition) {
  for (bool gated : {false, true}) {
    SmallMoe moe = random_moe(4, 2, 26, 37, gated, 11);
    moe.config.activation = RefActivation::kGELU;
    moe.config.capacity_factor = 0.9;  // capacity 135 < 600/4: some slots must drop
    const int64_t tokens = 300;
    const std::vector<double> x = random_x(tokens, moe.config.hidden, 99);
    RefOutput o = moe.forward(x);
    ASSERT_TRUE(o.ok()) << o.error;

    int64_t kept = 0;
    std::vector<double> y(moe.config.hidden);
    for (int64_t t = 0; t < tokens; ++t) {
      std::vector<double> want(moe.config.hidden, 0.0);
      for (int s = 0; s < moe.config.top_k; ++s) {
        const int64_t slot = t * moe.config.top_k + s;
        if (o.dropped[slot]) continue;
        ++kept;
        expert_ffn_row(&x[t * moe.config.hidden], o.topk_ids[slot], moe.weights(), moe.config, y.data());
        for (int c = 0; c < moe.config.hidden; ++c) want[c] += o.topk_weights[slot] * y[c];
      }
      for (int c = 0; c < moe.config.hidden; ++c) {
        ASSERT_NEAR(o.out[t * moe.config.hidden + c], want[c], 1e-12 * (1.0 + std::fabs(want[c])))
            << "t=" << t << " c=" << c << " gated=" << gated;
      }
    }
    EXPECT_GT(kept, 0);
    EXPECT_LT(kept, tokens * moe.config.top_k);  // the capacity did drop something
  }
}

// The same with every option on, through the shared experts too: biases, clamped SwiGLU, two gated shared experts,
// grouped routing, and the fp8 mode (H, I, Is multiples of 128), against out[t] = Σ_kept w·y_e + Σ_s g_s·y_s
// from the per-row definitions.
TEST(Forward, GroupedExpertsMatchPerRowDefinitionWithEveryOption) {
  for (bool fp8 : {false, true}) {
    const int hidden = fp8 ? 128 : 26, inter = fp8 ? 256 : 37, shared_inter = fp8 ? 128 : 9;
    SmallMoe moe = random_moe(8, 2, hidden, inter, /*gated=*/true, 13);
    moe.config.activation = RefActivation::kClampedSwiGLU;
    moe.config.routing = RefRouting::kGroupedTopK;
    moe.config.scoring = RefScoring::kSigmoid;
    moe.config.num_groups = 4;
    moe.config.topk_groups = 2;
    moe.config.routed_scaling_factor = 2.5;
    moe.config.capacity_factor = 1.1;
    moe.config.quant = fp8 ? RefQuant::kFP8E4M3 : RefQuant::kNone;
    moe.enable_expert_bias();
    moe.add_shared_experts(2, shared_inter, /*gate=*/true);
    moe.score_bias.resize(8);
    randomize_optional(moe, 14);
    const int64_t tokens = 150;
    const std::vector<double> x = random_x(tokens, hidden, 15);
    RefOutput o = moe.forward(x);
    ASSERT_TRUE(o.ok()) << o.error;

    const RefWeights w = moe.weights();
    std::vector<double> y(hidden);
    for (int64_t t = 0; t < tokens; ++t) {
      const double* xt = &x[t * hidden];
      std::vector<double> want(hidden, 0.0);
      for (int s = 0; s < moe.config.top_k; ++s) {
        const int64_t slot = t * moe.config.top_k + s;
        if (o.dropped[slot]) continue;
        expert_ffn_row(xt, o.topk_ids[slot], w, moe.config, y.data());
        for (int c = 0; c < hidden; ++c) want[c] += o.topk_weights[slot] * y[c];
      }
      for (int s = 0; s < 2; ++s) {
        shared_expert_row(xt, s, w, moe.config, y.data());
        const double g = shared_gate_value(xt, s, w, moe.config);
        EXPECT_GT(g, 0.0);
        EXPECT_LT(g, 1.0);
        for (int c = 0; c < hidden; ++c) want[c] += g * y[c];
      }
      for (int c = 0; c < hidden; ++c) {
        ASSERT_NEAR(o.out[t * hidden + c], want[c], 1e-12 * (1.0 + std::fabs(want[c])))
            << "t=" << t << " c=" << c << " fp8=" << fp8;
      }
    }
  }
}

// Every selected score is >= every unselected one, and the margin is the gap at the k boundary.
TEST(Forward, TopKIsTheBestSetOnRandomInputs) {
  SmallMoe moe = random_moe(16, 4, 8, 4, false, 5);
  const int64_t tokens = 50;
  const std::vector<double> x = random_x(tokens, moe.config.hidden, 6);
  RefOutput o = moe.forward(x);
  ASSERT_TRUE(o.ok()) << o.error;
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<double> logit(16);
    std::vector<bool> chosen(16, false);
    for (int e = 0; e < 16; ++e) {
      for (int h = 0; h < 8; ++h) logit[e] += x[t * 8 + h] * moe.router_at(e, h);
    }
    for (int s = 0; s < 4; ++s) chosen[o.topk_ids[t * 4 + s]] = true;
    double worst_chosen = INFINITY, best_other = -INFINITY;
    for (int e = 0; e < 16; ++e) {
      if (chosen[e]) {
        worst_chosen = std::fmin(worst_chosen, logit[e]);
      } else {
        best_other = std::fmax(best_other, logit[e]);
      }
    }
    EXPECT_GE(worst_chosen, best_other - 1e-12) << "t=" << t;  // 1e-12: this sum runs in another order
    EXPECT_GT(o.topk_margin[t], 0.0);
    for (int s = 1; s < 4; ++s) EXPECT_LT(o.topk_ids[t * 4 + s - 1], o.topk_ids[t * 4 + s]);
  }
}

// Ranks hold 2, 0 and 3 tokens; the result must be the single forward on all 5 tokens, split back, with the
// capacity taken on the total: ceil(0.6·5·2/4) = 2 rows per expert.
TEST(Forward, MultiRankIsTheConcatenation) {
  SmallMoe moe = random_moe(4, 2, 4, 3, true, 21);
  moe.config.activation = RefActivation::kSiLU;
  moe.config.capacity_factor = 0.6;
  const std::vector<int64_t> tokens = {2, 0, 3};
  const std::vector<double> all_x = random_x(5, 4, 22);
  const std::vector<const double*> x_per_rank = {all_x.data(), nullptr, all_x.data() + 2 * 4};
  std::vector<RefOutput> ranks = moe_forward_ranks(x_per_rank, tokens, moe.weights(), moe.config);
  RefOutput all = moe.forward(all_x);
  ASSERT_TRUE(all.ok()) << all.error;
  ASSERT_EQ(ranks.size(), 3u);

  int64_t t0 = 0;
  std::vector<int64_t> count_sum(4, 0);
  for (size_t r = 0; r < 3; ++r) {
    ASSERT_TRUE(ranks[r].ok()) << ranks[r].error;
    const int64_t t1 = t0 + tokens[r];
    EXPECT_EQ(ranks[r].out, std::vector<double>(all.out.begin() + t0 * 4, all.out.begin() + t1 * 4));
    EXPECT_EQ(ranks[r].topk_ids, std::vector<int32_t>(all.topk_ids.begin() + t0 * 2, all.topk_ids.begin() + t1 * 2));
    EXPECT_EQ(ranks[r].topk_weights,
              std::vector<double>(all.topk_weights.begin() + t0 * 2, all.topk_weights.begin() + t1 * 2));
    EXPECT_EQ(ranks[r].dropped, std::vector<uint8_t>(all.dropped.begin() + t0 * 2, all.dropped.begin() + t1 * 2));
    EXPECT_EQ(ranks[r].topk_margin, std::vector<double>(all.topk_margin.begin() + t0, all.topk_margin.begin() + t1));
    for (int e = 0; e < 4; ++e) count_sum[e] += ranks[r].expert_counts[e];
    t0 = t1;
  }
  EXPECT_EQ(count_sum, all.expert_counts);
  EXPECT_EQ(ranks[1].expert_counts, (std::vector<int64_t>(4, 0)));

  std::vector<RefOutput> bad = moe_forward_ranks({all_x.data()}, tokens, moe.weights(), moe.config);
  ASSERT_FALSE(bad.empty());
  EXPECT_FALSE(bad[0].ok());
  EXPECT_FALSE(moe_forward_ranks({}, {}, moe.weights(), moe.config).at(0).ok());
}

// Multi-rank = concatenation holds with grouped routing and shared experts too (shared experts are per token, so
// they need nothing from other ranks).
TEST(Forward, MultiRankIsTheConcatenationWithSharedExperts) {
  SmallMoe moe = random_moe(8, 2, 6, 5, true, 23);
  moe.config.routing = RefRouting::kGroupedTopK;
  moe.config.scoring = RefScoring::kSigmoid;
  moe.config.num_groups = 4;
  moe.config.topk_groups = 2;
  moe.config.capacity_factor = 0.7;
  moe.add_shared_experts(1, 4, /*gate=*/true);
  moe.score_bias.resize(8);
  randomize_optional(moe, 24);
  const std::vector<double> all_x = random_x(9, 6, 25);
  RefOutput all = moe.forward(all_x);
  std::vector<RefOutput> ranks =
      moe_forward_ranks({all_x.data(), all_x.data() + 4 * 6}, {4, 5}, moe.weights(), moe.config);
  ASSERT_TRUE(all.ok() && ranks[0].ok() && ranks[1].ok()) << all.error << ranks[0].error;
  EXPECT_EQ(ranks[0].out, std::vector<double>(all.out.begin(), all.out.begin() + 4 * 6));
  EXPECT_EQ(ranks[1].out, std::vector<double>(all.out.begin() + 4 * 6, all.out.end()));
  EXPECT_EQ(ranks[1].dropped, std::vector<uint8_t>(all.dropped.begin() + 4 * 2, all.dropped.end()));
}

// Items are spread over threads, but each output element is computed by one thread in a fixed order.
TEST(Forward, ResultDoesNotDependOnThreadCount) {
  SmallMoe moe = random_moe(8, 2, 16, 12, false, 31);
  const std::vector<double> x = random_x(200, 16, 32);
  ASSERT_EQ(setenv("ONEMOE_REF_THREADS", "1", 1), 0);
  RefOutput one = moe.forward(x);
  ASSERT_EQ(setenv("ONEMOE_REF_THREADS", "3", 1), 0);
  RefOutput three = moe.forward(x);
  unsetenv("ONEMOE_REF_THREADS");
  ASSERT_TRUE(one.ok() && three.ok());
  EXPECT_EQ(one.out, three.out);
  EXPECT_EQ(one.topk_ids, three.topk_ids);
}

}  // namespace
}  // namespace onemoe::reference
