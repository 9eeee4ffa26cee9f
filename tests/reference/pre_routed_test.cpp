// Pre-routed input: the caller's ids and weights by hand, the errors on bad input, and bitwise equality with every
// routed mode when given that mode's own routing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tests/reference/small_moe.h"

namespace onemoe::reference {
namespace {

using testing::random_moe;
using testing::random_x;
using testing::randomize_optional;
using testing::SmallMoe;

// E=4, k=2, H=I=2; expert e is relu then ×(e+1). Given ids [3, 1] with weights [0.25, 0.75] (not ascending):
// reported as ids [1, 3], weights [0.75, 0.25]; out = 0.75·2·relu(x) + 0.25·4·relu(x) = 2.5·relu(x).
// x = [1, -1] -> out = [2.5, 0]. No router is needed.
TEST(PreRouted, TakesTheGivenRoutingAndSortsIt) {
  SmallMoe moe(4, 2, 2, 2);
  moe.config.routing = RefRouting::kPreRouted;
  moe.config.routed_scaling_factor = 3.0;  // not applied to given weights
  for (int e = 0; e < 4; ++e) moe.set_scaled_identity_expert(e, e + 1.0);
  RefWeights w = moe.weights();
  w.w_router = nullptr;
  const std::vector<double> x = {1.0, -1.0};
  const int32_t ids[] = {3, 1};
  const double weights[] = {0.25, 0.75};
  RefOutput o = moe_forward(x.data(), 1, w, moe.config, {ids, weights});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids, (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(o.topk_weights, (std::vector<double>{0.75, 0.25}));
  EXPECT_EQ(o.topk_margin[0], std::numeric_limits<double>::infinity());
  EXPECT_EQ(o.out, (std::vector<double>{2.5, 0.0}));
  EXPECT_EQ(o.expert_counts, (std::vector<int64_t>{0, 1, 0, 1}));
}

TEST(PreRouted, BadRoutingIsAClearError) {
  SmallMoe moe(4, 2, 2, 2);
  moe.config.routing = RefRouting::kPreRouted;
  const std::vector<double> x = {1.0, 2.0, 3.0, 4.0};  // two tokens
  const double weights[] = {0.5, 0.5, 0.5, 0.5};
  auto error_for = [&](std::vector<int32_t> ids, const double* w = nullptr) {
    RefOutput o = moe_forward(x.data(), 2, moe.weights(), moe.config, {ids.data(), w ? w : weights});
    if (!o.ok()) EXPECT_TRUE(o.out.empty()) << "nothing is computed on an error";
    return o.error;
  };
  ASSERT_EQ(error_for({0, 1, 2, 3}), "");
  const std::string negative = error_for({0, 1, 2, -1});
  EXPECT_NE(negative.find("[token 1, slot 1] = -1 is outside [0, 4)"), std::string::npos) << negative;
  const std::string too_big = error_for({4, 1, 2, 3});
  EXPECT_NE(too_big.find("[token 0, slot 0] = 4 is outside [0, 4)"), std::string::npos) << too_big;
  const std::string repeated = error_for({0, 1, 2, 2});
  EXPECT_NE(repeated.find("repeats"), std::string::npos) << repeated;
  const double nan_weights[] = {0.5, std::nan(""), 0.5, 0.5};
  const std::string nan = error_for({0, 1, 2, 3}, nan_weights);
  EXPECT_NE(nan.find("topk_weights[token 0, slot 1] is not finite"), std::string::npos) << nan;

  EXPECT_NE(moe.forward(x).error.find("needs the caller's topk_ids"), std::string::npos);
  EXPECT_FALSE(moe_forward(x.data(), 2, moe.weights(), moe.config, {nullptr, weights}).ok());
  moe.config.routing = RefRouting::kTopK;
  const int32_t ids[] = {0, 1, 2, 3};
  EXPECT_NE(moe_forward(x.data(), 2, moe.weights(), moe.config, {ids, weights}).error.find("not kPreRouted"),
            std::string::npos);
}

struct RoutedCase {
  const char* name;
  RefRouting routing;
  RefScoring scoring;
  bool renormalize;
  double scaling;
  double capacity_factor;
};

// A random layer with every option switched on: gated clamped SwiGLU, expert biases, router bias, two gated shared
// experts; grouped routing gets a correction bias.
SmallMoe full_layer(const RoutedCase& c) {
  SmallMoe moe = random_moe(8, 3, 12, 10, /*gated=*/true, 71);
  moe.config.activation = RefActivation::kClampedSwiGLU;
  moe.config.routing = c.routing;
  moe.config.scoring = c.scoring;
  moe.config.renormalize = c.renormalize;
  moe.config.routed_scaling_factor = c.scaling;
  moe.config.capacity_factor = c.capacity_factor;
  moe.config.num_groups = 4;
  moe.config.topk_groups = 2;
  moe.enable_expert_bias();
  moe.add_shared_experts(2, 6, /*gate=*/true);
  moe.b_router.resize(8);
  if (c.routing == RefRouting::kGroupedTopK) moe.score_bias.resize(8);
  randomize_optional(moe, 72);
  return moe;
}

const RoutedCase kRoutedCases[] = {
    {"softmax_topk_renorm", RefRouting::kTopK, RefScoring::kSoftmax, true, 1.0, 0.0},
    {"sigmoid_topk_scaled_capacity", RefRouting::kTopK, RefScoring::kSigmoid, false, 2.5, 0.8},
    {"topk_softmax", RefRouting::kTopKSoftmax, RefScoring::kSoftmax, true, 1.0, 0.0},
    {"grouped_v3", RefRouting::kGroupedTopK, RefScoring::kSigmoid, true, 2.5, 0.0},
    {"grouped_capacity", RefRouting::kGroupedTopK, RefScoring::kSigmoid, false, 1.0, 0.9},
};

// Given a routed mode's own topk_ids and topk_weights (dropped slots carry weight 0 and drop again, since capacity
// depends on the ids only), pre-routed reproduces that mode bitwise, whatever the slot order within a token.
TEST(PreRouted, EqualsEveryRoutedModeBitwise) {
  constexpr int64_t kT = 150;
  for (const RoutedCase& c : kRoutedCases) {
    SCOPED_TRACE(c.name);
    SmallMoe moe = full_layer(c);
    const std::vector<double> x = random_x(kT, moe.config.hidden, 73);
    RefOutput routed = moe.forward(x);
    ASSERT_TRUE(routed.ok()) << routed.error;
    if (c.capacity_factor > 0.0) EXPECT_GT(std::count(routed.dropped.begin(), routed.dropped.end(), 1), 0);

    // The same routing with each token's slots reversed.
    const int k = moe.config.top_k;
    std::vector<int32_t> ids = routed.topk_ids;
    std::vector<double> weights = routed.topk_weights;
    for (int64_t t = 0; t < kT; ++t) {
      std::reverse(ids.begin() + t * k, ids.begin() + (t + 1) * k);
      std::reverse(weights.begin() + t * k, weights.begin() + (t + 1) * k);
    }
    moe.config.routing = RefRouting::kPreRouted;
    moe.score_bias.clear();  // read by grouped routing only; an error when given to another mode
    RefOutput given = moe_forward(x.data(), kT, moe.weights(), moe.config, {ids.data(), weights.data()});
    ASSERT_TRUE(given.ok()) << given.error;
    EXPECT_EQ(given.out, routed.out);
    EXPECT_EQ(given.topk_ids, routed.topk_ids);
    EXPECT_EQ(given.topk_weights, routed.topk_weights);
    EXPECT_EQ(given.dropped, routed.dropped);
    EXPECT_EQ(given.expert_counts, routed.expert_counts);
  }
}

// Across ranks: each rank passes its own slice; the result is the global forward split back. A bad id on rank 2
// names rank 2 and its local token.
TEST(PreRouted, MultiRankTakesEachRanksRoutes) {
  SmallMoe moe = full_layer(kRoutedCases[3]);
  const std::vector<int64_t> tokens = {3, 0, 4};
  const int k = moe.config.top_k, hidden = moe.config.hidden;
  const std::vector<double> x = random_x(7, hidden, 74);
  RefOutput routed = moe.forward(x);
  ASSERT_TRUE(routed.ok()) << routed.error;

  moe.config.routing = RefRouting::kPreRouted;
  moe.score_bias.clear();
  std::vector<int32_t> ids = routed.topk_ids;
  const std::vector<RefPreRouted> routes = {{ids.data(), routed.topk_weights.data()},
                                            {nullptr, nullptr},
                                            {ids.data() + 3 * k, routed.topk_weights.data() + 3 * k}};
  const std::vector<const double*> x_per_rank = {x.data(), nullptr, x.data() + 3 * hidden};
  std::vector<RefOutput> ranks = moe_forward_ranks(x_per_rank, tokens, moe.weights(), moe.config, routes);
  ASSERT_EQ(ranks.size(), 3u);
  ASSERT_TRUE(ranks[0].ok()) << ranks[0].error;
  EXPECT_EQ(ranks[0].out, std::vector<double>(routed.out.begin(), routed.out.begin() + 3 * hidden));
  EXPECT_TRUE(ranks[1].out.empty());
  EXPECT_EQ(ranks[2].out, std::vector<double>(routed.out.begin() + 3 * hidden, routed.out.end()));

  ids[3 * k + 1 * k] = 8;  // rank 2 (the third), its token 1, slot 0
  ranks = moe_forward_ranks(x_per_rank, tokens, moe.weights(), moe.config, routes);
  ASSERT_FALSE(ranks[0].ok());
  EXPECT_NE(ranks[0].error.find("rank 2: pre-routed topk_ids[token 1, slot 0] = 8"), std::string::npos)
      << ranks[0].error;
  EXPECT_FALSE(moe_forward_ranks(x_per_rank, tokens, moe.weights(), moe.config, {routes[0]})[0].ok());
}

}  // namespace
}  // namespace onemoe::reference
