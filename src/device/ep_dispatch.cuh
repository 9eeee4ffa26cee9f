// Expert parallelism, dispatch (one task per route tile of this rank): give each kept (token, expert) pair
// its row in the expert owner's window, write the token row and its source there with plain stores through
// the LSA mapping, then add the arrivals to the owner's row-tile counters (release, system scope).
#pragma once

#include "dispatch.cuh"
#include "ep_plan.cuh"

namespace onemoe::device {

template <class Elem>
__device__ void ep_dispatch_tile(const EpKernelParams& ep, const WaitContext& wait_ctx, int tile, EpStageSmem& es) {
  const KernelParams& p = ep.base;
  StageSmem& ss = es.base;
  if (!block_wait_at_least(p, wait_ctx, &p.counters->plan_ready, 1, WaitSite::kPlanReady, tile, &ss.flag)) return;

  const int64_t first_token = int64_t(tile) * kTileM;
  const int rows = int(cute::min<int64_t>(kTileM, p.num_tokens - first_token));
  const int num_experts = p.num_experts, top_k = p.top_k;
  const int32_t* tile_prefix = p.route_tile_counts + int64_t(tile) * num_experts;  // exclusive, over tiles
  const int64_t capacity = *ep.capacity;

  if (threadIdx.x == 0) es.rows_remote = es.rows_local = 0;
  build_token_masks(p, first_token, rows, ss);

  // slot_of[t, j]: the pair's row in its expert owner's window, or -1 if dropped.
  for (int pair = threadIdx.x; pair < rows * top_k; pair += blockDim.x) {
    const int m = pair / top_k;
    const int64_t idx = first_token * top_k + pair;
    const int e = p.topk_ids[idx];
    const int64_t position = ep.source_base[e] + tile_prefix[e] + tokens_before_in_tile(ss.token_masks[e], m);
    const bool kept = position < capacity;
    p.slot_of[idx] = kept ? int32_t(int64_t(p.expert_tile_offset[e]) * kTileM + position) : -1;
    if (p.user_topk_ids) p.user_topk_ids[idx] = e;
    if (p.user_topk_weights) p.user_topk_weights[idx] = kept ? p.topk_weights[idx] : 0.f;
  }
  __syncthreads();

  const int row_bytes = p.hidden * int(sizeof(Elem));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  unsigned long long remote = 0, local = 0;
  for (int pair = warp; pair < rows * top_k; pair += blockDim.x / 32) {
    const int64_t idx = first_token * top_k + pair;
    const int32_t slot = p.slot_of[idx];
    if (slot < 0) continue;
    const int owner = ep.expert_owner[p.topk_ids[idx]];
    char* window = es.peer_base[owner];
    const Elem* src = static_cast<const Elem*>(p.x) + (first_token + pair / top_k) * p.hidden;
    warp_copy_row(window + ep.win.expert_in + int64_t(slot) * row_bytes, src, row_bytes);
    if (lane == 0) {
      reinterpret_cast<int2*>(window + ep.win.row_source)[slot] = make_int2(ep.rank, int(idx));
      (owner == ep.rank ? local : remote) += 1;
    }
  }
  if (lane == 0 && (remote | local)) {
    atomicAdd(&es.rows_remote, remote);
    atomicAdd(&es.rows_local, local);
  }
  __threadfence_system();
  __syncthreads();

  // Arrivals per expert row tile of the owner: this tile's positions of expert e are [begin, end), clipped to
  // capacity.
  unsigned long long flag_writes = 0;
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) {
    int count = 0;
#pragma unroll
    for (int w = 0; w < kMaskWordsPerTile; ++w) count += __popc(ss.token_masks[e][w]);
    const int64_t begin = int64_t(ep.source_base[e]) + tile_prefix[e];
    const int64_t end = cute::min<int64_t>(begin + count, capacity);
    const int owner = ep.expert_owner[e];
    uint32_t* ready = reinterpret_cast<uint32_t*>(es.peer_base[owner] + ep.win.row_tile_ready) + p.expert_tile_offset[e];
    for (int64_t row_tile = begin / kTileM; begin < end && row_tile <= (end - 1) / kTileM; ++row_tile) {
      const int64_t lo = cute::max<int64_t>(begin, row_tile * kTileM), hi = cute::min<int64_t>(end, (row_tile + 1) * kTileM);
      red_add_release_sys(ready + row_tile, uint32_t(hi - lo));
      if (owner != ep.rank) ++flag_writes;
    }
  }
  if (flag_writes) atomicAdd(&ep.traffic->control_bytes, flag_writes * sizeof(uint32_t));
  if (threadIdx.x == 0 && (es.rows_remote | es.rows_local)) {
    atomicAdd(&ep.traffic->rows_to_peers, es.rows_remote);
    atomicAdd(&ep.traffic->rows_local, es.rows_local);
    atomicAdd(&ep.traffic->payload_bytes, es.rows_remote * uint64_t(row_bytes));
    atomicAdd(&ep.traffic->control_bytes, es.rows_remote * sizeof(int2));
  }
  block_publish_add(&p.dispatch_done[tile], 1);
}

}  // namespace onemoe::device
