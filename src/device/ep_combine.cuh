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
                                size_t stage_smem_bytes, EpStageSmem& es) {
  const KernelParams& p = ep.base;
  // Returned rows are indexed by pair; a pair is ready when its owner has stamped the pair's expert tile.
  int tile, part;
  combine_task_coords(p, task, &tile, &part);
  combine_task<Elem>(
      p, wait_ctx, task, column_part(p.hidden * int(sizeof(Elem)) / 16, p.combine_parts, part), stage_smem,
      stage_smem_bytes, es.base,
      reinterpret_cast<const Elem*>(es.peer_base[ep.rank] + ep.win.returned),
      [](int64_t idx, int32_t) { return int32_t(idx); },
      [&](int64_t idx, int32_t slot) {
        const int owner = ep.expert_owner[p.topk_ids[idx]];
        const uint32_t* stamp =
            reinterpret_cast<const uint32_t*>(es.peer_base[owner] + ep.win.output_done) + slot / kTileM;
        const bool ok = wait_until([&] { return ld_acquire_sys(stamp) == wait_ctx.epoch; }, wait_ctx);
        if (!ok && !forward_aborted(wait_ctx))
          record_failure(p, wait_ctx, WaitSite::kPeerOutputTile, uint32_t(owner), ld_acquire_sys(stamp),
                         wait_ctx.epoch);
        return ok;
      });
}

}  // namespace onemoe::device
