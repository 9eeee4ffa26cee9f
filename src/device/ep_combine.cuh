// Expert parallelism, combine on the source rank (one task per route tile): each kept pair's expert output
// row was written into this rank's window by the expert's owner; wait for the owner's epoch stamp on that
// expert tile, then sum as the one-GPU combine does (fp32, ascending expert order), so outputs are bitwise
// the same for any rank count.
#pragma once

#include "combine.cuh"
#include "ep_plan.cuh"

namespace onemoe::device {

template <class Elem>
__device__ void ep_combine_tile(const EpKernelParams& ep, const WaitContext& wait_ctx, int tile, EpStageSmem& es) {
  const KernelParams& p = ep.base;
  if (!block_wait_at_least(p, wait_ctx, &p.dispatch_done[tile], 1, WaitSite::kDispatchDone, tile, &es.base.flag))
    return;

  const int64_t first_token = int64_t(tile) * kTileM;
  const int rows = int(cute::min<int64_t>(kTileM, p.num_tokens - first_token));
  const int H = p.hidden, top_k = p.top_k;
  const int lane = threadIdx.x % 32;
  const Elem* returned = reinterpret_cast<const Elem*>(es.peer_base[ep.rank] + ep.win.returned);
  for (int m = threadIdx.x / 32; m < rows; m += blockDim.x / 32) {
    const int64_t token = first_token + m;
    bool ready = true;
    for (int j = 0; j < top_k && ready; ++j) {
      const int32_t slot = p.slot_of[token * top_k + j];
      if (slot < 0) continue;
      const int owner = ep.expert_owner[p.topk_ids[token * top_k + j]];
      const uint32_t* stamp = reinterpret_cast<const uint32_t*>(es.peer_base[owner] + ep.win.output_done) + slot / kTileM;
      ready = wait_until([&] { return ld_acquire_sys(stamp) == p.epoch; }, wait_ctx);
      if (!ready && lane == 0 && !forward_aborted(p))
        record_failure(p, WaitSite::kPeerOutputTile, uint32_t(owner), ld_acquire_sys(stamp), p.epoch);
    }
    if (!ready) return;

    combine_token<Elem>(p, token, [&](int64_t pair) { return returned + pair * H; });
  }
}

}  // namespace onemoe::device
