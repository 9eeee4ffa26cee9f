// Host-side checks of the expert-parallel API: world size, placement validation and the default placement.
#include <gtest/gtest.h>

#include <vector>

#include "onemoe/distributed.h"

namespace onemoe {
namespace {

TEST(ExpertParallelArgs, RejectsBadPlacementAndWorldSize) {
  const MoeShape s{128, 8, 2, 512, 512};
  const MoeConfig cfg;
  EXPECT_EQ(DistributedContext::can_implement(s, cfg, 9, {}).status, Status::kErrorNotSupported);
  EXPECT_EQ(DistributedContext::can_implement(s, cfg, 2, {{0, 1, 2, 0, 1, 0, 1, 0}}).status,
            Status::kErrorInvalidArgument);
  EXPECT_EQ(DistributedContext::can_implement(s, cfg, 2, {{0, 1}}).status, Status::kErrorInvalidArgument);
  EXPECT_TRUE(DistributedContext::can_implement(s, cfg, 2, {}).ok());
  EXPECT_EQ(contiguous_placement(7, 2), (std::vector<int>{0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(contiguous_placement(30, 4).size(), 30u);
}

}  // namespace
}  // namespace onemoe
