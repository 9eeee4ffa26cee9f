// Capacity by hand: the formula, dropping in token order, zero contribution, no renormalization, counts.
#include <gtest/gtest.h>

#include "tests/reference/small_moe.h"

namespace onemoe::reference {
namespace {

using testing::SmallMoe;

TEST(Capacity, Formula) {
  EXPECT_EQ(expert_capacity(1.0, 5, 1, 2), 3);         // ceil(5/2)
  EXPECT_EQ(expert_capacity(0.5, 3, 2, 3), 1);         // ceil(0.5·6/3) = 1 exactly
  EXPECT_EQ(expert_capacity(1.25, 4097, 2, 256), 41);  // 1.25·8194/256 = 40.01 -> 41
  EXPECT_EQ(expert_capacity(0.0, 100, 2, 4), -1);      // dropless
  EXPECT_EQ(expert_capacity(-1.0, 100, 2, 4), -1);     // dropless
}

// E=2, k=1, T=5, capacity_factor 1 -> capacity ceil(5·1/2) = 3. Every token prefers expert 0 (logits [1, 0]),
// so tokens 0..2 are kept and tokens 3, 4 are dropped: weight 0, output 0.
// x_t = [1, t], expert 0 = relu, weight 1 -> out_t = [1, t] for kept tokens.
TEST(Capacity, DropsInTokenOrderAndZeroFills) {
  SmallMoe moe(2, 1, 2, 2);
  moe.router_at(0, 0) = 1.0;
  moe.set_scaled_identity_expert(0, 1.0);
  moe.set_scaled_identity_expert(1, 1.0);
  moe.config.capacity_factor = 1.0;
  RefOutput o = moe.forward({1, 0, 1, 1, 1, 2, 1, 3, 1, 4});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids, (std::vector<int32_t>{0, 0, 0, 0, 0}));
  EXPECT_EQ(o.dropped, (std::vector<uint8_t>{0, 0, 0, 1, 1}));
  EXPECT_EQ(o.topk_weights, (std::vector<double>{1, 1, 1, 0, 0}));
  EXPECT_EQ(o.out, (std::vector<double>{1, 0, 1, 1, 1, 2, 0, 0, 0, 0}));
  EXPECT_EQ(o.expert_counts, (std::vector<int64_t>{3, 0}));
}

// E=3, k=2, H=I=3, w_router = identity so logits = x. Tokens pick two experts each, with equal renormalized
// weights 1/2: x0 = [1,1,0] -> {0,1}; x1 = [0,1,1] -> {1,2}; x2 = [1,0,1] -> {0,2}. Expert e is relu then ×(e+1).
// capacity_factor 0.5: capacity ceil(0.5·3·2/3) = 1. Walk: t0 takes e0 and e1; t1's e1 is dropped, e2 kept;
// t2's e0 and e2 are both dropped. Token 1 keeps weight 1/2 on e2 (no renormalization after dropping):
// out0 = 1/2·1·x0 + 1/2·2·x0 = [1.5, 1.5, 0]; out1 = 1/2·3·x1 = [0, 1.5, 1.5]; out2 = 0.
// Dropless, every slot is kept: out1 = (1/2·2 + 1/2·3)·x1 = 2.5·x1, out2 = (1/2·1 + 1/2·3)·x2 = 2·x2.
TEST(Capacity, NoRenormalizationAfterDropAndDroplessKeepsAll) {
  SmallMoe moe(3, 2, 3, 3);
  for (int e = 0; e < 3; ++e) {
    moe.router_at(e, e) = 1.0;
    moe.set_scaled_identity_expert(e, e + 1.0);
  }
  const std::vector<double> x = {1, 1, 0, 0, 1, 1, 1, 0, 1};
  moe.config.capacity_factor = 0.5;
  RefOutput capped = moe.forward(x);
  ASSERT_TRUE(capped.ok()) << capped.error;
  EXPECT_EQ(capped.topk_ids, (std::vector<int32_t>{0, 1, 1, 2, 0, 2}));
  EXPECT_EQ(capped.dropped, (std::vector<uint8_t>{0, 0, 1, 0, 1, 1}));
  EXPECT_EQ(capped.topk_weights, (std::vector<double>{0.5, 0.5, 0, 0.5, 0, 0}));
  EXPECT_EQ(capped.out, (std::vector<double>{1.5, 1.5, 0, 0, 1.5, 1.5, 0, 0, 0}));
  EXPECT_EQ(capped.expert_counts, (std::vector<int64_t>{1, 1, 1}));

  moe.config.capacity_factor = 0.0;
  RefOutput dropless = moe.forward(x);
  ASSERT_TRUE(dropless.ok()) << dropless.error;
  EXPECT_EQ(dropless.dropped, (std::vector<uint8_t>(6, 0)));
  EXPECT_EQ(dropless.out, (std::vector<double>{1.5, 1.5, 0, 0, 2.5, 2.5, 2, 0, 2}));
  EXPECT_EQ(dropless.expert_counts, (std::vector<int64_t>{2, 2, 2}));
}

}  // namespace
}  // namespace onemoe::reference
