// Expert parallelism, combine on the source rank (one task per route tile and column part): each kept pair's
// expert output row was written into this rank's window by the expert's owner; wait for the owner's epoch
// stamp on that expert tile, then sum exactly as the one-GPU combine does (combine_rows: fp32, ascending
// expert order), so outputs are bitwise the same for any rank count.
#pragma once

#include "combine.cuh"
#include "ep_plan.cuh"

namespace onemoe::device {

template <class Elem>
__device__ void ep_combine_tile(const EpKernelParams& ep, const WaitContext& wait_ctx, int task, void* stage_smem,
                                EpStageSmem& es) {
  const KernelParams& p = ep.base;
  int tile, part;
  combine_task_coords(p, task, &tile, &part);
  if (!block_wait_at_least(p, wait_ctx, &p.dispatch_done[tile], uint32_t(p.dispatch_parts), WaitSite::kDispatchDone,
                           tile, &es.base.flag))
    return;

  const int64_t first_token = int64_t(tile) * kTileM;
  const int rows = int(cute::min<int64_t>(kTileM, p.num_tokens - first_token));
  CombineSmem& cs = *static_cast<CombineSmem*>(stage_smem);
  // Returned rows are indexed by pair; each kept pair waits (one per thread) for its owner's stamp on its tile.
  bool ready = true;
  for (int pair = threadIdx.x; pair < rows * p.top_k; pair += blockDim.x) {
    const int64_t idx = first_token * p.top_k + pair;
    const int32_t slot = p.slot_of[idx];
    cs.row[pair] = slot < 0 ? -1 : int32_t(idx);
    cs.weight[pair] = p.topk_weights[idx];
    if (slot < 0 || !ready) continue;
    const int owner = ep.expert_owner[p.topk_ids[idx]];
    const uint32_t* stamp = reinterpret_cast<const uint32_t*>(es.peer_base[owner] + ep.win.output_done) + slot / kTileM;
    ready = wait_until([&] { return ld_acquire_sys(stamp) == p.epoch; }, wait_ctx);
    if (!ready && !forward_aborted(p))
      record_failure(p, WaitSite::kPeerOutputTile, uint32_t(owner), ld_acquire_sys(stamp), p.epoch);
  }
  if (!__syncthreads_and(ready)) return;
  combine_rows<Elem>(p, first_token, rows, part, cs,
                     reinterpret_cast<const Elem*>(es.peer_base[ep.rank] + ep.win.returned));
}

}  // namespace onemoe::device
