// The ticket layouts of ticket_layout.h. The late one (GEMM2 column groups with the combine interleaved): every
// GEMM2 and combine task gets exactly one ticket, and a combine task of part c comes after every GEMM2 task of
// group c, its only GEMM2 dependency. The GEMM1 range (gathers interleaved): every gather and GEMM1 task gets
// exactly one ticket, and a tile's gather comes before each of its GEMM1 tasks. (The scheduler's no-cycle
// argument needs waits on smaller tickets only.)
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "device/ticket_layout.h"

namespace onemoe {
namespace {

struct Layout {
  int expert_tiles, n_tiles, route_tiles, parts, groups;  // parts: a multiple of groups
};

TEST(TicketLayout, EveryTaskOnceAndCombineAfterItsGroup) {
  for (const Layout& l : {Layout{3, 16, 2, 2, 2}, Layout{263, 16, 1, 8, 8}, Layout{384, 16, 128, 2, 2},
                          Layout{384, 16, 128, 4, 2}, Layout{5, 11, 3, 4, 4}, Layout{5, 11, 3, 6, 3},
                          Layout{7, 16, 4, 2, 1}, Layout{130, 16, 1, 8, 1}, Layout{1, 2, 1, 1, 1},
                          Layout{0, 16, 1, 8, 8}, Layout{0, 16, 1, 8, 4}}) {
    const int groups = l.groups, per_group = l.parts / l.groups;
    const uint32_t total = uint32_t(l.expert_tiles * l.n_tiles + l.route_tiles * l.parts);
    std::vector<std::vector<int>> gemm2_seen(groups);
    std::vector<int> combine_seen(size_t(l.route_tiles) * l.parts, 0);
    std::vector<int64_t> last_gemm2_ticket(groups, -1), first_combine_ticket(l.parts, INT64_MAX);
    for (int g = 0; g < groups; ++g) {
      const int n = device::gemm2_group_n_tiles(l.n_tiles, groups, g);
      gemm2_seen[g].assign(size_t(l.expert_tiles) * n, 0);
    }
    for (uint32_t i = 0; i < total; ++i) {
      const device::LateTicket t = device::locate_late_ticket(i, l.expert_tiles, l.n_tiles, groups, l.route_tiles, l.parts);
      if (t.combine) {
        ASSERT_GE(t.index, 0);
        ASSERT_LT(t.index, int(combine_seen.size()));
        ++combine_seen[size_t(t.index)];
        const int part = t.index % l.parts;
        first_combine_ticket[part] = std::min<int64_t>(first_combine_ticket[part], i);
      } else {
        ASSERT_GE(t.group, 0);
        ASSERT_LT(t.group, groups);
        ASSERT_GE(t.index, 0);
        ASSERT_LT(t.index, int(gemm2_seen[t.group].size()));
        ++gemm2_seen[t.group][size_t(t.index)];
        last_gemm2_ticket[t.group] = i;
      }
    }
    for (const auto& seen : gemm2_seen)
      for (int c : seen) EXPECT_EQ(c, 1);
    for (int c : combine_seen) EXPECT_EQ(c, 1);
    for (int part = 0; part < l.parts; ++part)  // a part waits on its group only
      EXPECT_GT(first_combine_ticket[part], last_gemm2_ticket[part / per_group]) << "part " << part;
    // More than one group: part 0's combine starts before the last group's GEMM2 is over (the overlap).
    if (groups > 1 && l.expert_tiles > 0) EXPECT_LT(first_combine_ticket[0], last_gemm2_ticket[groups - 1]);
  }
}

TEST(TicketLayout, CombinePartsCutTheirGroupsColumnsInOrder) {
  struct Cut {
    int hidden_vecs, vecs_per_tile, n_tiles, groups, parts;
  };
  // bf16 H = 2048 (256 vectors of 16 bytes, 16 per tile), H = 1408 (11 tiles), and H = 64 (half a tile).
  for (const Cut& c : {Cut{256, 16, 16, 2, 4}, Cut{256, 16, 16, 2, 2}, Cut{256, 16, 16, 1, 8}, Cut{176, 16, 11, 5, 5},
                       Cut{176, 16, 11, 1, 5}, Cut{176, 16, 11, 3, 6}, Cut{8, 16, 1, 1, 1}}) {
    int next = 0;
    for (int part = 0; part < c.parts; ++part) {
      const device::PartColumns pc =
          device::combine_part_columns(c.hidden_vecs, c.vecs_per_tile, c.n_tiles, c.groups, c.parts, part);
      EXPECT_EQ(pc.group, part / (c.parts / c.groups));
      EXPECT_EQ(pc.v0, next) << "part " << part;  // contiguous, in order, no gap or overlap
      EXPECT_GE(pc.vecs, 0);
      // Inside its group's column tiles.
      EXPECT_GE(pc.v0, device::gemm2_group_first_n_tile(c.n_tiles, c.groups, pc.group) * c.vecs_per_tile);
      EXPECT_LE(pc.v0 + pc.vecs, device::gemm2_group_first_n_tile(c.n_tiles, c.groups, pc.group + 1) * c.vecs_per_tile);
      next = pc.v0 + pc.vecs;
    }
    EXPECT_EQ(next, c.hidden_vecs);
  }
}

TEST(TicketLayout, Gemm1RangeEveryTaskOnceAndGatherBeforeItsTile) {
  struct Range {
    int expert_tiles, n_tiles, lead;
  };
  for (const Range& r : {Range{384, 16, 64}, Range{130, 16, 64}, Range{3, 16, 3}, Range{70, 8, 64}, Range{1, 1, 1},
                         Range{5, 32, 0}, Range{0, 16, 0}}) {
    const uint32_t total = device::gemm1_range_tickets(r.expert_tiles, r.n_tiles, r.lead);
    EXPECT_EQ(total, uint32_t(r.expert_tiles * (r.n_tiles + (r.lead > 0 ? 1 : 0))));
    std::vector<int> gemm1_seen(size_t(r.expert_tiles) * r.n_tiles, 0), gather_seen(size_t(r.expert_tiles), 0);
    std::vector<int64_t> gather_ticket(size_t(r.expert_tiles), -1), first_gemm1_ticket(size_t(r.expert_tiles), INT64_MAX);
    for (uint32_t i = 0; i < total; ++i) {
      const device::EarlyTicket t = device::locate_gemm1_ticket(i, r.expert_tiles, r.n_tiles, r.lead);
      ASSERT_GE(t.index, 0);
      if (t.gather) {
        ASSERT_LT(t.index, r.expert_tiles);
        ++gather_seen[size_t(t.index)];
        gather_ticket[size_t(t.index)] = i;
      } else {
        ASSERT_LT(t.index, int(gemm1_seen.size()));
        ++gemm1_seen[size_t(t.index)];
        const size_t tile = size_t(t.index / r.n_tiles);  // row-tile-major
        first_gemm1_ticket[tile] = std::min<int64_t>(first_gemm1_ticket[tile], i);
      }
    }
    for (int c : gemm1_seen) EXPECT_EQ(c, 1);
    for (int c : gather_seen) EXPECT_EQ(c, r.lead > 0 ? 1 : 0);
    if (r.lead > 0)
      for (int tile = 0; tile < r.expert_tiles; ++tile)
        EXPECT_LT(gather_ticket[size_t(tile)], first_gemm1_ticket[size_t(tile)]) << "tile " << tile;
  }
}

// Expert parallelism: every dispatch task (chunk, route tile) and every GEMM1 task once; the dispatch of chunk c
// before every GEMM1 task of chunk c's tiles, and the lead chunks' before everything else; GEMM1 tasks in tile
// order.
TEST(TicketLayout, EpMiddleRangeEveryTaskOnceAndDispatchBeforeItsChunk) {
  struct Range {
    int route_tiles, chunks, max_tiles, n_tiles;
    std::vector<int32_t> chunk_tile_begin;  // chunks + 1 entries
  };
  const std::vector<Range> ranges = {
      {128, 8, 320, 8, {0, 32, 64, 96, 128, 160, 192, 224, 256}},  // two GPUs, main row
      {1, 8, 68, 8, {0, 8, 16, 24, 32, 40, 48, 56, 64}},            // decode
      {128, 8, 1056, 8, {0, 32, 64, 96, 128, 160, 192, 224, 256}},  // four GPUs: most tiles never used
      {3, 4, 20, 5, {0, 0, 7, 7, 9}},                                // empty chunks
      {0, 8, 10, 4, {0, 2, 2, 3, 5, 5, 8, 9, 10}},                   // no tokens on this rank
      {5, 1, 6, 3, {0, 6}},                                          // one chunk
      {2, 2, 4, 2, {0, 0, 0}},                                       // no tiles at all
  };
  for (int lead : {1, 2, 3, 8}) {
    for (const Range& r : ranges) {
      if (lead > r.chunks) continue;
      SCOPED_TRACE("route tiles " + std::to_string(r.route_tiles) + ", chunks " + std::to_string(r.chunks) +
                   ", lead " + std::to_string(lead));
      const uint32_t total = device::ep_middle_range_tickets(r.route_tiles, r.chunks, r.max_tiles, r.n_tiles);
      std::vector<int> dispatch_seen(size_t(r.route_tiles) * r.chunks, 0), gemm1_seen(size_t(r.max_tiles) * r.n_tiles, 0);
      std::vector<int64_t> last_dispatch_of_chunk(size_t(r.chunks), -1);
      std::vector<int64_t> first_gemm1_of_chunk(size_t(r.chunks), INT64_MAX);
      int last_gemm1_task = -1;
      for (uint32_t i = 0; i < total; ++i) {
        const device::EpMiddleTicket t =
            device::locate_ep_middle_ticket(i, r.route_tiles, r.chunks, lead, r.chunk_tile_begin.data(),
                                            r.n_tiles);
        if (t.dispatch) {
          ASSERT_GE(t.chunk, 0);
          ASSERT_LT(t.chunk, r.chunks);
          ASSERT_GE(t.index, 0);
          ASSERT_LT(t.index, r.route_tiles);
          ++dispatch_seen[size_t(t.chunk) * r.route_tiles + t.index];
          last_dispatch_of_chunk[size_t(t.chunk)] = i;
          continue;
        }
        ASSERT_GE(t.index, 0);
        ASSERT_LT(t.index, int(gemm1_seen.size()));
        ++gemm1_seen[size_t(t.index)];
        EXPECT_GT(t.index, last_gemm1_task) << "GEMM1 tasks in tile order";
        last_gemm1_task = t.index;
        const int tile = t.index / r.n_tiles;
        for (int c = 0; c < r.chunks; ++c)
          if (tile >= r.chunk_tile_begin[size_t(c)] && tile < r.chunk_tile_begin[size_t(c) + 1])
            first_gemm1_of_chunk[size_t(c)] = std::min<int64_t>(first_gemm1_of_chunk[size_t(c)], i);
      }
      for (int c : dispatch_seen) EXPECT_EQ(c, 1);
      for (int c : gemm1_seen) EXPECT_EQ(c, 1);
      for (int c = 0; c < r.chunks; ++c) {
        EXPECT_LT(last_dispatch_of_chunk[size_t(c)], first_gemm1_of_chunk[size_t(c)]) << "chunk " << c;
        if (c < lead && r.route_tiles > 0)  // the lead chunks come first
          EXPECT_LT(last_dispatch_of_chunk[size_t(c)], int64_t(r.route_tiles) * lead) << "chunk " << c;
      }
    }
  }
}

}  // namespace
}  // namespace onemoe
