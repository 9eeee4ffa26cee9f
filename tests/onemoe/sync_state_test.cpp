// Host-side sizing of the persistent sync state and the plan choices that guard it (docs/reliability.md).
// No GPU needed.
#include <gtest/gtest.h>

#include <cstdint>

#include "host/ep_layout.h"
#include "host/plan.h"
#include "onemoe/distributed.h"

namespace onemoe {
namespace {

// gemm2_tiles_done holds a counter per (expert tile, GEMM2 group). Builds with GEMM2 tiles narrower than 256
// columns split GEMM2 into groups once T has 64 route tiles; every T up to max_tokens must fit what the context
// allocated for max_tokens, whatever the build's tile width.
TEST(SyncState, Gemm2CountersHoldEveryTokenCount) {
  for (int tile_n : {128, 256}) {
    for (int hidden : {256, 512, 1024, 2048, 7168}) {
      for (int64_t max_tokens : {int64_t(100), int64_t(8192), int64_t(9000), int64_t(16384)}) {
        const MoeShape max_shape{max_tokens, 64, 2, hidden, 512};
        const host::SyncLayout l = host::sync_layout(max_shape, tile_n);
        const size_t capacity = (l.dispatch_done - l.gemm2_tiles_done) / sizeof(uint32_t);
        for (int64_t T = 1; T <= max_tokens; T += 127) {
          MoeShape s = max_shape;
          s.num_tokens = T;
          const size_t used = size_t(host::max_expert_tiles(s)) * size_t(host::one_gpu_combine(s, tile_n).groups);
          ASSERT_LE(used, capacity) << "tile_n=" << tile_n << " H=" << hidden << " max_tokens=" << max_tokens
                                    << " T=" << T;
        }
      }
    }
  }
  // The case that needs the groups: 128-column tiles, 64 route tiles, H = 512 (four groups; H / 256 is two).
  const MoeShape s{64 * 128, 64, 2, 512, 512};
  EXPECT_EQ(host::one_gpu_combine(s, 128).groups, 4);
  EXPECT_EQ(host::sync_layout(s, 128).gemm2_groups, 4);
}

// The GEMM1 warm-up reads weight 0 through the w1 descriptor; a rank that holds no experts has neither.
TEST(SyncState, NoWarmUpOnARankWithoutExperts) {
  const MoeShape max_shape{128, 8, 2, 512, 512};
  const MoeConfig config;
  const std::vector<int> all_on_rank0(8, 0);
  const host::EpSizes sizes = host::ep_sizes(max_shape, 2, all_on_rank0);
  device::EpKernelParams ep{};
  ep.num_local_experts = 0;
  host::fill_ep_plan(max_shape, config, sizes, &ep);
  EXPECT_EQ(ep.base.warm_gemm1, 0);
  ep = {};
  ep.num_local_experts = 8;
  host::fill_ep_plan(max_shape, config, sizes, &ep);
  EXPECT_EQ(ep.base.warm_gemm1, 1) << "a decode-sized T with local experts does warm up";
}

// Both layouts carry the epoch word outside the counters the kernel clears, and the EP inbox has one copy per
// epoch parity.
TEST(SyncState, EpochWordAndTwoInboxes) {
  const MoeShape s{1000, 32, 2, 1024, 768};
  const host::SyncLayout l = host::sync_layout(s);
  EXPECT_GE(l.forward_epoch, l.error + sizeof(device::ErrorRecord));
  EXPECT_LE(l.forward_epoch + sizeof(uint32_t), l.total_bytes);
  for (int world : {1, 2, 4, 8}) {
    const host::EpSizes sizes = host::ep_sizes(s, world, contiguous_placement(32, world));
    const device::EpWindowLayout w = host::ep_window_layout(s, MoeConfig{}, sizes);
    EXPECT_GE(w.output_done - w.inbox, 2 * size_t(world) * size_t(s.num_experts + 1) * sizeof(uint64_t));
    const host::EpLocalLayout local = host::ep_local_layout(s, MoeConfig{}, sizes, 32 / world);
    EXPECT_LE(local.forward_epoch + sizeof(uint32_t), local.total_bytes);
  }
}

}  // namespace
}  // namespace onemoe
