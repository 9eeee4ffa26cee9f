// Expert FFN stages. An expert tile is kTileM rows of one expert's buffer; tiles are numbered in expert
// order by the plan (expert_tile_offset). GEMM1 tasks are (tile, column tile of I), GEMM2 tasks
// (tile, column tile of H). Each starts when its inputs are complete, not when a stage is.
#pragma once

#include "block_sync.cuh"
#include "numeric.cuh"
#include "stage_smem.cuh"

namespace onemoe::device {

struct ExpertTile {
  int tile;    // global expert tile index (rows tile*kTileM.. of the expert buffers)
  int n_tile;  // output column tile
  int expert;
  int rows;    // valid rows in this tile
};

// Maps a GEMM stage's task index to its (expert tile, column tile); false past the last tile of this forward.
// Tasks of expert e are [offset[e]*n_tiles, offset[e+1]*n_tiles), ordered column-tile-major: the row tiles of
// one expert that read the same weight tile run back to back, so the weights come from HBM about once.
__device__ inline bool locate_gemm_task(const KernelParams& p, int task, int n_tiles, ExpertTile* out) {
  const int32_t* offsets = p.expert_tile_offset;
  const int tile_of_task = task / n_tiles;
  if (tile_of_task >= offsets[p.num_experts]) return false;
  int lo = 0, hi = p.num_experts;  // invariant: offsets[lo] <= tile_of_task < offsets[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (offsets[mid] <= tile_of_task) lo = mid; else hi = mid;
  }
  const int first = offsets[lo], expert_tiles = offsets[lo + 1] - first;
  const int local = task - first * n_tiles;
  const int m = local % expert_tiles;
  out->tile = first + m;
  out->n_tile = local / expert_tiles;
  out->expert = lo;
  out->rows = min(kTileM, p.expert_kept[lo] - m * kTileM);
  return true;
}

template <class Elem, bool kExactFp32>
__device__ void gemm1_task(const KernelParams& p, const WaitContext& wait_ctx, int task, void* gemm_smem,
                           StageSmem& ss) {
  if (!block_wait_at_least(p, wait_ctx, &p.counters->plan_ready, 1, WaitSite::kPlanReady, task, &ss.flag)) return;
  ExpertTile et;
  if (!locate_gemm_task(p, task, p.gemm1_n_tiles, &et)) return;
  const int tile = et.tile, n_tile = et.n_tile;
  if (!block_wait_at_least(p, wait_ctx, &p.row_tile_ready[tile], uint32_t(et.rows), WaitSite::kRowTileDispatched,
                           tile, &ss.flag))
    return;

  const int H = p.hidden, I = p.intermediate;
  const GemmOperand a{static_cast<const Elem*>(p.expert_in) + int64_t(tile) * kTileM * H, H, &p.maps.expert_in,
                      tile * kTileM, et.rows};
  Elem* hidden = static_cast<Elem*>(p.expert_hidden) + int64_t(tile) * kTileM * I;
  const int64_t expert_w_offset = int64_t(et.expert) * I * H;
  const int act = p.activation;
  if (p.gated) {
    using Tile = Gemm1GatedTile<Elem, kExactFp32>;
    const int n0 = n_tile * kGatedTileN;
    const int cols = min(kGatedTileN, I - n0);
    const GemmOperand b[2] = {
        {static_cast<const Elem*>(p.w1) + expert_w_offset + int64_t(n0) * H, H, &p.maps.w1, et.expert * I + n0, cols},
        {static_cast<const Elem*>(p.w3) + expert_w_offset + int64_t(n0) * H, H, &p.maps.w3, et.expert * I + n0, cols}};
    Tile::run(a, b, H, gemm_smem, [&](int m, int n, const float (&v)[2][2]) {
      if (m < et.rows && n < cols)
        store_pair(hidden + int64_t(m) * I + n0 + n, activate(act, v[0][0]) * v[1][0], activate(act, v[0][1]) * v[1][1]);
    });
  } else {
    using Tile = Gemm1PlainTile<Elem, kExactFp32>;
    const int n0 = n_tile * kExpertTileN;
    const int cols = min(kExpertTileN, I - n0);
    const GemmOperand b[1] = {
        {static_cast<const Elem*>(p.w1) + expert_w_offset + int64_t(n0) * H, H, &p.maps.w1, et.expert * I + n0, cols}};
    Tile::run(a, b, H, gemm_smem, [&](int m, int n, const float (&v)[1][2]) {
      if (m < et.rows && n < cols) store_pair(hidden + int64_t(m) * I + n0 + n, activate(act, v[0][0]), activate(act, v[0][1]));
    });
  }
  block_publish_add(&p.gemm1_tiles_done[tile], 1);
}

template <class Elem, bool kExactFp32>
__device__ void gemm2_task(const KernelParams& p, const WaitContext& wait_ctx, int task, void* gemm_smem,
                           StageSmem& ss) {
  if (!block_wait_at_least(p, wait_ctx, &p.counters->plan_ready, 1, WaitSite::kPlanReady, task, &ss.flag)) return;
  ExpertTile et;
  if (!locate_gemm_task(p, task, p.gemm2_n_tiles, &et)) return;
  const int tile = et.tile, n_tile = et.n_tile;
  if (!block_wait_at_least(p, wait_ctx, &p.gemm1_tiles_done[tile], uint32_t(p.gemm1_n_tiles),
                           WaitSite::kExpertHiddenDone, tile, &ss.flag))
    return;

  using Tile = Gemm2Tile<Elem, kExactFp32>;
  const int H = p.hidden, I = p.intermediate;
  const int n0 = n_tile * kExpertTileN;
  const int cols = min(kExpertTileN, H - n0);
  const GemmOperand a{static_cast<const Elem*>(p.expert_hidden) + int64_t(tile) * kTileM * I, I,
                      &p.maps.expert_hidden, tile * kTileM, et.rows};
  const GemmOperand b[1] = {{static_cast<const Elem*>(p.w2) + int64_t(et.expert) * H * I + int64_t(n0) * I, I,
                             &p.maps.w2, et.expert * H + n0, cols}};
  Elem* out = static_cast<Elem*>(p.expert_out) + int64_t(tile) * kTileM * H;
  Tile::run(a, b, I, gemm_smem, [&](int m, int n, const float (&v)[1][2]) {
    if (m < et.rows && n < cols) store_pair(out + int64_t(m) * H + n0 + n, v[0][0], v[0][1]);
  });
  block_publish_add(&p.gemm2_tiles_done[tile], 1);
}

}  // namespace onemoe::device
