#include "host/plan.h"

#include <algorithm>
#include <cmath>

#include "device/ticket_layout.h"

namespace onemoe::host {

size_t take_region(size_t* cursor, size_t bytes) {
  constexpr size_t kAlign = 256;
  const size_t at = *cursor;
  *cursor += (bytes + kAlign - 1) / kAlign * kAlign;
  return at;
}

int64_t expert_capacity(const MoeShape& s, const MoeConfig& c) {
  const int64_t routed = s.num_tokens * s.top_k;
  if (c.capacity_factor <= 0) return routed;  // dropless: no expert can receive more than this
  return int64_t(std::ceil(double(c.capacity_factor) * double(routed) / double(s.num_experts)));
}

int num_route_tiles(int64_t num_tokens) { return int(ceil_div(num_tokens, device::kTileM)); }

// Each non-empty expert wastes less than one tile, and every tile holds at least one row.
int max_expert_tiles(const MoeShape& s) {
  const int64_t routed = s.num_tokens * s.top_k;
  return int(std::min<int64_t>(ceil_div(routed, device::kTileM) + s.num_experts, routed));
}

int combine_parts(const MoeShape& s) {
  constexpr int64_t kTargetTasks = 256;  // about two tasks per block of an H100/H200's grid (1 block per SM)
  // At a small T the combine tasks run after the last GEMM2 with nothing beside them, each a latency-bound
  // stream of one block; 64-column parts (128 B of a bf16 row, one L2 line) put 4x more blocks on them than
  // 256-column parts did (decode: 8 tasks, ~14 us after GEMM2's end, run 51).
  constexpr int64_t kMinPartColumns = 64;
  const int64_t route_tiles = std::max<int64_t>(1, num_route_tiles(s.num_tokens));
  const int64_t most = std::max<int64_t>(1, s.hidden / kMinPartColumns);
  return int(std::clamp<int64_t>(ceil_div(kTargetTasks, route_tiles), 1, most));
}

OneGpuCombine one_gpu_combine(const MoeShape& s, int expert_tile_n) {
  // GEMM2 column groups let the combine of the first groups overlap the GEMM2 of the later ones. With 128-column
  // expert tiles that paid when the combine is long (a large T; docs/history/perf_notes.md runs 32-36). With the 128x256
  // tiles it does not: one group was 22 us faster than two on the main row, and four or eight groups slower still
  // (runs 39, 41). At a small T groups never pay: their concurrent weight reads, one column tile of every expert
  // at a time (8 MB apart at H = I = 2048), slowed the weight stream the GEMM2 waits on from 4.2 to 3.0 TB/s
  // (decode, run 32).
  const bool groups_pay = expert_tile_n < 256;
  constexpr int kGroupedMinRouteTiles = 64;
  const int base = combine_parts(s);
  if (!groups_pay || num_route_tiles(s.num_tokens) < kGroupedMinRouteTiles) return {1, base};
  // Two parts per group where H allows (>= 256 columns each): the combine tasks after the last group, which
  // run with nothing beside them, take half as long each and fill the grid.
  return {base, s.hidden / 256 >= 2 * base ? 2 : 1};
}

int max_gemm2_groups(const MoeShape& max_shape, int expert_tile_n) {
  // Every route-tile count a run can have (the groups depend on T only through it); at most a few thousand.
  int most = 1;
  MoeShape s = max_shape;
  for (int tiles = 1; tiles <= num_route_tiles(max_shape.num_tokens); ++tiles) {
    s.num_tokens = std::min<int64_t>(int64_t(tiles) * device::kTileM, max_shape.num_tokens);
    most = std::max(most, one_gpu_combine(s, expert_tile_n).groups);
  }
  return most;
}

bool warm_gemm1(const MoeShape& s, const MoeConfig& c) {
  // A small T: the route phase leaves the grid idle long enough (~30 µs) to run the warm-up, and the first GEMM1
  // wave starts all at once. Larger T stagger their first GEMM1 tasks behind the route and dispatch tiles. The
  // exact-fp32 tiles are never warmed (kWarmGemm1Task).
  constexpr int kWarmMaxRouteTiles = 8;
  const bool exact_fp32 = c.dtype == DType::kFP32 && c.fp32_math == Fp32Math::kFFMA;
  return !exact_fp32 && num_route_tiles(s.num_tokens) <= kWarmMaxRouteTiles;
}

int gather_lead(int max_expert_tiles) {
  // Gathers run this many tiles ahead of the GEMM1 tasks that wait on them, so a GEMM1 task rarely waits for its
  // rows. About one tile per block of the grid (one block per SM): on the main row 128 was 11 us faster than 64,
  // and 32 was 7 us slower (run 41).
  constexpr int kLead = 128;
  return std::min(kLead, max_expert_tiles);
}

WorkspaceLayout workspace_layout(const MoeShape& s, const MoeConfig& c) {
  const size_t elem = dtype_size(c.dtype);
  const size_t T = size_t(s.num_tokens), E = size_t(s.num_experts), k = size_t(s.top_k);
  const size_t rows = size_t(max_expert_tiles(s)) * device::kTileM;
  WorkspaceLayout l{};
  size_t cursor = 0;
  l.logits = take_region(&cursor, T * E * sizeof(float));
  l.topk_ids = take_region(&cursor, T * k * sizeof(int32_t));
  l.topk_weights = take_region(&cursor, T * k * sizeof(float));
  l.slot_of = take_region(&cursor, T * k * sizeof(int32_t));
  l.route_tile_counts = take_region(&cursor, size_t(num_route_tiles(s.num_tokens)) * E * sizeof(int32_t));
  l.expert_kept = take_region(&cursor, E * sizeof(int32_t));
  l.expert_tile_offset = take_region(&cursor, (E + 1) * sizeof(int32_t));
  l.expert_in = take_region(&cursor, rows * size_t(s.hidden) * elem);
  l.expert_row_token = take_region(&cursor, rows * sizeof(int32_t));
  // One tile more than any forward fills: the GEMM1 warm-up writes its row there (kWarmGemm1Task).
  l.expert_hidden = take_region(&cursor, (rows + device::kTileM) * size_t(s.intermediate) * elem);
  l.expert_out = take_region(&cursor, rows * size_t(s.hidden) * elem);
  l.total_bytes = cursor;
  return l;
}

SyncLayout sync_layout(const MoeShape& max_shape, int expert_tile_n) {
  SyncLayout l{};
  l.gemm2_groups = max_gemm2_groups(max_shape, expert_tile_n);
  l.max_expert_tiles = max_expert_tiles(max_shape);
  l.max_route_tiles = num_route_tiles(max_shape.num_tokens);
  size_t cursor = 0;
  l.counters = take_region(&cursor, sizeof(device::SyncCounters));
  l.row_tile_ready = take_region(&cursor, size_t(l.max_expert_tiles) * sizeof(uint32_t));
  l.row_tile_gathered = take_region(&cursor, size_t(l.max_expert_tiles) * sizeof(uint32_t));
  l.gemm1_tiles_done = take_region(&cursor, size_t(l.max_expert_tiles) * sizeof(uint32_t));
  l.gemm2_tiles_done = take_region(&cursor, size_t(l.max_expert_tiles) * size_t(l.gemm2_groups) * sizeof(uint32_t));
  l.dispatch_done = take_region(&cursor, size_t(l.max_route_tiles) * sizeof(uint32_t));
  l.error = take_region(&cursor, sizeof(device::ErrorRecord));
  l.forward_epoch = take_region(&cursor, sizeof(uint32_t));
  l.total_bytes = cursor;
  return l;
}

void bind_run_args(const RunArgs& a, device::KernelParams* p) {
  p->x = a.x;
  p->w_router = a.w_router;
  p->w1 = a.w1;
  p->w3 = a.w3;
  p->w2 = a.w2;
  p->out = a.out;
  p->user_topk_ids = a.topk_ids;
  p->user_topk_weights = a.topk_weights;
  p->score_bias = a.score_bias;
  p->pre_topk_ids = a.in_topk_ids;
  p->pre_topk_weights = a.in_topk_weights;
}

void fill_plan(const MoeShape& s, const MoeConfig& c, device::KernelParams* p) {
  p->num_tokens = s.num_tokens;
  p->num_experts = s.num_experts;
  p->top_k = s.top_k;
  p->hidden = s.hidden;
  p->intermediate = s.intermediate;
  p->scoring = c.scoring == Scoring::kSoftmax ? 0 : 1;
  p->renormalize = c.renormalize ? 1 : 0;
  p->topk_softmax = c.routing == Routing::kTopKSoftmax ? 1 : 0;
  p->routed_scaling_factor = c.routed_scaling_factor;
  const bool grouped = c.routing == Routing::kGroupedTopK;
  p->num_groups = grouped ? c.num_groups : 0;
  p->topk_groups = grouped ? c.topk_groups : 0;
  p->group_score_topk = grouped ? c.group_score_topk : 0;
  p->activation = c.activation == Activation::kReLU ? 0 : c.activation == Activation::kGELU ? 1 : 2;
  p->gated = c.gated ? 1 : 0;
  p->capacity = expert_capacity(s, c);

  p->num_route_tiles = num_route_tiles(s.num_tokens);
  p->warm_gemm1 = warm_gemm1(s, c) ? 1 : 0;
  p->max_expert_tiles = max_expert_tiles(s);
  p->gemm1_n_tiles = c.gated ? int(ceil_div(s.intermediate, device::kGatedTileN))
                             : int(ceil_div(s.intermediate, device::kExpertTileN));
  p->gemm2_n_tiles = int(ceil_div(s.hidden, device::kExpertTileN));
  p->dispatch_parts = 1;  // one GPU: the dispatch only names rows; the gathers copy them
  const OneGpuCombine combine = one_gpu_combine(s);
  p->gemm2_groups = combine.groups;
  p->combine_parts = combine.groups * combine.parts_per_group;
  p->gather_lead = gather_lead(p->max_expert_tiles);

  const uint32_t route = uint32_t(p->num_route_tiles);
  p->first_dispatch_ticket = route;
  p->first_gemm1_ticket = p->first_dispatch_ticket + route * uint32_t(p->dispatch_parts);
  p->first_gemm2_ticket =
      p->first_gemm1_ticket + device::gemm1_range_tickets(p->max_expert_tiles, p->gemm1_n_tiles, p->gather_lead);
  p->first_combine_ticket = p->first_gemm2_ticket + uint32_t(p->max_expert_tiles) * uint32_t(p->gemm2_n_tiles);
  p->num_tickets = p->first_combine_ticket + route * uint32_t(p->combine_parts);
}

}  // namespace onemoe::host
