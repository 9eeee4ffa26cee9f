// Expert parallelism, dispatch (one task per route tile of this rank and dispatch chunk): give each kept
// (token, expert) pair of the chunk's experts its row in the expert owner's window, write the token row and the
// pair's source there with plain stores through the LSA mapping, then add the rows to the owner's row-tile
// counters (release, system scope). Chunk c holds every owner's c-th run of experts, and the tickets put the
// dispatch of chunk c before this rank's GEMM1 tasks of chunk c and among those of chunk c - 2
// (ticket_layout.h), so the first experts' tiles fill early from every source and later chunks are copied
// while earlier ones compute.
#pragma once

#include "dispatch.cuh"
#include "ep_plan.cuh"

namespace onemoe::device {

template <class Elem>
__device__ void ep_dispatch_task(const EpKernelParams& ep, int chunk, int tile, void* stage_smem, EpStageSmem& es) {
  const KernelParams& p = ep.base;
  StageSmem& ss = es.base;
  // The plan is known: decoding this task's ticket waited for it (ep_chunk_tiles).
  mark_task(p, ss.task_mark_ns, 0);

  const int64_t first_token = int64_t(tile) * kTileM;
  const int rows = int(cute::min<int64_t>(kTileM, p.num_tokens - first_token));
  const int num_experts = p.num_experts, top_k = p.top_k;
  const int row_bytes = p.hidden * int(sizeof(Elem));
  const int32_t* tile_prefix = p.route_tile_counts + int64_t(tile) * num_experts;  // exclusive, over tiles
  const int64_t capacity = *ep.capacity;
  DispatchSmem& ds = *static_cast<DispatchSmem*>(stage_smem);
  const auto in_chunk = [&](int e) { return ep.expert_chunk[e] == chunk; };

  // Token masks of the chunk's experts (a pair's row within its expert follows token order).
  for (int i = threadIdx.x; i < num_experts * kMaskWordsPerTile; i += blockDim.x) (&ss.token_masks[0][0])[i] = 0;
  if (threadIdx.x == 0) {
    es.chunk_pairs = 0;
    es.rows_remote = es.rows_local = 0;
  }
  __syncthreads();
  for (int pair = threadIdx.x; pair < rows * top_k; pair += blockDim.x) {
    const int e = p.topk_ids[first_token * top_k + pair];
    if (in_chunk(e)) atomicOr(&ss.token_masks[e][(pair / top_k) / 32], 1u << ((pair / top_k) % 32));
  }
  __syncthreads();

  // slot_of[t, j] of the chunk's pairs: the row in the owner's window, or -1 if dropped. The kept ones go on
  // the copy list (in any order: each has its own row) with their source record written to the owner.
  unsigned long long remote = 0, local = 0;
  for (int pair = threadIdx.x; pair < rows * top_k; pair += blockDim.x) {
    const int64_t idx = first_token * top_k + pair;
    const int e = p.topk_ids[idx];
    if (!in_chunk(e)) continue;
    const int m = pair / top_k;
    const int64_t position = ep.source_base[e] + tile_prefix[e] + tokens_before_in_tile(ss.token_masks[e], m);
    const bool kept = position < capacity;
    const int32_t slot = kept ? int32_t(int64_t(p.expert_tile_offset[e]) * kTileM + position) : -1;
    p.slot_of[idx] = slot;
    if (p.user_topk_ids) p.user_topk_ids[idx] = e;
    if (p.user_topk_weights) p.user_topk_weights[idx] = kept ? p.topk_weights[idx] : 0.f;
    if (!kept) continue;
    const int owner = ep.expert_owner[e];
    const int i = atomicAdd(&es.chunk_pairs, 1);
    ds.dst_row[i] = slot;
    ds.src_token[i] = m;
    ds.owner[i] = owner;
    reinterpret_cast<int2*>(es.peer_base[owner] + ep.win.row_source)[slot] = make_int2(ep.rank, int(idx));
    (owner == ep.rank ? local : remote) += 1;
  }
  __syncthreads();
  mark_task(p, ss.task_mark_ns, 1);

  block_copy_rows(0, es.chunk_pairs, row_bytes / 16, [&](int i, const int4** src, int4** dst) {
    *src = reinterpret_cast<const int4*>(static_cast<const Elem*>(p.x) + (first_token + ds.src_token[i]) * p.hidden);
    *dst = reinterpret_cast<int4*>(es.peer_base[ds.owner[i]] + ep.win.expert_in + int64_t(ds.dst_row[i]) * row_bytes);
    return true;
  });
  // The barrier orders every thread's row stores before the adds below, and a release is cumulative over what it
  // has observed, so no thread needs its own system fence (NCCL's LSA barrier publishes the same way).
  __syncthreads();
  mark_task(p, ss.task_mark_ns, 2);
  // Arrivals per expert row tile of the owner: this tile's positions of expert e are [begin, end), clipped to
  // capacity.
  unsigned long long flag_writes = 0;
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) {
    if (!in_chunk(e)) continue;
    int count = 0;
#pragma unroll
    for (int w = 0; w < kMaskWordsPerTile; ++w) count += __popc(ss.token_masks[e][w]);
    const int64_t begin = int64_t(ep.source_base[e]) + tile_prefix[e];
    const int64_t end = cute::min<int64_t>(begin + count, capacity);
    const int owner = ep.expert_owner[e];
    uint32_t* ready = reinterpret_cast<uint32_t*>(es.peer_base[owner] + ep.win.row_tile_ready) + p.expert_tile_offset[e];
    for (int64_t row_tile = begin / kTileM; begin < end && row_tile <= (end - 1) / kTileM; ++row_tile) {
      const int64_t lo = cute::max<int64_t>(begin, row_tile * kTileM);
      const int64_t hi = cute::min<int64_t>(end, (row_tile + 1) * kTileM);
      red_add_release_sys(ready + row_tile, uint32_t(hi - lo));
      if (owner != ep.rank) ++flag_writes;
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
