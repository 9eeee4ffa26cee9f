// Dispatch stage. One GPU: one task per route tile gives each (token, expert) pair its row in the expert
// buffers (token order, so capacity dropping is deterministic), names the token of each such row, and counts
// the named rows per expert tile; the gather of a tile (gather.cuh) copies its rows once they are all named.
// The helpers here also serve the expert-parallel dispatch (ep_dispatch.cuh), which copies rows itself, one
// task per route tile and chunk of experts.
#pragma once

#include "block_sync.cuh"
#include "stage_smem.cuh"

namespace onemoe::device {

__device__ __forceinline__ int tokens_before_in_tile(const uint32_t (&mask)[kMaskWordsPerTile], int m) {
  int rank = 0;
#pragma unroll
  for (int w = 0; w < kMaskWordsPerTile; ++w) {
    if (w < m / 32) rank += __popc(mask[w]);
  }
  return rank + __popc(mask[m / 32] & ((1u << (m % 32)) - 1u));
}

// The pairs an expert-parallel dispatch task copies, staged in the (then idle) GEMM smem.
struct DispatchSmem {
  int32_t dst_row[kTileM * kMaxTopK];    // row in the owner's window
  int32_t src_token[kTileM * kMaxTopK];  // token within the route tile
  int32_t owner[kTileM * kMaxTopK];      // the rank whose window receives the row
};

// 16-byte loads each thread keeps in flight while copying rows (a row at a time per warp leaves the HBM
// latency exposed: ~10 GB/s per block).
inline constexpr int kCopyVecsPerThread = 4;

// Block-wide: copies rows [first, last) of a pair list, each `row_vecs` 16-byte vectors; row_ptrs(r, &src, &dst)
// gives row r's source and destination, or returns false to skip it.
template <class RowPtrs>
__device__ void block_copy_rows(int first, int last, int row_vecs, RowPtrs&& row_ptrs) {
  const int total = (last - first) * row_vecs;
  for (int base = threadIdx.x; base < total; base += blockDim.x * kCopyVecsPerThread) {
    int4 v[kCopyVecsPerThread];
#pragma unroll
    for (int u = 0; u < kCopyVecsPerThread; ++u) {
      const int item = base + u * int(blockDim.x);
      const int4* src;
      int4* dst;
      if (item < total && row_ptrs(first + item / row_vecs, &src, &dst)) v[u] = src[item % row_vecs];
    }
#pragma unroll
    for (int u = 0; u < kCopyVecsPerThread; ++u) {
      const int item = base + u * int(blockDim.x);
      const int4* src;
      int4* dst;
      if (item < total && row_ptrs(first + item / row_vecs, &src, &dst)) dst[item % row_vecs] = v[u];
    }
  }
}

// ss.token_masks[e]: bit m set if token first_token + m chose expert e. Ends with a block barrier.
__device__ inline void build_token_masks(const KernelParams& p, int64_t first_token, int rows, StageSmem& ss) {
  for (int i = threadIdx.x; i < p.num_experts * kMaskWordsPerTile; i += blockDim.x) (&ss.token_masks[0][0])[i] = 0;
  __syncthreads();
  for (int m = threadIdx.x; m < rows; m += blockDim.x) {
    for (int j = 0; j < p.top_k; ++j) {
      const int e = p.topk_ids[(first_token + m) * p.top_k + j];
      atomicOr(&ss.token_masks[e][m / 32], 1u << (m % 32));
    }
  }
  __syncthreads();
}

// One GPU (dispatch_parts is 1 there: the gathers copy the rows, so one task per route tile).
__device__ inline void dispatch_tile(const KernelParams& p, const WaitContext& wait_ctx, int tile, StageSmem& ss) {
  if (!block_wait_at_least(p, wait_ctx, &p.counters->plan_ready, 1, WaitSite::kPlanReady, tile, &ss.flag)) return;
  mark_task(p, ss.task_mark_ns, 0);

  const int64_t first_token = int64_t(tile) * kTileM;
  const int rows = int(cute::min<int64_t>(kTileM, p.num_tokens - first_token));
  const int num_experts = p.num_experts, top_k = p.top_k;
  const int32_t* tile_prefix = p.route_tile_counts + int64_t(tile) * num_experts;  // exclusive, over tiles
  build_token_masks(p, first_token, rows, ss);

  // After this loop slot_of[t, j] is the row of (t, expert j) in the expert buffers, or -1 if dropped.
  for (int pair = threadIdx.x; pair < rows * top_k; pair += blockDim.x) {
    const int m = pair / top_k;
    const int64_t idx = first_token * top_k + pair;
    const int e = p.topk_ids[idx];
    const int64_t position = tile_prefix[e] + tokens_before_in_tile(ss.token_masks[e], m);
    const bool kept = position < p.capacity;
    const int32_t slot = kept ? int32_t(int64_t(p.expert_tile_offset[e]) * kTileM + position) : -1;
    p.slot_of[idx] = slot;
    if (kept) p.expert_row_token[slot] = int32_t(first_token + m);
    if (p.user_topk_ids) p.user_topk_ids[idx] = e;
    if (p.user_topk_weights) p.user_topk_weights[idx] = kept ? p.topk_weights[idx] : 0.f;
  }
  __syncthreads();  // the stores above before the release adds below (cumulative release, docs/protocol.md)

  // Named rows per expert row tile: this tile's positions of expert e are [begin, end), clipped to capacity.
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) {
    int count = 0;
#pragma unroll
    for (int w = 0; w < kMaskWordsPerTile; ++w) count += __popc(ss.token_masks[e][w]);
    const int64_t begin = tile_prefix[e];
    const int64_t end = cute::min<int64_t>(begin + count, p.capacity);
    for (int64_t row_tile = begin / kTileM; begin < end && row_tile <= (end - 1) / kTileM; ++row_tile) {
      const int64_t lo = cute::max<int64_t>(begin, row_tile * kTileM), hi = cute::min<int64_t>(end, (row_tile + 1) * kTileM);
      red_add_release_gpu(&p.row_tile_ready[p.expert_tile_offset[e] + row_tile], uint32_t(hi - lo));
    }
  }
  block_publish_add(&p.dispatch_done[tile], 1);
}

}  // namespace onemoe::device
