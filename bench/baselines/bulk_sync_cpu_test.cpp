// Host-only checks of the bulk-synchronous baseline: placement, send order, byte accounting, argument checks.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "baselines/bulk_sync_baseline.h"

namespace onemoe::baselines {
namespace {

TEST(BulkSyncPlacement, ContiguousGivesTheFirstRanksTheRemainder) {
  EXPECT_EQ(contiguous_expert_to_rank(8, 4), (std::vector<int>{0, 0, 1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(contiguous_expert_to_rank(5, 2), (std::vector<int>{0, 0, 0, 1, 1}));
  EXPECT_EQ(contiguous_expert_to_rank(3, 4), (std::vector<int>{0, 1, 2}));  // rank 3 holds none
  for (int e : {1, 7, 32, 128})
    for (int r : {1, 2, 3, 4, 8}) {
      const std::vector<int> owner = contiguous_expert_to_rank(e, r);
      ASSERT_EQ(int(owner.size()), e);
      EXPECT_TRUE(std::is_sorted(owner.begin(), owner.end()));
      std::vector<int> held(r, 0);
      for (int o : owner) held[o]++;
      EXPECT_LE(*std::max_element(held.begin(), held.end()) - *std::min_element(held.begin(), held.end()), 1);
    }
}

TEST(BulkSyncPlacement, RankMajorOrderGroupsByOwnerThenId) {
  const std::vector<int> owner = {1, 0, 1, 0, 2, 0};
  // rank 0: experts 1,3,5 -> keys 0,1,2; rank 1: 0,2 -> 3,4; rank 2: 4 -> 5
  EXPECT_EQ(rank_major_expert_order(owner, 3), (std::vector<int32_t>{3, 0, 4, 1, 5, 2}));
  const std::vector<int> contiguous = contiguous_expert_to_rank(16, 4);
  std::vector<int32_t> identity(16);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(rank_major_expert_order(contiguous, 4), identity);
}

TEST(BulkSyncTraffic, CountsOnlyRowsThatCrossToOtherRanks) {
  // 2 ranks, 4 experts: rank 0 holds 0,1; rank 1 holds 2,3. counts[src*E + e].
  const std::vector<int> owner = {0, 0, 1, 1};
  const std::vector<int32_t> counts = {5, 1, 2, 3,    // rank 0's tokens
                                       4, 0, 6, 7};   // rank 1's tokens
  const int hidden = 64;
  const BulkSyncTraffic t0 = bulk_sync_traffic(counts, owner, 0, hidden, 2);
  EXPECT_EQ(t0.rows_local, 6u);
  EXPECT_EQ(t0.rows_to_peers, 5u);
  EXPECT_EQ(t0.rows_returned, 4u);  // rank 1's rows for experts 0 and 1
  EXPECT_EQ(t0.payload_bytes, (5u + 4u) * hidden * 2);
  EXPECT_EQ(t0.control_bytes, 4u * sizeof(int32_t));
  EXPECT_EQ(t0.total_bytes(), t0.payload_bytes + t0.control_bytes);
  const BulkSyncTraffic t1 = bulk_sync_traffic(counts, owner, 1, hidden, 4);
  EXPECT_EQ(t1.rows_local, 13u);
  EXPECT_EQ(t1.rows_to_peers, 4u);
  EXPECT_EQ(t1.rows_returned, 5u);
  EXPECT_EQ(t1.payload_bytes, 9u * hidden * 4);
  // What one rank sends out is what the other gets back: sums agree over ranks.
  EXPECT_EQ(t0.rows_to_peers, t1.rows_returned);
  EXPECT_EQ(t1.rows_to_peers, t0.rows_returned);
}

TEST(BulkSyncTraffic, OneRankSendsNothing) {
  const BulkSyncTraffic t = bulk_sync_traffic({3, 4}, {0, 0}, 0, 128, 2);
  EXPECT_EQ(t.rows_local, 7u);
  EXPECT_EQ(t.total_bytes(), 0u);
}

TEST(BulkSyncCanImplement, DroplessOnlyAndValidPlacement) {
  const MoeShape shape{64, 8, 2, 128, 128};
  MoeConfig config;
  EXPECT_TRUE(BulkSyncBaseline::can_implement(shape, config, 2, {}).ok());
  EXPECT_TRUE(BulkSyncBaseline::can_implement(MoeShape{0, 8, 2, 128, 128}, config, 2, {}).ok());
  EXPECT_TRUE(BulkSyncBaseline::can_implement(shape, config, 2, {1, 0, 1, 0, 1, 0, 1, 0}).ok());
  EXPECT_EQ(BulkSyncBaseline::can_implement(shape, config, 2, {0, 1}).status, Status::kErrorInvalidArgument);
  EXPECT_EQ(BulkSyncBaseline::can_implement(shape, config, 2, {0, 0, 0, 0, 0, 0, 0, 2}).status,
            Status::kErrorInvalidArgument);
  EXPECT_EQ(BulkSyncBaseline::can_implement(shape, config, 0, {}).status, Status::kErrorInvalidArgument);
  config.capacity_factor = 1.25f;
  const Result r = BulkSyncBaseline::can_implement(shape, config, 2, {});
  EXPECT_EQ(r.status, Status::kErrorNotSupported);
  EXPECT_NE(r.message.find("dropless"), std::string::npos);
}

TEST(BulkSyncCreate, RejectsANullCommWithoutTouchingTheDevice) {
  std::unique_ptr<BulkSyncBaseline> out;
  const Result r = BulkSyncBaseline::create(MoeShape{64, 8, 2, 128, 128}, MoeConfig{}, nullptr, {}, &out);
  EXPECT_EQ(r.status, Status::kErrorInvalidArgument);
  EXPECT_EQ(out, nullptr);
}

}  // namespace
}  // namespace onemoe::baselines
