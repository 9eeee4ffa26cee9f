// Combine stage: out[t] = sum over the token's kept experts, in ascending expert order, of weight * expert
// row, accumulated in fp32. No atomics on outputs, so results are bitwise stable. One task per (route tile,
// column part): p.combine_parts parts split H so that small T still spreads over many blocks. On one GPU a
// part is a piece of a GEMM2 column group (ticket_layout.h), so it can run as soon as that group is done.
#pragma once

#include <cute/arch/copy_sm80.hpp>

#include "block_sync.cuh"
#include "column_part.cuh"
#include "numeric.cuh"
#include "scheduler.cuh"
#include "stage_smem.cuh"
#include "ticket_layout.h"

namespace onemoe::device {

// Pair metadata of one route tile, staged in the (then idle) GEMM smem by the combine.
struct CombineSmem {
  int32_t row[kTileM * kMaxTopK];  // the pair's expert output row (its index into the stage's row base), -1: dropped
  float weight[kTileM * kMaxTopK];
};
static_assert(sizeof(CombineSmem) == kCombinePairListBytes && kCombinePairListBytes % 16 == 0,
              "the staging slots follow the pair lists, 16-byte aligned (stage_smem.cuh sizes the room)");

// 16-byte vectors each thread keeps in flight per step, at most: they are copied global -> shared with
// cp.async, which holds no registers while in flight (loads into registers capped this at 4-8 per thread, and
// one block then moved ~8 GB/s: latency-bound). Fewer when the staging smem is smaller (the exact-fp32 build).
inline constexpr int kCombineMaxVecsInFlight = 16;

__device__ inline void combine_task_coords(const KernelParams& p, int task, int* tile, int* part) {
  *tile = task / p.combine_parts;
  *part = task % p.combine_parts;
}

// Block-wide, after cs holds the tile's pairs: out[token] = Σ over the token's kept pairs j (ascending expert
// id) of weight · row, in fp32, for the 16-byte column vectors of `part`. The one summation both the one-GPU
// and the expert-parallel combine use, so their bits agree. Each step a thread stages the rows of `per` output
// vectors (all their pairs) in its own slots of `staging` (slot-major, so a warp's copies are contiguous),
// waits for its own copies only, and sums from there.
template <class Elem>
__device__ void combine_rows(const KernelParams& p, int64_t first_token, int rows, ColumnPart columns,
                             const CombineSmem& cs, const Elem* row_base, int4* staging, int staging_vecs) {
  constexpr int kVec = 16 / int(sizeof(Elem));
  const int H = p.hidden, top_k = p.top_k, threads = int(blockDim.x), tid = int(threadIdx.x);
  const auto [v0, vecs] = columns;
  const int slots = min(kCombineMaxVecsInFlight, staging_vecs / threads);  // >= kMaxTopK (kCombineSmemFloor)
  const int per = slots / top_k;  // output vectors per thread per step
  const int total = rows * vecs;
  for (int base = tid; base < total; base += threads * per) {
    for (int u = 0; u < per; ++u) {
      const int item = base + u * threads;
      if (item >= total) break;
      const int token = item / vecs, vec = v0 + item % vecs;
      for (int j = 0; j < top_k; ++j) {
        const int32_t row = cs.row[token * top_k + j];
        if (row >= 0)
          cute::SM80_CP_ASYNC_CACHEGLOBAL<int4>::copy(
              reinterpret_cast<const int4*>(row_base + int64_t(row) * H)[vec], staging[(u * top_k + j) * threads + tid]);
      }
    }
    cute::cp_async_fence();
    cute::cp_async_wait<0>();
    for (int u = 0; u < per; ++u) {
      const int item = base + u * threads;
      if (item >= total) break;
      const int token = item / vecs, vec = v0 + item % vecs;
      float acc[kVec];
#pragma unroll
      for (int i = 0; i < kVec; ++i) acc[i] = 0.f;
      for (int j = 0; j < top_k; ++j) {
        const int pair = token * top_k + j;
        if (cs.row[pair] < 0) continue;
        const float w = cs.weight[pair];
        const int4 packed = staging[(u * top_k + j) * threads + tid];
        const Elem* y = reinterpret_cast<const Elem*>(&packed);
#pragma unroll
        for (int i = 0; i < kVec; ++i) acc[i] = fmaf(w, to_float(y[i]), acc[i]);
      }
      int4 packed_out;
      Elem* o = reinterpret_cast<Elem*>(&packed_out);
#pragma unroll
      for (int i = 0; i < kVec; ++i) o[i] = from_float<Elem>(acc[i]);
      reinterpret_cast<int4*>(static_cast<Elem*>(p.out) + (first_token + token) * H)[vec] = packed_out;
    }
  }
}

// One combine task: wait for the route tile's dispatch, stage its pairs (row_of(idx, slot): the pair's row in
// row_base), wait for every kept pair's expert output (wait_pair(idx, slot), one thread per pair, which
// records its own failure), then sum the part's columns (`columns`). Shared by the one-GPU and the
// expert-parallel combine. stage_smem: the idle GEMM smem, stage_smem_bytes of it. The block's next ticket
// is taken once the waits are over (scheduler.cuh): held while waiting, the last combine tickets ran only after
// the blocks holding them finished their own combine (decode, run 63).
template <class Elem, class RowOf, class WaitPair>
__device__ void combine_task(const KernelParams& p, const WaitContext& wait_ctx, int task, ColumnPart columns,
                             void* stage_smem, size_t stage_smem_bytes, StageSmem& ss, const Elem* row_base,
                             RowOf&& row_of, WaitPair&& wait_pair) {
  int tile, part;
  combine_task_coords(p, task, &tile, &part);
  if (!block_wait_at_least(p, wait_ctx, &p.dispatch_done[tile], uint32_t(p.dispatch_parts), WaitSite::kDispatchDone,
                           tile, &ss.flag))
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
  take_deferred_ticket(p, wait_ctx, &ss.ticket);
  combine_rows<Elem>(p, first_token, rows, columns, cs, row_base,
                     reinterpret_cast<int4*>(static_cast<char*>(stage_smem) + sizeof(CombineSmem)),
                     int((stage_smem_bytes - sizeof(CombineSmem)) / sizeof(int4)));
}

template <class Elem>
__device__ void combine_tile(const KernelParams& p, const WaitContext& wait_ctx, int task, void* stage_smem,
                             size_t stage_smem_bytes, StageSmem& ss) {
  // Part `part` is a piece of one GEMM2 column group's columns (ticket_layout.h). Expert output rows are indexed
  // by slot; a pair is ready when its expert tile has every column tile of that group.
  constexpr int kVec = 16 / int(sizeof(Elem));
  int tile, part;
  combine_task_coords(p, task, &tile, &part);
  const PartColumns pc = combine_part_columns(p.hidden / kVec, kExpertTileN / kVec, p.gemm2_n_tiles, p.gemm2_groups,
                                              p.combine_parts, part);
  const uint32_t want = uint32_t(gemm2_group_n_tiles(p.gemm2_n_tiles, p.gemm2_groups, pc.group));
  combine_task<Elem>(
      p, wait_ctx, task, ColumnPart{pc.v0, pc.vecs}, stage_smem, stage_smem_bytes, ss,
      static_cast<const Elem*>(p.expert_out), [](int64_t, int32_t slot) { return slot; },
      [&](int64_t, int32_t slot) {
        const uint32_t* flag = &p.gemm2_tiles_done[(slot / kTileM) * p.gemm2_groups + pc.group];
        const bool ok = wait_at_least(flag, want, wait_ctx);
        if (!ok && !forward_aborted(wait_ctx))
          record_timeout(p, wait_ctx, WaitSite::kExpertOutputDone, uint32_t(slot / kTileM), flag, want);
        return ok;
      });
}

}  // namespace onemoe::device
