// Host-side sizing of the expert-parallel forward: the window regions, the worst-case expert tiles a rank can
// receive, and the ticket ranges (docs/protocol.md). No GPU needed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "device/ticket_layout.h"
#include "host/ep_layout.h"
#include "host/plan.h"
#include "onemoe/distributed.h"

namespace onemoe {
namespace {

// Tiles an owner needs when `rows_per_expert` rows land on its experts (each expert rounds up to whole tiles).
int64_t tiles_needed(const std::vector<int64_t>& rows_per_expert) {
  int64_t tiles = 0;
  for (int64_t r : rows_per_expert) tiles += (r + device::kTileM - 1) / device::kTileM;
  return tiles;
}

TEST(EpLayout, WindowHoldsTheWorstCaseRouting) {
  std::mt19937 rng(7);
  for (int world : {1, 2, 3, 4, 8}) {
    for (int experts : {8, 30, 128, 256}) {
      if (experts < world) continue;
      for (int top_k : {1, 2, 8}) {
        if (top_k > experts) continue;
        const MoeShape shape{777, experts, top_k, 512, 512};
        const std::vector<int> owner = contiguous_placement(experts, world);
        const host::EpSizes sizes = host::ep_sizes(shape, world, owner);
        // Every token of every rank routes its k pairs to rank 0's experts, spread at random: the most rows
        // one window can ever receive, in the most fragmented way.
        std::vector<int> mine;
        for (int e = 0; e < experts; ++e)
          if (owner[e] == 0) mine.push_back(e);
        std::vector<int64_t> rows(experts, 0);
        const int64_t pairs = int64_t(world) * shape.num_tokens * top_k;
        for (int64_t i = 0; i < pairs; ++i) ++rows[mine[rng() % mine.size()]];
        EXPECT_LE(tiles_needed(rows), sizes.max_expert_tiles) << "R=" << world << " E=" << experts << " k=" << top_k;
      }
    }
  }
}

TEST(EpLayout, WindowRegionsAreAlignedDisjointAndCovered) {
  const MoeShape shape{4096, 64, 2, 2048, 1408};
  MoeConfig config;
  config.dtype = DType::kFP16;
  const host::EpSizes sizes = host::ep_sizes(shape, 4, contiguous_placement(64, 4));
  const device::EpWindowLayout w = host::ep_window_layout(shape, config, sizes);
  const uint64_t tiles = uint64_t(sizes.max_expert_tiles), rows = tiles * device::kTileM;
  struct Region {
    uint64_t offset, bytes;
  };
  std::vector<Region> regions = {{w.inbox, 4ull * (64 + 1) * 8},
                                 {w.output_done, tiles * 4},
                                 {w.row_source, rows * 8},
                                 {w.row_tile_ready, tiles * 4},
                                 {w.expert_in, rows * 2048 * 2},
                                 {w.returned, 4096ull * 2 * 2048 * 2}};
  std::sort(regions.begin(), regions.end(), [](const Region& a, const Region& b) { return a.offset < b.offset; });
  for (size_t i = 0; i < regions.size(); ++i) {
    EXPECT_EQ(regions[i].offset % 256, 0u);
    if (i + 1 < regions.size()) EXPECT_LE(regions[i].offset + regions[i].bytes, regions[i + 1].offset);
  }
  EXPECT_LE(regions.back().offset + regions.back().bytes, w.total_bytes);
  EXPECT_EQ(w.total_bytes % (uint64_t(1) << 21), 0u);
}

TEST(Plan, CombinePartsSpreadSmallTOverTheGrid) {
  struct Expect {
    int64_t T;
    int H, combine;
    int groups, one_gpu_combine;  // one GPU: GEMM2 groups (T >= 64 route tiles) and combine parts
  };
  // ceil(256 / route tiles), at most H / 64. One GPU with
  // 128-column expert tiles (a tuning build), from 64 route tiles on: that many GEMM2 groups, each with two
  // combine parts where H has room. With the default 128x256 tiles: one group and the plain combine parts.
  for (const Expect& x : {Expect{16384, 2048, 2, 2, 4}, Expect{8192, 2048, 4, 4, 8}, Expect{128, 2048, 32, 1, 32},
                          Expect{1000, 2048, 32, 1, 32}, Expect{1000, 1536, 24, 1, 24}, Expect{128, 512, 8, 1, 8},
                          Expect{128, 64, 1, 1, 1}, Expect{65536, 2048, 1, 1, 2}, Expect{8192, 768, 4, 4, 4}}) {
    const MoeShape shape{x.T, 8, 2, x.H, 512};
    EXPECT_EQ(host::combine_parts(shape), x.combine) << "T=" << x.T << " H=" << x.H;
    device::KernelParams p{};
    host::fill_plan(shape, MoeConfig{}, &p);
    constexpr bool kNarrowTiles = device::kExpertTileN < 256;
    EXPECT_EQ(p.gemm2_groups, kNarrowTiles ? x.groups : 1) << "T=" << x.T << " H=" << x.H;
    EXPECT_EQ(p.combine_parts, kNarrowTiles ? x.one_gpu_combine : x.combine) << "T=" << x.T << " H=" << x.H;
    EXPECT_EQ(p.combine_parts % p.gemm2_groups, 0);
    // One GPU: one dispatch task per route tile (it only names rows), and a gather per expert tile among the
    // GEMM1 tasks.
    EXPECT_EQ(p.first_gemm1_ticket - p.first_dispatch_ticket, uint32_t(p.num_route_tiles));
    EXPECT_EQ(p.gather_lead, std::min(128, p.max_expert_tiles));
    EXPECT_EQ(p.first_gemm2_ticket - p.first_gemm1_ticket, uint32_t(p.max_expert_tiles * (p.gemm1_n_tiles + 1)));
    EXPECT_EQ(p.num_tickets - p.first_combine_ticket, uint32_t(p.num_route_tiles * p.combine_parts));
  }
}

TEST(EpLayout, GemmCodeIsWarmedOnlyAtASmallTOnTmaTiles) {
  MoeConfig config;  // bf16
  EXPECT_TRUE(host::warm_gemm1(MoeShape{128, 128, 2, 2048, 2048}, config));
  EXPECT_TRUE(host::warm_gemm1(MoeShape{1024, 128, 2, 2048, 2048}, config));
  EXPECT_FALSE(host::warm_gemm1(MoeShape{1025, 128, 2, 2048, 2048}, config));
  config.dtype = DType::kFP32;  // TF32: TMA tiles
  EXPECT_TRUE(host::warm_gemm1(MoeShape{128, 128, 2, 2048, 2048}, config));
  config.fp32_math = Fp32Math::kFFMA;  // exact fp32: plain loads, never warmed
  EXPECT_FALSE(host::warm_gemm1(MoeShape{128, 128, 2, 2048, 2048}, config));
  // The warm-up's scratch tile: one tile of expert_hidden past the most any forward fills.
  const MoeShape shape{128, 128, 2, 2048, 1024};
  const host::WorkspaceLayout l = host::workspace_layout(shape, config);
  EXPECT_GE(l.expert_out - l.expert_hidden,
            size_t(host::max_expert_tiles(shape) + 1) * device::kTileM * 1024 * dtype_size(config.dtype));
}

TEST(EpLayout, DispatchLeadIsAboutOneWaveAndEveryChunkForFewRouteTiles) {
  constexpr int C = device::kEpDispatchChunks;
  EXPECT_EQ(host::ep_dispatch_lead_chunks(128, 132), std::min(2, C));  // T = 16384: two chunks, 256 tasks
  EXPECT_EQ(host::ep_dispatch_lead_chunks(64, 132), std::min(3, C));
  EXPECT_EQ(host::ep_dispatch_lead_chunks(1, 132), C);  // decode: every chunk first
  EXPECT_EQ(host::ep_dispatch_lead_chunks(0, 132), C);  // no tokens: no dispatch tasks at all
  EXPECT_EQ(host::ep_dispatch_lead_chunks(1000, 132), std::min(2, C));
  for (int route_tiles : {0, 1, 7, 64, 128, 5000}) {
    const int lead = host::ep_dispatch_lead_chunks(route_tiles, 132);
    EXPECT_GE(lead, 1);
    EXPECT_LE(lead, C);
  }
}

TEST(EpLayout, TicketsHaveOnePlanTaskBetweenRouteAndDispatch) {
  const MoeShape max_shape{1000, 32, 2, 1024, 768};
  const MoeConfig config;
  const host::EpSizes sizes = host::ep_sizes(max_shape, 2, contiguous_placement(32, 2));
  for (int64_t tokens : {int64_t(0), int64_t(1), int64_t(300), int64_t(1000)}) {
    MoeShape shape = max_shape;
    shape.num_tokens = tokens;
    device::EpKernelParams ep{};
    host::fill_ep_plan(shape, config, sizes, &ep);
    const device::KernelParams& p = ep.base;
    const uint32_t route = uint32_t((tokens + device::kTileM - 1) / device::kTileM);
    EXPECT_EQ(uint32_t(p.num_route_tiles), route);
    EXPECT_EQ(p.first_dispatch_ticket, route + 1);           // ticket `route` is the plan
    EXPECT_EQ(p.gather_lead, 0);                             // the expert-parallel dispatch copies rows itself
    EXPECT_EQ(p.dispatch_parts, device::kEpDispatchChunks);  // a dispatch task per route tile and chunk
    EXPECT_EQ(p.combine_parts, host::combine_parts(shape));
    // The dispatch chunks and GEMM1 share one range (locate_ep_middle_ticket).
    EXPECT_EQ(p.first_gemm1_ticket, p.first_dispatch_ticket);
    EXPECT_EQ(p.first_gemm2_ticket - p.first_dispatch_ticket,
              device::ep_middle_range_tickets(int(route), p.dispatch_parts, sizes.max_expert_tiles, p.gemm1_n_tiles));
    EXPECT_EQ(p.first_combine_ticket - p.first_gemm2_ticket, uint32_t(sizes.max_expert_tiles * p.gemm2_n_tiles));
    EXPECT_EQ(p.num_tickets, p.first_combine_ticket + route * uint32_t(p.combine_parts));
    EXPECT_GE(p.combine_parts, 1);
    EXPECT_EQ(p.max_expert_tiles, sizes.max_expert_tiles);
  }
}

}  // namespace
}  // namespace onemoe
