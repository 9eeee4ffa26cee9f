// Expert parallelism, dispatch (one task per route tile of this rank and column part): give each kept (token,
// expert) pair its row in the expert owner's window, write the part's columns of the token row there (part 0
// also the pair's source) with plain stores through the LSA mapping, then add the arrivals to the owner's
// row-tile counters (release, system scope), in units of 1/kArrivalScale rows per part.
#pragma once

#include "dispatch.cuh"
#include "ep_plan.cuh"

namespace onemoe::device {

// Experts per publication step of a dispatch task (see the copy loop).
inline constexpr int kDispatchChunks = 8;

// Position of the r-th set bit (r from 0) of a token mask.
__device__ inline int nth_set_bit(const uint32_t (&mask)[kMaskWordsPerTile], int r) {
#pragma unroll
  for (int w = 0; w < kMaskWordsPerTile; ++w) {
    uint32_t bits = mask[w];
    const int count = __popc(bits);
    if (r < count) {
      for (int q = 0; q < r; ++q) bits &= bits - 1;  // drop the r lowest set bits
      return w * 32 + __ffs(bits) - 1;
    }
    r -= count;
  }
  return -1;  // not reached: r < the mask's popcount
}

template <class Elem>
__device__ void ep_dispatch_tile(const EpKernelParams& ep, const WaitContext& wait_ctx, int task, void* stage_smem,
                                 EpStageSmem& es) {
  const KernelParams& p = ep.base;
  StageSmem& ss = es.base;
  const int row_bytes = p.hidden * int(sizeof(Elem));
  int tile, v0, vecs;
  bool first_part;
  dispatch_task_coords(p, task, row_bytes / 16, &tile, &v0, &vecs, &first_part);
  const uint32_t arrival_unit = kArrivalScale / uint32_t(p.dispatch_parts);
  if (!block_wait_at_least(p, wait_ctx, &p.counters->plan_ready, 1, WaitSite::kPlanReady, tile, &ss.flag)) return;
  mark_task(p, ss.task_mark_ns, 0);

  const int64_t first_token = int64_t(tile) * kTileM;
  const int rows = int(cute::min<int64_t>(kTileM, p.num_tokens - first_token));
  const int num_experts = p.num_experts, top_k = p.top_k;
  const int32_t* tile_prefix = p.route_tile_counts + int64_t(tile) * num_experts;  // exclusive, over tiles
  const int64_t capacity = *ep.capacity;
  DispatchSmem& ds = *static_cast<DispatchSmem*>(stage_smem);

  if (threadIdx.x == 0) es.rows_remote = es.rows_local = 0;
  build_token_masks(p, first_token, rows, ss);

  // slot_of[t, j]: the pair's row in its expert owner's window, or -1 if dropped (every part derives them,
  // part 0 writes them out).
  for (int pair = threadIdx.x; pair < rows * top_k; pair += blockDim.x) {
    const int m = pair / top_k;
    const int64_t idx = first_token * top_k + pair;
    const int e = p.topk_ids[idx];
    const int64_t position = ep.source_base[e] + tile_prefix[e] + tokens_before_in_tile(ss.token_masks[e], m);
    const bool kept = position < capacity;
    const int32_t slot = kept ? int32_t(int64_t(p.expert_tile_offset[e]) * kTileM + position) : -1;
    ds.slot_by_pair[pair] = slot;
    if (!first_part) continue;
    p.slot_of[idx] = slot;
    if (p.user_topk_ids) p.user_topk_ids[idx] = e;
    if (p.user_topk_weights) p.user_topk_weights[idx] = kept ? p.topk_weights[idx] : 0.f;
  }
  __syncthreads();

  // Rows go out in ep.dispatch_order (every owner's first experts, then every owner's next ones, ...), in
  // chunks, and each chunk's arrivals are published as soon as it is written: every rank feeds every owner's
  // first expert tiles first, so their GEMM1 starts long before the whole dispatch is over.
  // ss.expert_counts[q]: this tile's pairs of the experts before position q of that order.
  if (threadIdx.x == 0) {
    int running = 0;
    for (int q = 0; q < num_experts; ++q) {
      ss.expert_counts[q] = running;
#pragma unroll
      for (int w = 0; w < kMaskWordsPerTile; ++w) running += __popc(ss.token_masks[ep.dispatch_order[q]][w]);
    }
    es.tile_pairs = running;
  }
  __syncthreads();
  const auto pairs_before = [&](int q) { return q < num_experts ? ss.expert_counts[q] : es.tile_pairs; };

  // Each pair in that order: its token, owner and window row (staged for the copy), and (part 0) its source
  // record in the owner's window.
  unsigned long long remote = 0, local = 0, flag_writes = 0;
  for (int i = threadIdx.x; i < es.tile_pairs; i += blockDim.x) {
    int lo = 0, hi = num_experts;  // the position of sorted pair i: pairs_before(lo) <= i < pairs_before(hi)
    while (hi - lo > 1) {
      const int mid = (lo + hi) / 2;
      if (pairs_before(mid) <= i) lo = mid; else hi = mid;
    }
    const int e = ep.dispatch_order[lo];
    const int m = nth_set_bit(ss.token_masks[e], i - pairs_before(lo));
    int j = 0;
    while (p.topk_ids[(first_token + m) * top_k + j] != e) ++j;
    const int64_t idx = (first_token + m) * top_k + j;
    const int32_t slot = ds.slot_by_pair[m * top_k + j];
    const int owner = ep.expert_owner[e];
    ds.dst_row[i] = slot;
    ds.src_token[i] = m;
    ds.owner[i] = owner;
    if (slot < 0 || !first_part) continue;
    reinterpret_cast<int2*>(es.peer_base[owner] + ep.win.row_source)[slot] = make_int2(ep.rank, int(idx));
    (owner == ep.rank ? local : remote) += 1;
  }
  __syncthreads();

  const int experts_per_chunk = (num_experts + kDispatchChunks - 1) / kDispatchChunks;
  for (int q0 = 0; q0 < num_experts; q0 += experts_per_chunk) {
    const int q1 = min(num_experts, q0 + experts_per_chunk);
    block_copy_rows(pairs_before(q0), pairs_before(q1), vecs, [&](int i, const int4** src, int4** dst) {
      const int32_t slot = ds.dst_row[i];
      *src = reinterpret_cast<const int4*>(static_cast<const Elem*>(p.x) + (first_token + ds.src_token[i]) * p.hidden) +
             v0;
      *dst = reinterpret_cast<int4*>(es.peer_base[ds.owner[i]] + ep.win.expert_in + int64_t(slot) * row_bytes) + v0;
      return slot >= 0;
    });
    // The barrier orders every thread's row stores before the adds below, and a release is cumulative over
    // what it has observed, so no thread needs its own system fence (NCCL's LSA barrier publishes the same way).
    __syncthreads();
    // Arrivals per expert row tile of the owner: this tile's positions of expert e are [begin, end), clipped
    // to capacity.
    for (int q = q0 + threadIdx.x; q < q1; q += blockDim.x) {
      const int e = ep.dispatch_order[q];
      const int count = pairs_before(q + 1) - pairs_before(q);
      const int64_t begin = int64_t(ep.source_base[e]) + tile_prefix[e];
      const int64_t end = cute::min<int64_t>(begin + count, capacity);
      const int owner = ep.expert_owner[e];
      uint32_t* ready =
          reinterpret_cast<uint32_t*>(es.peer_base[owner] + ep.win.row_tile_ready) + p.expert_tile_offset[e];
      for (int64_t row_tile = begin / kTileM; begin < end && row_tile <= (end - 1) / kTileM; ++row_tile) {
        const int64_t lo = cute::max<int64_t>(begin, row_tile * kTileM);
        const int64_t hi = cute::min<int64_t>(end, (row_tile + 1) * kTileM);
        red_add_release_sys(ready + row_tile, uint32_t(hi - lo) * arrival_unit);
        if (owner != ep.rank) ++flag_writes;
      }
    }
  }
  if (remote | local) {
    atomicAdd(&es.rows_remote, remote);
    atomicAdd(&es.rows_local, local);
  }
  __syncthreads();
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
