// Combine stage: out[t] = sum over the token's kept experts, in ascending expert order, of weight * expert
// row, accumulated in fp32. No atomics on outputs, so results are bitwise stable. One task per (route tile,
// column part): p.combine_parts parts split H so that small T still spreads over many blocks.
#pragma once

#include "block_sync.cuh"
#include "column_part.cuh"
#include "numeric.cuh"
#include "stage_smem.cuh"

namespace onemoe::device {

// Pair metadata of one route tile, staged in the (then idle) GEMM smem by the combine.
struct CombineSmem {
  int32_t row[kTileM * kMaxTopK];  // the pair's expert output row (its index into the stage's row base), -1: dropped
  float weight[kTileM * kMaxTopK];
};

// Output vectors each thread combines at once: every one keeps top_k 16-byte loads in flight per step (one
// token at a time per warp leaves the HBM latency exposed: ~10 GB/s per block).
inline constexpr int kCombineVecsPerThread = 4;

__device__ inline void combine_task_coords(const KernelParams& p, int task, int* tile, int* part) {
  *tile = task / p.combine_parts;
  *part = task % p.combine_parts;
}

// Block-wide, after cs holds the tile's pairs: out[token] = Σ over the token's kept pairs j (ascending expert
// id) of weight · row, in fp32, for the 16-byte column vectors of `part`. The one summation both the one-GPU
// and the expert-parallel combine use, so their bits agree.
template <class Elem>
__device__ void combine_rows(const KernelParams& p, int64_t first_token, int rows, int part, const CombineSmem& cs,
                             const Elem* row_base) {
  constexpr int kVec = 16 / int(sizeof(Elem));
  constexpr int kPer = kCombineVecsPerThread;
  const int H = p.hidden, top_k = p.top_k;
  const auto [v0, vecs] = column_part(H / kVec, p.combine_parts, part);
  const int total = rows * vecs;
  for (int base = threadIdx.x; base < total; base += blockDim.x * kPer) {
    float acc[kPer][kVec];
#pragma unroll
    for (int u = 0; u < kPer; ++u)
#pragma unroll
      for (int i = 0; i < kVec; ++i) acc[u][i] = 0.f;
    for (int j = 0; j < top_k; ++j) {
      int4 packed[kPer];
#pragma unroll
      for (int u = 0; u < kPer; ++u) {
        const int item = base + u * int(blockDim.x);
        if (item >= total) continue;
        const int pair = (item / vecs) * top_k + j;
        if (cs.row[pair] >= 0)
          packed[u] = reinterpret_cast<const int4*>(row_base + int64_t(cs.row[pair]) * H)[v0 + item % vecs];
      }
#pragma unroll
      for (int u = 0; u < kPer; ++u) {
        const int item = base + u * int(blockDim.x);
        if (item >= total) continue;
        const int pair = (item / vecs) * top_k + j;
        if (cs.row[pair] < 0) continue;
        const float w = cs.weight[pair];
        const Elem* y = reinterpret_cast<const Elem*>(&packed[u]);
#pragma unroll
        for (int i = 0; i < kVec; ++i) acc[u][i] = fmaf(w, to_float(y[i]), acc[u][i]);
      }
    }
#pragma unroll
    for (int u = 0; u < kPer; ++u) {
      const int item = base + u * int(blockDim.x);
      if (item >= total) continue;
      int4 packed_out;
      Elem* o = reinterpret_cast<Elem*>(&packed_out);
#pragma unroll
      for (int i = 0; i < kVec; ++i) o[i] = from_float<Elem>(acc[u][i]);
      const int64_t token = first_token + item / vecs;
      reinterpret_cast<int4*>(static_cast<Elem*>(p.out) + token * H)[v0 + item % vecs] = packed_out;
    }
  }
}

// One combine task: wait for the route tile's dispatch, stage its pairs (row_of(idx, slot): the pair's row in
// row_base), wait for every kept pair's expert output (wait_pair(idx, slot), one thread per pair, which
// records its own failure), then sum. Shared by the one-GPU and the expert-parallel combine.
template <class Elem, class RowOf, class WaitPair>
__device__ void combine_task(const KernelParams& p, const WaitContext& wait_ctx, int task, void* stage_smem,
                             int* s_flag, const Elem* row_base, RowOf&& row_of, WaitPair&& wait_pair) {
  int tile, part;
  combine_task_coords(p, task, &tile, &part);
  if (!block_wait_at_least(p, wait_ctx, &p.dispatch_done[tile], uint32_t(p.dispatch_parts), WaitSite::kDispatchDone,
                           tile, s_flag))
    return;

  const int64_t first_token = int64_t(tile) * kTileM;
  const int rows = int(cute::min<int64_t>(kTileM, p.num_tokens - first_token));
  CombineSmem& cs = *static_cast<CombineSmem*>(stage_smem);
  bool ready = true;
  for (int pair = threadIdx.x; pair < rows * p.top_k; pair += blockDim.x) {
    const int64_t idx = first_token * p.top_k + pair;
    const int32_t slot = p.slot_of[idx];
    cs.row[pair] = slot < 0 ? -1 : row_of(idx, slot);
    cs.weight[pair] = p.topk_weights[idx];
    if (slot >= 0 && ready) ready = wait_pair(idx, slot);
  }
  if (!__syncthreads_and(ready)) return;
  combine_rows<Elem>(p, first_token, rows, part, cs, row_base);
}

template <class Elem>
__device__ void combine_tile(const KernelParams& p, const WaitContext& wait_ctx, int task, void* stage_smem,
                             StageSmem& ss) {
  // Expert output rows are indexed by slot; a pair is ready when its expert tile has every GEMM2 column tile.
  combine_task<Elem>(
      p, wait_ctx, task, stage_smem, &ss.flag, static_cast<const Elem*>(p.expert_out),
      [](int64_t, int32_t slot) { return slot; },
      [&](int64_t, int32_t slot) {
        const uint32_t* flag = &p.gemm2_tiles_done[slot / kTileM];
        const bool ok = wait_at_least(flag, uint32_t(p.gemm2_n_tiles), wait_ctx);
        if (!ok && !forward_aborted(p))
          record_timeout(p, WaitSite::kExpertOutputDone, uint32_t(slot / kTileM), flag, uint32_t(p.gemm2_n_tiles));
        return ok;
      });
}

}  // namespace onemoe::device
