// Routing by hand: scores, top-k with its tie-break, weights, combine order and margin.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/reference/small_moe.h"

namespace onemoe::reference {
namespace {

using testing::SmallMoe;

// E=2, k=1, H=I=2. x = [1, 0]; w_router rows [1,0] and [0,0] give logits [1, 0].
// softmax: p0 = e/(e+1), p1 = 1/(e+1). Expert 0 wins; margin p0 - p1 = (e-1)/(e+1).
// Expert 0 is relu then ×2, so out = weight · [2, 0].
TEST(Routing, SoftmaxTop1RenormalizeOnAndOff) {
  SmallMoe moe(2, 1, 2, 2);
  moe.router_at(0, 0) = 1.0;
  moe.set_scaled_identity_expert(0, 2.0);
  moe.set_scaled_identity_expert(1, 5.0);
  const double e = std::exp(1.0);

  RefOutput on = moe.forward({1.0, 0.0});
  ASSERT_TRUE(on.ok()) << on.error;
  EXPECT_EQ(on.topk_ids[0], 0);
  EXPECT_DOUBLE_EQ(on.topk_weights[0], 1.0);  // one selection renormalized is 1
  EXPECT_NEAR(on.topk_margin[0], (e - 1) / (e + 1), 1e-15);
  EXPECT_DOUBLE_EQ(on.out[0], 2.0);
  EXPECT_DOUBLE_EQ(on.out[1], 0.0);

  moe.config.renormalize = false;
  RefOutput off = moe.forward({1.0, 0.0});
  ASSERT_TRUE(off.ok()) << off.error;
  EXPECT_NEAR(off.topk_weights[0], e / (e + 1), 1e-15);
  EXPECT_NEAR(off.out[0], 2.0 * e / (e + 1), 1e-15);
}

// E=3, k=2, H=I=2, sigmoid. x = [1, -1]; w_router rows [0,0], [ln3,0], [-ln3,0] give logits [0, ln3, -ln3],
// so scores [1/2, 3/4, 1/4]. Top-2 = experts {1, 0}, reported ascending: ids [0,1], weights [1/2, 3/4];
// margin = 1/2 - 1/4. Expert e is relu then ×(e+1): relu(x) = [1, 0], y0 = [1,0], y1 = [2,0].
// Raw weights: out = 1/2·1 + 3/4·2 = 2. Renormalized: [0.4, 0.6], out = 0.4 + 1.2 = 1.6.
TEST(Routing, SigmoidTop2RawAndRenormalized) {
  SmallMoe moe(3, 2, 2, 2);
  moe.config.scoring = RefScoring::kSigmoid;
  moe.router_at(1, 0) = std::log(3.0);
  moe.router_at(2, 0) = -std::log(3.0);
  for (int e = 0; e < 3; ++e) moe.set_scaled_identity_expert(e, e + 1.0);

  moe.config.renormalize = false;
  RefOutput raw = moe.forward({1.0, -1.0});
  ASSERT_TRUE(raw.ok()) << raw.error;
  EXPECT_EQ(raw.topk_ids, (std::vector<int32_t>{0, 1}));
  EXPECT_NEAR(raw.topk_weights[0], 0.5, 1e-15);
  EXPECT_NEAR(raw.topk_weights[1], 0.75, 1e-15);
  EXPECT_NEAR(raw.topk_margin[0], 0.25, 1e-15);
  EXPECT_NEAR(raw.out[0], 2.0, 1e-14);
  EXPECT_DOUBLE_EQ(raw.out[1], 0.0);  // relu(-1) = 0 in every expert

  moe.config.renormalize = true;
  RefOutput renorm = moe.forward({1.0, -1.0});
  ASSERT_TRUE(renorm.ok()) << renorm.error;
  EXPECT_NEAR(renorm.topk_weights[0], 0.4, 1e-15);
  EXPECT_NEAR(renorm.topk_weights[1], 0.6, 1e-15);
  EXPECT_NEAR(renorm.out[0], 1.6, 1e-14);
}

// E=4, k=2, H=1. w_router = [0, 1, 1, 1]·x with x = 1: logits [0, 1, 1, 1]; three experts tie for the top.
// The lower ids win: {1, 2}; the 2nd and 3rd best are equal, so the margin is exactly 0.
// With w_router = 0 all four tie: {0, 1}, weights 1/2 each.
TEST(Routing, TiesGoToTheLowerExpertId) {
  SmallMoe moe(4, 2, 1, 1);
  for (int e = 1; e < 4; ++e) moe.router_at(e, 0) = 1.0;
  RefOutput partial = moe.forward({1.0});
  ASSERT_TRUE(partial.ok()) << partial.error;
  EXPECT_EQ(partial.topk_ids, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(partial.topk_margin[0], 0.0);

  for (int e = 0; e < 4; ++e) moe.router_at(e, 0) = 0.0;
  RefOutput all_equal = moe.forward({1.0});
  ASSERT_TRUE(all_equal.ok()) << all_equal.error;
  EXPECT_EQ(all_equal.topk_ids, (std::vector<int32_t>{0, 1}));
  EXPECT_DOUBLE_EQ(all_equal.topk_weights[0], 0.5);
  EXPECT_DOUBLE_EQ(all_equal.topk_weights[1], 0.5);
}

// E=4, k=2, H=1, logits [0, 0, 5, 3]: best is expert 2, then 3. Ids are reported ascending [2, 3] and the
// weights follow their ids: e^5/(e^5+e^3) = 1/(1+e^-2) for expert 2, 1/(1+e^2) for expert 3.
TEST(Routing, WeightsStayAlignedWithAscendingIds) {
  SmallMoe moe(4, 2, 1, 1);
  moe.router_at(2, 0) = 5.0;
  moe.router_at(3, 0) = 3.0;
  RefOutput o = moe.forward({1.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids, (std::vector<int32_t>{2, 3}));
  EXPECT_NEAR(o.topk_weights[0], 1.0 / (1.0 + std::exp(-2.0)), 1e-15);
  EXPECT_NEAR(o.topk_weights[1], 1.0 / (1.0 + std::exp(2.0)), 1e-15);
  // margin = p3 - p0 with softmax over [0,0,5,3]: (e^3 - 1) / (2 + e^5 + e^3)
  EXPECT_NEAR(o.topk_margin[0], (std::exp(3.0) - 1.0) / (2.0 + std::exp(5.0) + std::exp(3.0)), 1e-15);
}

// k == E: there is no (k+1)-th expert, so the margin is +inf and every expert is selected.
TEST(Routing, TopKEqualsExpertsHasInfiniteMargin) {
  SmallMoe moe(3, 3, 1, 1);
  moe.router_at(1, 0) = 2.0;
  RefOutput o = moe.forward({1.0, -1.0});  // two tokens
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids, (std::vector<int32_t>{0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(o.topk_margin[0], std::numeric_limits<double>::infinity());
  EXPECT_EQ(o.topk_margin[1], std::numeric_limits<double>::infinity());
}

// A non-finite logit makes top-k meaningless: reported as an error, not a crash.
TEST(Routing, NonFiniteLogitIsAnError) {
  SmallMoe moe(2, 1, 1, 1);
  moe.router_at(0, 0) = 1.0;
  RefOutput o = moe.forward({1.0, std::numeric_limits<double>::quiet_NaN()});
  EXPECT_FALSE(o.ok());
  EXPECT_NE(o.error.find("token 1"), std::string::npos) << o.error;
}

}  // namespace
}  // namespace onemoe::reference
