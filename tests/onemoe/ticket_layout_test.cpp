// The ticket layouts of ticket_layout.h. The late one (GEMM2 column groups with the combine interleaved): every
// GEMM2 and combine task gets exactly one ticket, and a combine task of part c comes after every GEMM2 task of
// group c, its only GEMM2 dependency. The GEMM1 range (gathers interleaved): every gather and GEMM1 task gets
// exactly one ticket, and a tile's gather comes before each of its GEMM1 tasks. (The scheduler's no-cycle
// argument needs waits on smaller tickets only.)
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "device/ticket_layout.h"

namespace onemoe {
namespace {

struct Layout {
  int expert_tiles, n_tiles, route_tiles, parts;
  bool grouped;  // groups == parts (one GPU), else 1 (expert parallelism)
};

TEST(TicketLayout, EveryTaskOnceAndCombineAfterItsGroup) {
  for (const Layout& l : {Layout{3, 16, 2, 2, true}, Layout{263, 16, 1, 8, true}, Layout{384, 16, 128, 2, true},
                          Layout{5, 11, 3, 4, true}, Layout{7, 16, 4, 2, false}, Layout{1, 2, 1, 1, true},
                          Layout{0, 16, 1, 8, true}}) {
    const int groups = l.grouped ? l.parts : 1;
    const uint32_t total = uint32_t(l.expert_tiles * l.n_tiles + l.route_tiles * l.parts);
    std::vector<std::vector<int>> gemm2_seen(groups);
    std::vector<int> combine_seen(size_t(l.route_tiles) * l.parts, 0);
    std::vector<int64_t> last_gemm2_ticket(groups, -1), first_combine_ticket(l.parts, INT64_MAX);
    for (int g = 0; g < groups; ++g) {
      const int n = device::gemm2_group_first_n_tile(l.n_tiles, groups, g + 1) - device::gemm2_group_first_n_tile(l.n_tiles, groups, g);
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
    for (int part = 0; part < l.parts; ++part) {
      const int group = l.grouped ? part : 0;
      // Grouped: part c waits on group c; one group: every part waits on all of GEMM2.
      const int64_t must_follow = l.grouped ? last_gemm2_ticket[group]
                                            : *std::max_element(last_gemm2_ticket.begin(), last_gemm2_ticket.end());
      EXPECT_GT(first_combine_ticket[part], must_follow) << "part " << part;
    }
    // Grouped, more than one group: part 0's combine starts before the last group's GEMM2 is over (the overlap).
    if (l.grouped && groups > 1 && l.expert_tiles > 0)
      EXPECT_LT(first_combine_ticket[0], last_gemm2_ticket[groups - 1]);
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

}  // namespace
}  // namespace onemoe
