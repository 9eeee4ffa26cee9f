// Shared experts by hand: every token passes through them, with their own I, optionally gated by sigmoid(x·g),
// after the routed experts and outside the routed scaling factor.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/reference/small_moe.h"

namespace onemoe::reference {
namespace {

using testing::SmallMoe;

// E=2, k=1, H=I=2, relu; the router is zero, so expert 0 wins the tie with weight 1; expert 0 is 2·relu.
// One shared expert with Is = 3: w1 [3,2] = [[1,0],[0,1],[1,1]], w2 [2,3] = [[1,0,1],[0,1,0]].
// x = [1, 2]: routed y = [2, 4]; shared h = relu([1, 2, 3]), y_s = [1+3, 2] = [4, 2].
SmallMoe one_shared_expert(bool gate) {
  SmallMoe moe(2, 1, 2, 2);
  moe.set_scaled_identity_expert(0, 2.0);
  moe.add_shared_experts(1, 3, gate);
  moe.shared_w1_at(0, 0, 0) = moe.shared_w1_at(0, 1, 1) = moe.shared_w1_at(0, 2, 0) = moe.shared_w1_at(0, 2, 1) = 1.0;
  moe.shared_w2_at(0, 0, 0) = moe.shared_w2_at(0, 0, 2) = moe.shared_w2_at(0, 1, 1) = 1.0;
  return moe;
}

TEST(SharedExperts, AddedToEveryToken) {
  SmallMoe moe = one_shared_expert(false);
  RefOutput o = moe.forward({1.0, 2.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.out, (std::vector<double>{6.0, 6.0}));
  EXPECT_EQ(o.expert_counts, (std::vector<int64_t>{1, 0}));  // counts are the routed rows only
}

// Gate row [ln 3, 0]: x·g = ln 3, sigmoid = 3/4, so out = [2, 4] + 0.75·[4, 2] = [5, 5.5].
TEST(SharedExperts, SigmoidGateScalesTheSharedOutput) {
  SmallMoe moe = one_shared_expert(true);
  moe.shared_gate = {std::log(3.0), 0.0};
  RefOutput o = moe.forward({1.0, 2.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_NEAR(o.out[0], 5.0, 1e-15);
  EXPECT_NEAR(o.out[1], 5.5, 1e-15);
}

// routed_scaling_factor 2 doubles the routed part only: [4, 8] + [4, 2] = [8, 10].
TEST(SharedExperts, RoutedScalingLeavesSharedAlone) {
  SmallMoe moe = one_shared_expert(false);
  moe.config.routed_scaling_factor = 2.0;
  RefOutput o = moe.forward({1.0, 2.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.out, (std::vector<double>{8.0, 10.0}));
}

// Two shared experts with Is = 1, each with its own gate: y_0 = relu(x0)·[1, 0], y_1 = relu(x1)·[0, 3];
// gates sigmoid(ln 3) = 3/4 and sigmoid(-ln 3) = 1/4 (gate rows [ln3, 0] and [0, -ln3/2] at x = [1, 2]).
// out = [2, 4] + 0.75·[1, 0] + 0.25·[0, 6] = [2.75, 5.5].
TEST(SharedExperts, SeveralEachWithItsOwnGate) {
  SmallMoe moe(2, 1, 2, 2);
  moe.set_scaled_identity_expert(0, 2.0);
  moe.add_shared_experts(2, 1, true);
  moe.shared_w1_at(0, 0, 0) = 1.0;
  moe.shared_w2_at(0, 0, 0) = 1.0;
  moe.shared_w1_at(1, 0, 1) = 1.0;
  moe.shared_w2_at(1, 1, 0) = 3.0;
  moe.shared_gate = {std::log(3.0), 0.0, 0.0, -std::log(3.0) / 2.0};
  RefOutput o = moe.forward({1.0, 2.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_NEAR(o.out[0], 2.75, 1e-15);
  EXPECT_NEAR(o.out[1], 5.5, 1e-15);
}

TEST(SharedExperts, InvalidSharedConfigsAreErrors) {
  auto error_of = [](auto change) {
    SmallMoe m = one_shared_expert(true);
    change(m);
    return m.forward({1.0, 2.0}).error;
  };
  EXPECT_EQ(error_of([](SmallMoe&) {}), "");
  EXPECT_NE(error_of([](SmallMoe& m) { m.shared_gate.clear(); }).find("shared_gate"), std::string::npos);
  EXPECT_NE(error_of([](SmallMoe& m) { m.shared_w2.clear(); }).find("shared_w1 and shared_w2"), std::string::npos);
  EXPECT_NE(error_of([](SmallMoe& m) { m.config.shared_intermediate = 0; }).find("shared_intermediate"),
            std::string::npos);
  EXPECT_NE(error_of([](SmallMoe& m) { m.config.num_shared_experts = 0; }).find("num_shared_experts is 0"),
            std::string::npos);
  EXPECT_NE(error_of([](SmallMoe& m) { m.config.num_shared_experts = -1; }).find(">= 0"), std::string::npos);
}

}  // namespace
}  // namespace onemoe::reference
