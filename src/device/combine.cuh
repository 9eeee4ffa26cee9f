// Combine stage, one task per route tile: out[t] = sum over the token's kept experts, in ascending expert
// order, of weight * expert row, accumulated in fp32. No atomics on outputs, so results are bitwise stable.
#pragma once

#include "block_sync.cuh"
#include "numeric.cuh"
#include "stage_smem.cuh"

namespace onemoe::device {

// One warp: out[token] = Σ over the token's kept pairs j (ascending expert id) of weight · row_of(pair), in
// fp32. The one summation both the one-GPU and the expert-parallel combine use, so their bits agree.
template <class Elem, class RowOf>
__device__ void combine_token(const KernelParams& p, int64_t token, RowOf&& row_of) {
  constexpr int kVec = 16 / int(sizeof(Elem));
  const int H = p.hidden, top_k = p.top_k;
  Elem* out_row = static_cast<Elem*>(p.out) + token * H;
  for (int v = threadIdx.x % 32; v < H / kVec; v += 32) {
    float acc[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i) acc[i] = 0.f;
    for (int j = 0; j < top_k; ++j) {
      const int64_t pair = token * top_k + j;
      if (p.slot_of[pair] < 0) continue;
      const float w = p.topk_weights[pair];
      const int4 packed = reinterpret_cast<const int4*>(row_of(pair))[v];
      const Elem* y = reinterpret_cast<const Elem*>(&packed);
#pragma unroll
      for (int i = 0; i < kVec; ++i) acc[i] = fmaf(w, to_float(y[i]), acc[i]);
    }
    int4 packed_out;
    Elem* o = reinterpret_cast<Elem*>(&packed_out);
#pragma unroll
    for (int i = 0; i < kVec; ++i) o[i] = from_float<Elem>(acc[i]);
    reinterpret_cast<int4*>(out_row)[v] = packed_out;
  }
}

template <class Elem>
__device__ void combine_tile(const KernelParams& p, const WaitContext& wait_ctx, int tile, StageSmem& ss) {
  if (!block_wait_at_least(p, wait_ctx, &p.dispatch_done[tile], 1, WaitSite::kDispatchDone, tile, &ss.flag)) return;

  const int64_t first_token = int64_t(tile) * kTileM;
  const int rows = int(cute::min<int64_t>(kTileM, p.num_tokens - first_token));
  const int H = p.hidden, top_k = p.top_k;
  const int lane = threadIdx.x % 32;
  for (int m = threadIdx.x / 32; m < rows; m += blockDim.x / 32) {
    const int64_t token = first_token + m;
    bool ready = true;
    for (int j = 0; j < top_k && ready; ++j) {
      const int32_t slot = p.slot_of[token * top_k + j];
      if (slot < 0) continue;
      const uint32_t* flag = &p.gemm2_tiles_done[slot / kTileM];
      ready = wait_at_least(flag, uint32_t(p.gemm2_n_tiles), wait_ctx);
      if (!ready && lane == 0 && !forward_aborted(p))
        record_timeout(p, WaitSite::kExpertOutputDone, uint32_t(slot / kTileM), flag, uint32_t(p.gemm2_n_tiles));
    }
    if (!ready) return;

    combine_token<Elem>(p, token, [&](int64_t pair) {
      return static_cast<const Elem*>(p.expert_out) + int64_t(p.slot_of[pair]) * H;
    });
  }
}

}  // namespace onemoe::device
