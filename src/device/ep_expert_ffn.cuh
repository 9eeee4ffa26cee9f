// Expert parallelism, expert FFN on the owner: GEMM1 tiles start when their rows have arrived from every
// source rank; GEMM2 tiles write each output row straight into its source rank's window, and the last
// column tile of an expert tile stamps the tile with the forward's epoch for the sources to see.
#pragma once

#include "ep_plan.cuh"
#include "expert_ffn.cuh"

namespace onemoe::device {

// As locate_gemm_task, over this rank's experts (tiles numbered from 0 in the window).
__device__ inline bool ep_locate_gemm_task(const EpKernelParams& ep, int task, int n_tiles, ExpertTile* out) {
  int local = 0;
  if (!locate_in_tile_list(ep.local_tile_offset, ep.num_local_experts, task, n_tiles, out, &local)) return false;
  out->expert = ep.local_expert[local];
  out->weight_index = local;
  out->rows = min(kTileM, ep.base.expert_kept[out->expert] - out->row_tile_of_expert * kTileM);
  return true;
}

template <class Elem, bool kExactFp32>
__device__ void ep_gemm1_task(const EpKernelParams& ep, const WaitContext& wait_ctx, int task, const GemmSmem& gemm_smem,
                              EpStageSmem& es) {
  const KernelParams& p = ep.base;
  StageSmem& ss = es.base;
  const bool warm = task == kWarmGemm1Task;  // the warm-up pass (warm_gemm1_first)
  ExpertTile et = warm_gemm1_tile(p);
  if (!warm) {
    // The plan is known: decoding this task's ticket waited for it (ep_chunk_tiles).
    // Past the last tile: only such GEMM1 tasks follow in the range (locate_ep_middle_ticket).
    if (!ep_locate_gemm_task(ep, task, p.gemm1_n_tiles, &et))
      return skip_empty_gemm_tickets(p, p.first_gemm2_ticket);
    const uint32_t* ready =
        reinterpret_cast<const uint32_t*>(es.peer_base[ep.rank] + ep.win.row_tile_ready) + et.tile;
    const uint32_t want = uint32_t(et.rows);
    if (!block_wait_until(
            p, wait_ctx, [&] { return ld_acquire_sys(ready) >= want; }, [&] { return ld_acquire_sys(ready); }, want,
            WaitSite::kPeerRowTile, et.tile, &ss.flag))
      return;
    mark_task(p, ss.task_mark_ns, 0);
  }
  const bool ok = gemm1_tile<Elem, kExactFp32, kStageEpilogueRows>(
      p, et, gemm_smem, wait_ctx.deadline_ns, warm ? TileMarks{} : TileMarks{&p, &wait_ctx, ss.task_mark_ns, &ss.ticket},
      warm ? kWarmGemm1KSteps : 0);
  if (warm) return;
  if (!ok) return record_gemm_stall(p, wait_ctx, et.tile);
  block_publish_add(&p.gemm1_tiles_done[et.tile], 1);
}

template <class Elem, bool kExactFp32>
__device__ void ep_gemm2_task(const EpKernelParams& ep, const WaitContext& wait_ctx, int task, const GemmSmem& gemm_smem,
                              EpStageSmem& es) {
  const KernelParams& p = ep.base;
  StageSmem& ss = es.base;
  if (!block_wait_at_least(p, wait_ctx, &p.counters->plan_ready, 1, WaitSite::kPlanReady, task, &ss.flag)) return;
  ExpertTile et;
  // Past the last tile: one GEMM2 group, tile-major, then the combine.
  if (!ep_locate_gemm_task(ep, task, p.gemm2_n_tiles, &et)) return skip_empty_gemm_tickets(p, p.first_combine_ticket);
  const int tile = et.tile, n_tile = et.n_tile;
  if (!block_wait_at_least(p, wait_ctx, &p.gemm1_tiles_done[tile], uint32_t(p.gemm1_n_tiles),
                           WaitSite::kExpertHiddenDone, tile, &ss.flag))
    return;
  mark_task(p, ss.task_mark_ns, 0);

  const int row_bytes = p.hidden * int(sizeof(Elem));
  const int cols = min(kExpertTileN, p.hidden - n_tile * kExpertTileN);
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

  if (!gemm2_tile<Elem, kExactFp32, true>(p, et, gemm_smem, wait_ctx.deadline_ns,
                                         [&](int m) { return static_cast<Elem*>(es.row_dest[m]); },
                                         TileMarks{&p, &wait_ctx, ss.task_mark_ns, &ss.ticket}))
    return record_gemm_stall(p, wait_ctx, tile);
  __syncthreads();  // orders every thread's row stores before thread 0's acq_rel add (cumulative, as in dispatch)
  if (threadIdx.x == 0) {
    if (remote_rows) {
      if (n_tile == 0) atomicAdd(&ep.traffic->rows_returned, (unsigned long long)remote_rows);
      atomicAdd(&ep.traffic->payload_bytes, (unsigned long long)remote_rows * cols * sizeof(Elem));
    }
    // The last column tile of the tile publishes it; its acq_rel add orders the other column tiles' rows
    // before the epoch stamp.
    // The stamp stays in this rank's window: sources read it, so it is not counted as bytes sent.
    if (atomic_add_acq_rel_sys(&p.gemm2_tiles_done[tile], 1) == uint32_t(p.gemm2_n_tiles - 1))
      st_release_sys(reinterpret_cast<uint32_t*>(es.peer_base[ep.rank] + ep.win.output_done) + tile, wait_ctx.epoch);
  }
}

}  // namespace onemoe::device
