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

}  // namespace onemoe::device
