// Expert parallelism, expert FFN on the owner: GEMM1 tiles start when their rows have arrived from every
// source rank; GEMM2 tiles write each output row straight into its source rank's window, and the last
// column tile of an expert tile stamps the tile with the forward's epoch for the sources to see.
#pragma once

#include "ep_plan.cuh"
#include "expert_ffn.cuh"

namespace onemoe::device {

// As locate_gemm_task, over this rank's experts (tiles numbered from 0 in the window).
__device__ inline bool ep_locate_gemm_task(const EpKernelParams& ep, int task, int n_tiles, ExpertTile* out,
                                           int* local_expert) {
  const int32_t* offsets = ep.local_tile_offset;
  const int tile_of_task = task / n_tiles;
  if (tile_of_task >= offsets[ep.num_local_experts]) return false;
  int lo = 0, hi = ep.num_local_experts;  // invariant: offsets[lo] <= tile_of_task < offsets[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (offsets[mid] <= tile_of_task) lo = mid; else hi = mid;
  }
  const int first = offsets[lo], expert_tiles = offsets[lo + 1] - first;
  const int local = task - first * n_tiles;
  const int m = local % expert_tiles;
  out->tile = first + m;
  out->n_tile = local / expert_tiles;
  out->expert = ep.local_expert[lo];
  out->rows = min(kTileM, ep.base.expert_kept[out->expert] - m * kTileM);
  *local_expert = lo;
  return true;
}

template <class Elem, bool kExactFp32>
__device__ void ep_gemm1_task(const EpKernelParams& ep, const WaitContext& wait_ctx, int task, void* gemm_smem,
                              EpStageSmem& es) {
  const KernelParams& p = ep.base;
  StageSmem& ss = es.base;
  if (!block_wait_at_least(p, wait_ctx, &p.counters->plan_ready, 1, WaitSite::kPlanReady, task, &ss.flag)) return;
  ExpertTile et;
  int li = 0;
  if (!ep_locate_gemm_task(ep, task, p.gemm1_n_tiles, &et, &li)) return;
  const int tile = et.tile, n_tile = et.n_tile;
  const uint32_t* ready = reinterpret_cast<const uint32_t*>(es.peer_base[ep.rank] + ep.win.row_tile_ready) + tile;
  if (!block_wait_until(
          p, wait_ctx, [&] { return ld_acquire_sys(ready) >= uint32_t(et.rows); }, [&] { return ld_acquire_sys(ready); },
          uint32_t(et.rows), WaitSite::kPeerRowTile, tile, &ss.flag))
    return;

  const int H = p.hidden, I = p.intermediate;
  const GemmOperand a{static_cast<const Elem*>(p.expert_in) + int64_t(tile) * kTileM * H, H, &p.maps.expert_in,
                      tile * kTileM, et.rows};
  Elem* hidden = static_cast<Elem*>(p.expert_hidden) + int64_t(tile) * kTileM * I;
  const int64_t expert_w_offset = int64_t(li) * I * H;
  const int act = p.activation;
  if (p.gated) {
    using Tile = Gemm1GatedTile<Elem, kExactFp32>;
    const int n0 = n_tile * kGatedTileN;
    const int cols = min(kGatedTileN, I - n0);
    const GemmOperand b[2] = {
        {static_cast<const Elem*>(p.w1) + expert_w_offset + int64_t(n0) * H, H, &p.maps.w1, li * I + n0, cols},
        {static_cast<const Elem*>(p.w3) + expert_w_offset + int64_t(n0) * H, H, &p.maps.w3, li * I + n0, cols}};
    Tile::run(a, b, H, gemm_smem, [&](int m, int n, const float (&v)[2][2]) {
      if (m < et.rows && n < cols)
        store_pair(hidden + int64_t(m) * I + n0 + n, activate(act, v[0][0]) * v[1][0], activate(act, v[0][1]) * v[1][1]);
    });
  } else {
    using Tile = Gemm1PlainTile<Elem, kExactFp32>;
    const int n0 = n_tile * kExpertTileN;
    const int cols = min(kExpertTileN, I - n0);
    const GemmOperand b[1] = {
        {static_cast<const Elem*>(p.w1) + expert_w_offset + int64_t(n0) * H, H, &p.maps.w1, li * I + n0, cols}};
    Tile::run(a, b, H, gemm_smem, [&](int m, int n, const float (&v)[1][2]) {
      if (m < et.rows && n < cols) store_pair(hidden + int64_t(m) * I + n0 + n, activate(act, v[0][0]), activate(act, v[0][1]));
    });
  }
  block_publish_add(&p.gemm1_tiles_done[tile], 1);
}

template <class Elem, bool kExactFp32>
__device__ void ep_gemm2_task(const EpKernelParams& ep, const WaitContext& wait_ctx, int task, void* gemm_smem,
                              EpStageSmem& es) {
  const KernelParams& p = ep.base;
  StageSmem& ss = es.base;
  if (!block_wait_at_least(p, wait_ctx, &p.counters->plan_ready, 1, WaitSite::kPlanReady, task, &ss.flag)) return;
  ExpertTile et;
  int li = 0;
  if (!ep_locate_gemm_task(ep, task, p.gemm2_n_tiles, &et, &li)) return;
  const int tile = et.tile, n_tile = et.n_tile;
  if (!block_wait_at_least(p, wait_ctx, &p.gemm1_tiles_done[tile], uint32_t(p.gemm1_n_tiles),
                           WaitSite::kExpertHiddenDone, tile, &ss.flag))
    return;

  const int H = p.hidden, I = p.intermediate;
  const int row_bytes = H * int(sizeof(Elem));
  bool remote = false;
  if (threadIdx.x < kTileM) {
    void* dest = nullptr;
    if (threadIdx.x < et.rows) {
      const int2 source =
          reinterpret_cast<const int2*>(es.peer_base[ep.rank] + ep.win.row_source)[int64_t(tile) * kTileM + threadIdx.x];
      dest = es.peer_base[source.x] + ep.win.returned + int64_t(source.y) * row_bytes;
      remote = source.x != ep.rank;
    }
    es.row_dest[threadIdx.x] = dest;
  }
  const int remote_rows = __syncthreads_count(remote);

  using Tile = Gemm2Tile<Elem, kExactFp32>;
  const int n0 = n_tile * kExpertTileN;
  const int cols = min(kExpertTileN, H - n0);
  const GemmOperand a{static_cast<const Elem*>(p.expert_hidden) + int64_t(tile) * kTileM * I, I,
                      &p.maps.expert_hidden, tile * kTileM, et.rows};
  const GemmOperand b[1] = {{static_cast<const Elem*>(p.w2) + int64_t(li) * H * I + int64_t(n0) * I, I, &p.maps.w2,
                             li * H + n0, cols}};
  Tile::run(a, b, I, gemm_smem, [&](int m, int n, const float (&v)[1][2]) {
    if (m < et.rows && n < cols) store_pair(static_cast<Elem*>(es.row_dest[m]) + n0 + n, v[0][0], v[0][1]);
  });
  __threadfence_system();
  __syncthreads();
  if (threadIdx.x == 0) {
    if (remote_rows) {
      if (n_tile == 0) atomicAdd(&ep.traffic->rows_returned, (unsigned long long)remote_rows);
      atomicAdd(&ep.traffic->payload_bytes, (unsigned long long)remote_rows * cols * sizeof(Elem));
    }
    // The last column tile of the tile publishes it; its acq_rel add orders the other column tiles' rows
    // before the epoch stamp.
    // The stamp stays in this rank's window: sources read it, so it is not counted as bytes sent.
    if (atomic_add_acq_rel_sys(&p.gemm2_tiles_done[tile], 1) == uint32_t(p.gemm2_n_tiles - 1))
      st_release_sys(reinterpret_cast<uint32_t*>(es.peer_base[ep.rank] + ep.win.output_done) + tile, p.epoch);
  }
}

}  // namespace onemoe::device
