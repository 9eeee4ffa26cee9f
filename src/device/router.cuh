// Route stage, one task per tile of kTileM tokens: router GEMM -> scores -> top-k -> per-expert counts.
// The last route task to finish turns the counts into the expert plan and publishes plan_ready.
#pragma once

#include <cfloat>
#include <climits>

#include "block_sync.cuh"
#include "numeric.cuh"
#include "stage_smem.cuh"

namespace onemoe::device {

// (key, expert) a ranks before (key, expert) b: higher key first, ties to the lower expert id.
__device__ __forceinline__ bool ranks_before(float key_a, int expert_a, float key_b, int expert_b) {
  return key_a > key_b || (key_a == key_b && expert_a < expert_b);
}

// One thread routes one token from its E logits (a row in shared memory): scores, top-k, and k (expert,
// weight) pairs written in ascending expert order. A thread per token needs no shuffles: the per-token work is
// a short serial loop instead of a chain of warp reductions (docs/perf_notes.md, run 19).
// NaN scores rank below everything, so a NaN token still picks k distinct, valid experts (its weights stay NaN
// and poison its output, as they must).
__device__ inline void route_token(const KernelParams& p, int64_t token, const float* logits, StageSmem& ss) {
  const int num_experts = p.num_experts, top_k = p.top_k;
  const bool softmax = p.scoring == 0;
  float max_logit = -INFINITY, sum = 0.f;
  if (softmax) {
    for (int e = 0; e < num_experts; ++e) max_logit = fmaxf(max_logit, logits[e]);
    for (int e = 0; e < num_experts; ++e) sum += expf(logits[e] - max_logit);
  }
  // The best kMaxTopK so far, best first; only the first top_k are used. Unrolled with constant indices so
  // the lists stay in registers.
  float key[kMaxTopK], raw[kMaxTopK], logit_of[kMaxTopK];
  int expert[kMaxTopK];
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) key[j] = -INFINITY, raw[j] = 0.f, logit_of[j] = NAN, expert[j] = INT_MAX;
  // Entry top_k - 1: what a new expert must beat. Experts come in ascending id, so once that entry is filled,
  // an expert whose logit is no higher than that entry's skips the exp and the division: its score is no
  // higher (non-decreasing in the logit, up to expf's rounding) and a tie loses on id.
  float last_key = -INFINITY, last_logit = NAN;
  int last_expert = INT_MAX;
  for (int e = 0; e < num_experts; ++e) {
    const float logit = logits[e];
    if (last_expert != INT_MAX && logit <= last_logit) continue;
    const float score = softmax ? expf(logit - max_logit) / sum : 1.f / (1.f + expf(-logit));
    float k = isnan(score) ? -INFINITY : score, r = score, l = logit;
    int x = e;
    if (!ranks_before(k, x, last_key, last_expert)) continue;
#pragma unroll
    for (int j = 0; j < kMaxTopK; ++j) {  // insert: carry the lesser of (new, entry j) down the list
      if (ranks_before(k, x, key[j], expert[j])) {
        const float tk = key[j], tr = raw[j], tl = logit_of[j];
        const int tx = expert[j];
        key[j] = k, raw[j] = r, logit_of[j] = l, expert[j] = x;
        k = tk, r = tr, l = tl, x = tx;
      }
    }
#pragma unroll
    for (int j = 0; j < kMaxTopK; ++j)
      if (j == top_k - 1) last_key = key[j], last_logit = logit_of[j], last_expert = expert[j];
  }
  float chosen_sum = 0.f;  // in rank order, best first
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    if (j < top_k) chosen_sum += raw[j];
    else expert[j] = INT_MAX;  // unused entries sort last
  }
  // Ascending expert id: the combine order.
#pragma unroll
  for (int a = 0; a < kMaxTopK; ++a)
#pragma unroll
    for (int b = 0; b + 1 < kMaxTopK - a; ++b)
      if (expert[b] > expert[b + 1]) {
        const int tx = expert[b];
        const float tr = raw[b];
        expert[b] = expert[b + 1], raw[b] = raw[b + 1];
        expert[b + 1] = tx, raw[b + 1] = tr;
      }
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    if (j < top_k) {
      p.topk_ids[token * top_k + j] = expert[j];
      p.topk_weights[token * top_k + j] = p.renormalize ? raw[j] / chosen_sum : raw[j];
      atomicAdd(&ss.expert_counts[expert[j]], 1);
    }
  }
}

// Routes the tile's tokens [first_token, first_token + rows), a thread per token. Their logits (rows x E, one
// contiguous block of p.logits) are staged in smem_floats floats of shared memory, in as many passes as that
// takes, with an odd row stride so that the threads' reads of their own rows hit distinct banks.
__device__ inline void route_tokens(const KernelParams& p, int64_t first_token, int rows, float* smem,
                                    int smem_floats, StageSmem& ss) {
  const int num_experts = p.num_experts;
  const int stride = num_experts | 1;
  const int per_pass = min(min(kTileM, int(blockDim.x)), smem_floats / stride);
  for (int m0 = 0; m0 < rows; m0 += per_pass) {
    const int n = min(per_pass, rows - m0);
    const float* src = p.logits + (first_token + m0) * num_experts;
    __syncthreads();  // the previous pass is done reading
    for (int i = threadIdx.x; i < n * num_experts; i += blockDim.x)
      smem[(i / num_experts) * stride + i % num_experts] = src[i];
    __syncthreads();
    if (int(threadIdx.x) < n) route_token(p, first_token + m0 + threadIdx.x, smem + threadIdx.x * stride, ss);
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
  mark_task(p, ss.task_mark_ns, 0);
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) ss.expert_counts[e] = 0;
  __syncthreads();  // logits and zeroed counts visible to the whole block

  // The GEMM smem is idle now (every TMA landed and every wgmma retired before the epilogue).
  route_tokens(p, first_token, rows, static_cast<float*>(gemm_smem),
               int((gemm_smem_bytes<Elem, kExactFp32>() - 1024) / sizeof(float)), ss);
  __syncthreads();
  mark_task(p, ss.task_mark_ns, 1);

  for (int e = threadIdx.x; e < num_experts; e += blockDim.x)
    p.route_tile_counts[int64_t(tile) * num_experts + e] = ss.expert_counts[e];
  if constexpr (!kBuildPlan) {
    block_publish_add(&p.counters->route_done, 1);
    mark_task(p, ss.task_mark_ns, 2);
    return;
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    const uint32_t before = atomic_add_acq_rel_gpu(&p.counters->route_done, 1);
    ss.is_last = before == uint32_t(p.num_route_tiles - 1);
  }
  mark_task(p, ss.task_mark_ns, 2);
  __syncthreads();
  if (ss.is_last) {
    __threadfence();  // every route tile's counts are visible from here on
    build_expert_plan(p, ss);
  }
  __syncthreads();
}

}  // namespace onemoe::device
