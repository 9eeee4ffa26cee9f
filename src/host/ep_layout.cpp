#include "host/ep_layout.h"

#include <algorithm>

#include "device/ticket_layout.h"
#include "host/plan.h"

namespace onemoe::host {

EpSizes ep_sizes(const MoeShape& s, int world_size, const std::vector<int>& expert_to_rank) {
  EpSizes z{};
  z.world_size = world_size;
  std::vector<int> held(world_size, 0);
  for (int owner : expert_to_rank) ++held[owner];
  z.max_local_experts = *std::max_element(held.begin(), held.end());
  // Every rank's tokens may route to one owner; each of its non-empty experts wastes less than one tile.
  const int64_t rows = int64_t(world_size) * s.num_tokens * s.top_k;
  z.max_expert_tiles = int(std::max<int64_t>(1, std::min<int64_t>(ceil_div(rows, device::kTileM) + z.max_local_experts, rows)));
  z.max_route_tiles = num_route_tiles(s.num_tokens);
  return z;
}

device::EpWindowLayout ep_window_layout(const MoeShape& s, const MoeConfig& c, const EpSizes& z) {
  const size_t elem = dtype_size(c.dtype);
  const size_t tiles = size_t(z.max_expert_tiles), rows = tiles * device::kTileM;
  device::EpWindowLayout w{};
  size_t cursor = 0;
  // Two inboxes, by the parity of the forward's epoch (docs/protocol.md, "Plan"): a rank may start the next
  // forward, and send its counts for it, before a slower peer has read this forward's.
  w.inbox = take_region(&cursor, 2 * size_t(z.world_size) * size_t(s.num_experts + 1) * sizeof(uint64_t));
  w.output_done = take_region(&cursor, tiles * sizeof(uint32_t));
  w.row_source = take_region(&cursor, rows * 2 * sizeof(int32_t));
  w.row_tile_ready = take_region(&cursor, tiles * sizeof(uint32_t));
  w.expert_in = take_region(&cursor, rows * size_t(s.hidden) * elem);
  w.returned = take_region(&cursor, size_t(s.num_tokens) * size_t(s.top_k) * size_t(s.hidden) * elem);
  constexpr size_t kWindowGranule = size_t(1) << 21;  // registration works in whole pages of the VMM granularity
  w.total_bytes = (cursor + kWindowGranule - 1) / kWindowGranule * kWindowGranule;
  return w;
}

EpLocalLayout ep_local_layout(const MoeShape& s, const MoeConfig& c, const EpSizes& z, int num_local_experts) {
  const size_t elem = dtype_size(c.dtype);
  const size_t T = size_t(s.num_tokens), E = size_t(s.num_experts), k = size_t(s.top_k);
  const size_t rows = size_t(z.max_expert_tiles) * device::kTileM;
  EpLocalLayout l{};
  size_t cursor = 0;
  l.logits = take_region(&cursor, T * E * sizeof(float));
  l.topk_ids = take_region(&cursor, T * k * sizeof(int32_t));
  l.topk_weights = take_region(&cursor, T * k * sizeof(float));
  l.slot_of = take_region(&cursor, T * k * sizeof(int32_t));
  l.route_tile_counts = take_region(&cursor, size_t(z.max_route_tiles) * E * sizeof(int32_t));
  l.expert_kept = take_region(&cursor, E * sizeof(int32_t));
  l.expert_tile_offset = take_region(&cursor, (E + 1) * sizeof(int32_t));
  l.source_base = take_region(&cursor, E * sizeof(int32_t));
  l.local_tile_offset = take_region(&cursor, size_t(num_local_experts + 1) * sizeof(int32_t));
  l.capacity = take_region(&cursor, sizeof(int64_t));
  l.traffic = take_region(&cursor, sizeof(device::EpTraffic));
  // One tile more than any forward fills: the GEMM1 warm-up writes its row there (kWarmGemm1Task).
  l.expert_hidden = take_region(&cursor, (rows + device::kTileM) * size_t(s.intermediate) * elem);
  l.counters = take_region(&cursor, sizeof(device::SyncCounters));
  l.gemm1_tiles_done = take_region(&cursor, size_t(z.max_expert_tiles) * sizeof(uint32_t));
  l.gemm2_tiles_done = take_region(&cursor, size_t(z.max_expert_tiles) * sizeof(uint32_t));
  l.dispatch_done = take_region(&cursor, size_t(std::max(1, z.max_route_tiles)) * sizeof(uint32_t));
  l.error = take_region(&cursor, sizeof(device::ErrorRecord));
  l.forward_epoch = take_region(&cursor, sizeof(uint32_t));
  l.total_bytes = cursor;
  return l;
}

int ep_dispatch_lead_chunks(int route_tiles, int grid_blocks) {
  constexpr int C = device::kEpDispatchChunks;
  const int wave = route_tiles > 0 ? int(ceil_div(int64_t(std::max(1, grid_blocks)), int64_t(route_tiles))) : C;
  return std::clamp(wave, std::min(2, C), C);
}

void fill_ep_plan(const MoeShape& s, const MoeConfig& c, const EpSizes& z, device::EpKernelParams* ep) {
  device::KernelParams* p = &ep->base;
  fill_plan(s, c, p);
  p->max_expert_tiles = z.max_expert_tiles;
  p->gemm2_groups = 1;  // the expert-parallel combine waits on its own stamps, after all of GEMM2
  p->combine_parts = combine_parts(s);
  p->dispatch_parts = device::kEpDispatchChunks;  // the dispatch copies the rows itself: no gathers
  p->gather_lead = 0;
  const uint32_t route = uint32_t(p->num_route_tiles);
  p->first_dispatch_ticket = route + 1;  // the plan's ticket is `route`
  p->first_gemm1_ticket = p->first_dispatch_ticket;  // dispatch and GEMM1 share a range (ticket_layout.h)
  ep->dispatch_lead_chunks = ep_dispatch_lead_chunks(p->num_route_tiles, z.grid_blocks);
  p->first_gemm2_ticket =
      p->first_dispatch_ticket +
      device::ep_middle_range_tickets(p->num_route_tiles, p->dispatch_parts, p->max_expert_tiles, p->gemm1_n_tiles);
  p->first_combine_ticket = p->first_gemm2_ticket + uint32_t(p->max_expert_tiles) * uint32_t(p->gemm2_n_tiles);
  p->num_tickets = p->first_combine_ticket + route * uint32_t(p->combine_parts);
  ep->capacity_factor = c.capacity_factor;
  // The warm-up loads weight 0's first column tile; a rank that holds no experts (E < R, or a user placement)
  // has no weights and its w1 descriptor is never encoded (encode_tensor_maps skips empty tensors).
  if (ep->num_local_experts == 0) p->warm_gemm1 = 0;
}

}  // namespace onemoe::host
