// Where a ticket at or past first_gemm2_ticket lands. GEMM2 tasks come in `groups` column groups (group g: the
// column tiles [gemm2_group_first_n_tile(g), ..(g + 1))). With groups == combine parts (one GPU), the combine
// tasks of column part c are spread evenly among the GEMM2 tasks of group c + 1, so the combine of the first
// columns runs beside the GEMM2 of the next ones instead of after all of it; part groups - 1 follows the last
// group. With groups == 1 (expert parallelism) every combine task follows all of GEMM2. Either way a combine
// task of part c waits only on GEMM2 group c (and earlier stages), whose tickets are all smaller.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define ONEMOE_HOST_DEVICE __host__ __device__
#else
#define ONEMOE_HOST_DEVICE
#endif

namespace onemoe::device {

// First GEMM2 column tile of group g (g == groups: one past the last).
ONEMOE_HOST_DEVICE inline int gemm2_group_first_n_tile(int n_tiles, int groups, int g) {
  return int(int64_t(n_tiles) * g / groups);
}

struct LateTicket {
  bool combine;
  int group;  // GEMM2: the column group
  int index;  // GEMM2: the task within its group; combine: tile * parts + part
};

// i: ticket - first_gemm2_ticket, below expert_tiles * n_tiles + route_tiles * parts. groups is 1 or parts.
ONEMOE_HOST_DEVICE inline LateTicket locate_late_ticket(uint32_t i, int expert_tiles, int n_tiles, int groups,
                                                        int route_tiles, int parts) {
  uint64_t start = 0;
  for (int s = 0; s <= groups; ++s) {
    const uint64_t gemm2 = s < groups ? uint64_t(expert_tiles) * uint64_t(gemm2_group_first_n_tile(n_tiles, groups, s + 1) -
                                                                          gemm2_group_first_n_tile(n_tiles, groups, s))
                                      : 0;
    // Combine tasks here: part s - 1 (one GPU), or every part in the last segment.
    const uint64_t combine = s == 0 ? 0 : s < groups ? uint64_t(route_tiles) : uint64_t(route_tiles) * uint64_t(parts - groups + 1);
    const uint64_t length = gemm2 + combine;
    if (i >= start + length) {
      start += length;
      continue;
    }
    const uint64_t local = i - start;
    // Bresenham: the combine tickets among the first local + 1 of the segment.
    const uint64_t combines_through = length == 0 ? 0 : (local + 1) * combine / length;
    const bool is_combine = combines_through > local * combine / length;
    if (!is_combine) return {false, s, int(local - combines_through)};
    const int j = int(combines_through - 1);
    if (groups == 1) return {true, 0, j};  // tile-major over (tile, part), as the combine numbers its tasks
    return {true, 0, j * parts + (s - 1)};
  }
  return {true, 0, -1};  // past the end: not a ticket of this forward
}

// The GEMM1 range on one GPU: one gather task per expert tile (it copies the tile's token rows into place,
// gather.cuh) interleaved with the GEMM1 tasks, which run row-tile-major (task = tile * n_tiles + column tile).
// The first `lead` gathers come first; then the GEMM1 tasks of tile t follow the gather of tile t + lead. So a
// gather always has a smaller ticket than every GEMM1 task of its tile, and about `lead` tiles are being
// gathered while earlier tiles compute. lead == 0: no gathers (the GEMM1 tasks alone, in order).
struct EarlyTicket {
  bool gather;
  int index;  // gather: the expert tile; GEMM1: the task
};

// Tickets of the range: expert_tiles * (n_tiles + 1) with gathers, expert_tiles * n_tiles without.
ONEMOE_HOST_DEVICE inline uint32_t gemm1_range_tickets(int expert_tiles, int n_tiles, int lead) {
  return uint32_t(expert_tiles) * uint32_t(n_tiles + (lead > 0 ? 1 : 0));
}

// i: ticket - first_gemm1_ticket, below gemm1_range_tickets(...). lead <= expert_tiles.
ONEMOE_HOST_DEVICE inline EarlyTicket locate_gemm1_ticket(uint32_t i, int expert_tiles, int n_tiles, int lead) {
  if (lead <= 0) return {false, int(i)};
  if (i < uint32_t(lead)) return {true, int(i)};
  i -= uint32_t(lead);
  // Tiles [0, expert_tiles - lead) bring a gather each: blocks of n_tiles + 1, the gather first.
  const uint32_t with_gather = uint32_t(expert_tiles - lead) * uint32_t(n_tiles + 1);
  if (i < with_gather) {
    const uint32_t tile = i / uint32_t(n_tiles + 1), r = i % uint32_t(n_tiles + 1);
    if (r == 0) return {true, int(tile) + lead};
    return {false, int(tile * uint32_t(n_tiles) + r - 1)};
  }
  i -= with_gather;
  return {false, int(uint32_t(expert_tiles - lead) * uint32_t(n_tiles) + i)};
}

}  // namespace onemoe::device
