// compare(), compare_rows() and count_routing_mismatches() on values whose verdict is clear by hand.
#include "reference/compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace onemoe::reference {
namespace {

TEST(Compare, TolerancesFollowTheSpec) {
  EXPECT_EQ(tolerance_for(CheckDType::kBF16).max_rel_l2, 1e-2);
  EXPECT_EQ(tolerance_for(CheckDType::kFP16).max_rel_l2, 1e-2);
  EXPECT_EQ(tolerance_for(CheckDType::kTF32).max_rel_l2, 5e-3);
  EXPECT_EQ(tolerance_for(CheckDType::kFP32).max_rel_l2, 1e-5);
}

TEST(Compare, IdenticalPasses) {
  const std::vector<double> ref = {1.0, -2.0, 0.5, 0.0};
  const std::vector<float> got = {1.0f, -2.0f, 0.5f, 0.0f};
  CompareResult r = compare(got.data(), ref.data(), 4, tolerance_for(CheckDType::kFP32));
  EXPECT_TRUE(r.pass) << r.summary;
  EXPECT_EQ(r.rel_l2, 0.0);
  EXPECT_EQ(r.num_wrong, 0);
  EXPECT_EQ(r.first_wrong_index, -1);
}

TEST(Compare, NaNNeverPasses) {
  const std::vector<double> ref = {1.0, 1.0, 1.0};
  const std::vector<float> got = {1.0f, std::numeric_limits<float>::quiet_NaN(), 1.0f};
  CompareResult r = compare(got.data(), ref.data(), 3, {1e9, 1e9, 1e9});  // even with any tolerance
  EXPECT_FALSE(r.pass) << r.summary;
  EXPECT_EQ(r.num_nan, 1);
  EXPECT_EQ(r.num_wrong, 1);
  EXPECT_EQ(r.first_wrong_index, 1);
}

TEST(Compare, InfWhereRefIsFiniteIsWrong) {
  const std::vector<double> ref = {1.0, 1.0};
  const std::vector<float> got = {1.0f, std::numeric_limits<float>::infinity()};
  CompareResult r = compare(got.data(), ref.data(), 2, tolerance_for(CheckDType::kBF16));
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.num_wrong, 1);
  EXPECT_EQ(r.rel_l2, std::numeric_limits<double>::infinity());
}

// ref = ones, so rms = 1. bf16: an element may be off by 5e-2·1 + 1e-2·1 = 0.06.
TEST(Compare, ElementToleranceIsAtolTimesRmsPlusRtol) {
  const std::vector<double> ref(4, 1.0);
  std::vector<float> got(4, 1.0f);
  got[2] = 1.07f;  // outside 0.06; rel_l2 = 0.07/2 = 0.035 > 1e-2 as well
  CompareResult r = compare(got.data(), ref.data(), 4, tolerance_for(CheckDType::kBF16));
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.num_wrong, 1);
  EXPECT_EQ(r.first_wrong_index, 2);
  EXPECT_NEAR(r.rel_l2, 0.035, 1e-6);

  got[2] = 1.05f;  // inside 0.06, but rel_l2 = 0.025 still fails the tensor
  r = compare(got.data(), ref.data(), 4, tolerance_for(CheckDType::kBF16));
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.num_wrong, 0);
}

// 10000 ones, one element off by 0.5: rel_l2 = 0.5/100 = 5e-3 passes bf16's 1e-2, the element does not.
TEST(Compare, OneBadElementFailsEvenWhenRelL2Passes) {
  const std::vector<double> ref(10000, 1.0);
  std::vector<float> got(10000, 1.0f);
  got[1234] = 1.5f;
  CompareResult r = compare(got.data(), ref.data(), 10000, tolerance_for(CheckDType::kBF16));
  EXPECT_NEAR(r.rel_l2, 5e-3, 1e-9);
  EXPECT_EQ(r.num_wrong, 1);
  EXPECT_EQ(r.first_wrong_index, 1234);
  EXPECT_FALSE(r.pass) << r.summary;
}

// All-zero reference (e.g. every token dropped): only exact zeros pass.
TEST(Compare, ZeroReferenceNeedsExactZeros) {
  const std::vector<double> ref(3, 0.0);
  std::vector<float> got(3, 0.0f);
  EXPECT_TRUE(compare(got.data(), ref.data(), 3, tolerance_for(CheckDType::kBF16)).pass);
  got[0] = 1e-6f;
  EXPECT_FALSE(compare(got.data(), ref.data(), 3, tolerance_for(CheckDType::kBF16)).pass);
}

TEST(Compare, SkippedRowsAreNotChecked) {
  const std::vector<double> ref = {1, 1, 2, 2, 3, 3};  // 3 rows of 2
  const std::vector<float> got = {1, 1, 9, 9, 3, 3};
  EXPECT_FALSE(compare_rows(got.data(), ref.data(), 3, 2, {}, tolerance_for(CheckDType::kFP32)).pass);
  CompareResult r = compare_rows(got.data(), ref.data(), 3, 2, {0, 1, 0}, tolerance_for(CheckDType::kFP32));
  EXPECT_TRUE(r.pass) << r.summary;
  EXPECT_FALSE(compare_rows(got.data(), ref.data(), 3, 2, {0, 1}, tolerance_for(CheckDType::kFP32)).pass);
}

// Token 0: clear margin, same set in another order -> match. Token 1: near tie -> ignored.
// Token 2: clear margin, different set -> one mismatch.
TEST(Compare, RoutingMismatchesIgnoreNearTies) {
  RefOutput ref;
  ref.topk_ids = {0, 1, 2, 3, 1, 3};
  ref.topk_margin = {0.5, 1e-4, 0.2};
  const std::vector<int32_t> got = {1, 0, 3, 1, 1, 2};
  EXPECT_EQ(count_routing_mismatches(got.data(), ref, 3, 2, 1e-3), 1);
  EXPECT_EQ(count_routing_mismatches(got.data(), ref, 3, 2, 1e-5), 2);   // token 1 now counts
  EXPECT_EQ(count_routing_mismatches(got.data(), ref, 4, 2, 1e-3), -1);  // sizes do not match ref
  EXPECT_EQ(near_tie_tokens(ref, 1e-3), (std::vector<uint8_t>{0, 1, 0}));
}

}  // namespace
}  // namespace onemoe::reference
