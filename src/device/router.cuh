// Route stage, one task per tile of kTileM tokens: router GEMM -> scores -> top-k -> per-expert counts.
// The last route task to finish turns the counts into the expert plan and publishes plan_ready.
#pragma once

#include <cfloat>
#include <climits>

#include "block_sync.cuh"
#include "numeric.cuh"
#include "stage_smem.cuh"

namespace onemoe::device {

// Warp-wide choice of the best (score, expert): higher score wins, ties go to the lower expert id.
// NaN scores rank below everything so that a NaN token still picks k distinct, valid experts (its weights
// stay NaN and poison its output, as they must).
__device__ __forceinline__ void warp_argmax(float& key, int& expert, float& raw) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float other_key = __shfl_xor_sync(0xffffffffu, key, offset);
    const int other_expert = __shfl_xor_sync(0xffffffffu, expert, offset);
    const float other_raw = __shfl_xor_sync(0xffffffffu, raw, offset);
    if (other_key > key || (other_key == key && other_expert < expert)) {
      key = other_key;
      expert = other_expert;
      raw = other_raw;
    }
  }
}

// One warp routes one token: reads its E logits, writes k (expert, weight) pairs in ascending expert order.
__device__ inline void route_token(const KernelParams& p, int64_t token, StageSmem& ss) {
  constexpr int kPerLane = kMaxExperts / 32;
  const int lane = threadIdx.x % 32;
  const int num_experts = p.num_experts;
  const float* logits = p.logits + token * num_experts;

  float score[kPerLane];
#pragma unroll
  for (int q = 0; q < kPerLane; ++q) {
    const int e = lane + 32 * q;
    score[q] = e < num_experts ? logits[e] : -INFINITY;
  }
  if (p.scoring == 0) {  // softmax
    float max_logit = -INFINITY;
#pragma unroll
    for (int q = 0; q < kPerLane; ++q) max_logit = fmaxf(max_logit, score[q]);
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
      max_logit = fmaxf(max_logit, __shfl_xor_sync(0xffffffffu, max_logit, offset));
    float sum = 0.f;
#pragma unroll
    for (int q = 0; q < kPerLane; ++q) {
      score[q] = (lane + 32 * q < num_experts) ? expf(score[q] - max_logit) : 0.f;
      sum += score[q];
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
#pragma unroll
    for (int q = 0; q < kPerLane; ++q) score[q] = score[q] / sum;
  } else {  // sigmoid
#pragma unroll
    for (int q = 0; q < kPerLane; ++q) score[q] = 1.f / (1.f + expf(-score[q]));
  }

  uint32_t taken = 0;  // bit q: expert lane + 32q already chosen
  int chosen_expert[kMaxTopK];
  float chosen_score[kMaxTopK];
  float chosen_sum = 0.f;
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    if (j >= p.top_k) break;
    float key = -INFINITY, raw = 0.f;
    int expert = INT_MAX;
#pragma unroll
    for (int q = 0; q < kPerLane; ++q) {
      const int e = lane + 32 * q;
      if (e >= num_experts || (taken >> q & 1u)) continue;
      const float k = isnan(score[q]) ? -INFINITY : score[q];
      if (k > key || (k == key && e < expert)) {
        key = k;
        expert = e;
        raw = score[q];
      }
    }
    warp_argmax(key, expert, raw);
    if (expert % 32 == lane) taken |= 1u << (expert / 32);
    chosen_expert[j] = expert;
    chosen_score[j] = raw;
    chosen_sum += raw;
  }
  if (lane == 0) {
    // Insertion sort by expert id: the combine order.
    for (int a = 1; a < p.top_k; ++a) {
      const int e = chosen_expert[a];
      const float s = chosen_score[a];
      int b = a - 1;
      while (b >= 0 && chosen_expert[b] > e) {
        chosen_expert[b + 1] = chosen_expert[b];
        chosen_score[b + 1] = chosen_score[b];
        --b;
      }
      chosen_expert[b + 1] = e;
      chosen_score[b + 1] = s;
    }
    for (int j = 0; j < p.top_k; ++j) {
      p.topk_ids[token * p.top_k + j] = chosen_expert[j];
      p.topk_weights[token * p.top_k + j] = p.renormalize ? chosen_score[j] / chosen_sum : chosen_score[j];
      atomicAdd(&ss.expert_counts[chosen_expert[j]], 1);
    }
  }
}

// Expert e's per-route-tile counts become exclusive prefixes over the tiles (in place: dispatch reads them);
// returns the expert's total.
// Loads a batch of tiles' counts before storing their prefixes: one dependent L2 round trip per tile would
// cost ~0.7 µs each, on the critical path of every forward.
__device__ inline int32_t prefix_over_route_tiles(const KernelParams& p, int e) {
  constexpr int kBatch = 16;
  int32_t running = 0;
  for (int tile0 = 0; tile0 < p.num_route_tiles; tile0 += kBatch) {
    int32_t count[kBatch];
#pragma unroll
    for (int i = 0; i < kBatch; ++i)
      count[i] = tile0 + i < p.num_route_tiles ? p.route_tile_counts[int64_t(tile0 + i) * p.num_experts + e] : 0;
#pragma unroll
    for (int i = 0; i < kBatch; ++i) {
      if (tile0 + i < p.num_route_tiles) p.route_tile_counts[int64_t(tile0 + i) * p.num_experts + e] = running;
      running += count[i];
    }
  }
  return running;
}

// After every route tile has published its counts: exclusive prefix over tiles (in place), kept rows and
// tile offsets per expert. Runs in the one block that finished routing last.
__device__ inline void build_expert_plan(const KernelParams& p, StageSmem& ss) {
  const int num_experts = p.num_experts;
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) {
    const int32_t running = prefix_over_route_tiles(p, e);
    const int32_t kept = int32_t(running < p.capacity ? running : p.capacity);
    p.expert_kept[e] = kept;
    ss.expert_counts[e] = (kept + kTileM - 1) / kTileM;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t offset = 0;
    for (int e = 0; e < num_experts; ++e) {
      p.expert_tile_offset[e] = offset;
      offset += ss.expert_counts[e];
    }
    p.expert_tile_offset[num_experts] = offset;
  }
  block_publish_add(&p.counters->plan_ready, 1);
}

// kBuildPlan: the last route tile builds the expert plan (one GPU). Expert parallelism builds it in a task of
// its own from every rank's counts (ep_plan.cuh) and only needs route_done.
template <class Elem, bool kExactFp32, bool kBuildPlan = true>
__device__ void route_tile(const KernelParams& p, const WaitContext& wait_ctx, int tile, void* gemm_smem,
                           StageSmem& ss) {
  using Tile = RouterTile<Elem, kExactFp32>;
  const int64_t first_token = int64_t(tile) * kTileM;
  const int rows = int(cute::min<int64_t>(kTileM, p.num_tokens - first_token));
  const Elem* x = static_cast<const Elem*>(p.x) + first_token * p.hidden;
  const int num_experts = p.num_experts;

  const GemmOperand a{x, p.hidden, &p.maps.x, int(first_token), rows};
  for (int n0 = 0; n0 < num_experts; n0 += kTileN) {
    const GemmOperand b[1] = {{static_cast<const Elem*>(p.w_router) + int64_t(n0) * p.hidden, p.hidden,
                               &p.maps.w_router, n0, min(kTileN, num_experts - n0)}};
    float* logits = p.logits + first_token * num_experts;
    const bool ok = Tile::run(a, b, p.hidden, gemm_smem, wait_ctx.deadline_ns, [&](int m, int n, const float (&v)[1][2]) {
      if (m >= rows) return;
      const int e = n0 + n;
      if (e < num_experts) logits[int64_t(m) * num_experts + e] = v[0][0];
      if (e + 1 < num_experts) logits[int64_t(m) * num_experts + e + 1] = v[0][1];
    });
    if (!ok) {  // the forward is abandoned: route_done never completes and every waiter gives up
      if (threadIdx.x == 0 && !forward_aborted(p)) record_failure(p, WaitSite::kGemmPipeline, uint32_t(tile), 0, 0);
      return;
    }
  }
  mark_task(p, &ss.task_mark_ns);
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) ss.expert_counts[e] = 0;
  __syncthreads();  // logits and zeroed counts visible to the whole block

  const int warp = threadIdx.x / 32;
  for (int m = warp; m < rows; m += blockDim.x / 32) route_token(p, first_token + m, ss);
  __syncthreads();

  for (int e = threadIdx.x; e < num_experts; e += blockDim.x)
    p.route_tile_counts[int64_t(tile) * num_experts + e] = ss.expert_counts[e];
  if constexpr (!kBuildPlan) {
    block_publish_add(&p.counters->route_done, 1);
    return;
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    const uint32_t before = atomic_add_acq_rel_gpu(&p.counters->route_done, 1);
    ss.is_last = before == uint32_t(p.num_route_tiles - 1);
  }
  __syncthreads();
  if (ss.is_last) {
    __threadfence();  // every route tile's counts are visible from here on
    build_expert_plan(p, ss);
  }
  __syncthreads();
}

}  // namespace onemoe::device
