// Where a ticket at or past first_gemm2_ticket lands. GEMM2 tasks come in `groups` column groups (group g: the
// column tiles [gemm2_group_first_n_tile(g), ..(g + 1))), and the combine parts are `parts` = groups x S
// column pieces: part c lies in group c / S (combine_part_columns). The combine tasks of group g's parts are
// spread evenly among the GEMM2 tasks of group g + 1, so the combine of the first columns runs beside the GEMM2
// of the next ones instead of after all of it; the last group's parts follow the last group. With groups == 1
// (expert parallelism, and a small T on one GPU) every combine task follows all of GEMM2. Either way a combine
// task waits only on its part's GEMM2 group (and earlier stages), whose tickets are all smaller.
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

// GEMM2 column tiles of group g.
ONEMOE_HOST_DEVICE inline int gemm2_group_n_tiles(int n_tiles, int groups, int g) {
  return gemm2_group_first_n_tile(n_tiles, groups, g + 1) - gemm2_group_first_n_tile(n_tiles, groups, g);
}

// Bresenham spread of `spread` tickets evenly among a segment of `length` tickets (spread <= length): whether
// ticket `local` (< length) of the segment is one of them, and how many of them are among tickets [0, local].
struct SpreadSlot {
  bool spread;
  uint64_t spread_through;
};
ONEMOE_HOST_DEVICE inline SpreadSlot spread_slot(uint64_t local, uint64_t spread, uint64_t length) {
  const uint64_t through = (local + 1) * spread / length;
  return {through > local * spread / length, through};
}

struct LateTicket {
  bool combine;
  int group;  // GEMM2: the column group
  int index;  // GEMM2: the task within its group; combine: tile * parts + part
};

// Combine part `part` of `parts` (a multiple of groups): its GEMM2 group, and its 16-byte column vectors
// [v0, v0 + vecs): the group's column tiles (vecs_per_tile vectors each, clipped to hidden_vecs) cut into
// parts / groups even pieces.
struct PartColumns {
  int group, v0, vecs;
};
ONEMOE_HOST_DEVICE inline PartColumns combine_part_columns(int hidden_vecs, int vecs_per_tile, int n_tiles, int groups,
                                                           int parts, int part) {
  const int per_group = parts / groups;
  const int g = part / per_group, piece = part % per_group;
  const int gv0 = gemm2_group_first_n_tile(n_tiles, groups, g) * vecs_per_tile;
  const int gv_end_tiles = gemm2_group_first_n_tile(n_tiles, groups, g + 1) * vecs_per_tile;
  const int gv_end = gv_end_tiles < hidden_vecs ? gv_end_tiles : hidden_vecs;
  const int len = (gv_end - gv0 + per_group - 1) / per_group;
  const int v0 = gv0 + piece * len < gv_end ? gv0 + piece * len : gv_end;
  const int v1 = v0 + len < gv_end ? v0 + len : gv_end;
  return {g, v0, v1 - v0};
}

// i: ticket - first_gemm2_ticket, below expert_tiles * n_tiles + route_tiles * parts. parts is a multiple of
// groups.
ONEMOE_HOST_DEVICE inline LateTicket locate_late_ticket(uint32_t i, int expert_tiles, int n_tiles, int groups,
                                                        int route_tiles, int parts) {
  const int per_group = parts / groups;
  uint64_t start = 0;
  for (int s = 0; s <= groups; ++s) {
    const uint64_t gemm2 = s < groups ? uint64_t(expert_tiles) * uint64_t(gemm2_group_n_tiles(n_tiles, groups, s)) : 0;
    // Combine tasks here: the parts of group s - 1.
    const uint64_t combine = s == 0 ? 0 : uint64_t(route_tiles) * uint64_t(per_group);
    const uint64_t length = gemm2 + combine;
    if (i >= start + length) {
      start += length;
      continue;
    }
    const uint64_t local = i - start;
    const SpreadSlot slot = spread_slot(local, combine, length);
    if (!slot.spread) return {false, s, int(local - slot.spread_through)};
    // Tile-major over (route tile, part of the group); the combine numbers its tasks tile * parts + part.
    const int j = int(slot.spread_through - 1);
    return {true, 0, (j / per_group) * parts + (s - 1) * per_group + j % per_group};
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

// Expert parallelism: the dispatch and GEMM1 range. Each route tile's dispatch is split by expert into
// `chunks` tasks: chunk c sends the route tile's pairs whose expert is in chunk c (by its index among its
// owner's experts), so every owner's first experts are complete early, from every source. This rank's GEMM1
// tiles of chunk c are the window tiles [chunk_tile_begin[c], chunk_tile_begin[c + 1]), known once the plan is.
// Layout: the dispatch of the first `lead` chunks (every route tile) first; then, for each chunk c, its GEMM1
// tasks (tile-major) with the dispatch of chunk c + lead spread evenly among them; then the GEMM1 tickets past
// the forward's last tile (max_tiles bounds the tiles). So the dispatch of chunk c precedes every GEMM1 task of
// chunk c on every rank (lead >= 1; the deadlock argument of docs/protocol.md), and later chunks are copied
// while earlier ones compute, on part of the grid instead of all of it.
struct EpMiddleTicket {
  bool dispatch;
  int chunk;  // dispatch: the chunk
  int index;  // dispatch: the route tile; GEMM1: the task (tile * n_tiles + column tile)
};

// Tickets of the range.
ONEMOE_HOST_DEVICE inline uint32_t ep_middle_range_tickets(int route_tiles, int chunks, int max_tiles, int n_tiles) {
  return uint32_t(route_tiles) * uint32_t(chunks) + uint32_t(max_tiles) * uint32_t(n_tiles);
}

// i: ticket - first_dispatch_ticket, below ep_middle_range_tickets(...). chunk_tile_begin: chunks + 1
// nondecreasing tile numbers from 0, the last <= max_tiles. 1 <= lead <= chunks.
ONEMOE_HOST_DEVICE inline EpMiddleTicket locate_ep_middle_ticket(uint32_t i, int route_tiles, int chunks, int lead,
                                                                 const int32_t* chunk_tile_begin, int n_tiles) {
  const uint32_t head = uint32_t(route_tiles) * uint32_t(lead);
  if (i < head) return {true, int(i / uint32_t(route_tiles)), int(i % uint32_t(route_tiles))};
  uint64_t start = head;
  for (int c = 0; c < chunks; ++c) {
    const uint64_t gemm = uint64_t(chunk_tile_begin[c + 1] - chunk_tile_begin[c]) * uint64_t(n_tiles);
    const uint64_t copies = c + lead < chunks ? uint64_t(route_tiles) : 0;
    const uint64_t length = gemm + copies;
    if (i >= start + length) {
      start += length;
      continue;
    }
    const uint64_t local = i - start;
    const SpreadSlot slot = spread_slot(local, copies, length);
    if (slot.spread) return {true, c + lead, int(slot.spread_through - 1)};
    return {false, 0, int(uint64_t(chunk_tile_begin[c]) * uint64_t(n_tiles) + local - slot.spread_through)};
  }
  // Past the forward's last tile: GEMM1 tasks that return at once.
  return {false, 0, int(uint64_t(chunk_tile_begin[chunks]) * uint64_t(n_tiles) + (i - start))};
}

}  // namespace onemoe::device
