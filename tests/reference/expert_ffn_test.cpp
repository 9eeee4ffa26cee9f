// The expert FFN by hand: each activation, the weight layouts (H != I), and the gated form.
#include <gtest/gtest.h>

#include "tests/reference/small_moe.h"

namespace onemoe::reference {
namespace {

using testing::SmallMoe;

// One expert (E = k = 1, weight 1) with w1 = w2 = identity: out = act(x) element-wise.
RefOutput identity_expert(RefActivation activation, const std::vector<double>& x) {
  SmallMoe moe(1, 1, 2, 2);
  moe.config.activation = activation;
  moe.set_scaled_identity_expert(0, 1.0);
  return moe.forward(x);
}

TEST(ExpertFfn, ReLU) {
  RefOutput o = identity_expert(RefActivation::kReLU, {1.5, -2.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.out, (std::vector<double>{1.5, 0.0}));
}

// GELU(v) = v·Φ(v), Φ the standard normal CDF: Φ(1) = 0.8413447460685429, Φ(-2) = 0.022750131948179195.
TEST(ExpertFfn, GeluIsTheExactErfForm) {
  RefOutput o = identity_expert(RefActivation::kGELU, {1.0, -2.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_NEAR(o.out[0], 0.8413447460685429, 1e-15);
  EXPECT_NEAR(o.out[1], -2.0 * 0.022750131948179195, 1e-15);
}

// SiLU(v) = v / (1 + e^-v): SiLU(1) = 0.7310585786300049, SiLU(-2) = -2 / (1 + e^2) = -0.23840584404423515.
TEST(ExpertFfn, SiLU) {
  RefOutput o = identity_expert(RefActivation::kSiLU, {1.0, -2.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_NEAR(o.out[0], 0.7310585786300049, 1e-15);
  EXPECT_NEAR(o.out[1], -0.23840584404423515, 1e-15);
}

// H = 2, I = 3 so a transposed weight would read the wrong numbers. x = [1, 2].
// w1 [I,H] = [[1,0],[0,1],[1,1]]  -> h = relu([1, 2, 3]) = [1, 2, 3]
// w2 [H,I] = [[1,0,1],[0,1,0]]    -> y = [1+3, 2] = [4, 2]
TEST(ExpertFfn, WeightLayoutsAreKMajor) {
  SmallMoe moe(1, 1, 2, 3);
  moe.w1_at(0, 0, 0) = 1.0;
  moe.w1_at(0, 1, 1) = 1.0;
  moe.w1_at(0, 2, 0) = moe.w1_at(0, 2, 1) = 1.0;
  moe.w2_at(0, 0, 0) = moe.w2_at(0, 0, 2) = 1.0;
  moe.w2_at(0, 1, 1) = 1.0;
  RefOutput o = moe.forward({1.0, 2.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.out, (std::vector<double>{4.0, 2.0}));
}

// Gated, SiLU, H = I = 2, x = [1, -2]. w1 = identity -> gate = SiLU(x) = [0.7310585786300049, -0.2384058440442351]
// w3 = [[2,0],[0,-1]] -> up = [2, 2]; h = gate ⊙ up; w2 = identity -> out = 2·SiLU(x).
TEST(ExpertFfn, GatedMultipliesActivatedGateByUp) {
  SmallMoe moe(1, 1, 2, 2, /*gated=*/true);
  moe.config.activation = RefActivation::kSiLU;
  moe.set_scaled_identity_expert(0, 1.0);
  moe.w3_at(0, 0, 0) = 2.0;
  moe.w3_at(0, 1, 1) = -1.0;
  RefOutput o = moe.forward({1.0, -2.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_NEAR(o.out[0], 2.0 * 0.7310585786300049, 1e-15);
  EXPECT_NEAR(o.out[1], 2.0 * -0.23840584404423515, 1e-15);
}

}  // namespace
}  // namespace onemoe::reference
