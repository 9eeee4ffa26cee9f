// Route stage, one task per tile of kTileM tokens: router GEMM -> scores -> top-k -> per-expert counts.
// The last route task to finish turns the counts into the expert plan and publishes plan_ready.
#pragma once

#include <cfloat>
#include <climits>

#include "block_sync.cuh"
#include "numeric.cuh"
#include "stage_smem.cuh"

namespace onemoe::device {

// (key, expert) a ranks before (key, expert) b: higher key first, ties to the lower expert id. A strict total
// order over a token's experts; NaN logits get key -inf, so a NaN token still picks k distinct, valid experts
// (its weights stay NaN and poison its output, as they must).
__device__ __forceinline__ bool ranks_before(float key_a, int expert_a, float key_b, int expert_b) {
  return key_a > key_b || (key_a == key_b && expert_a < expert_b);
}
__device__ __forceinline__ float rank_key(float score) { return isnan(score) ? -INFINITY : score; }

// A token's k distinct experts pick[0..k) into topk_ids / topk_weights, each at its rank in ascending id (the
// combine order) with weight_of(j), and into the tile's per-expert counts. Every routing mode ends here.
template <class WeightOf>
__device__ __forceinline__ void store_token_routing(const KernelParams& p, int64_t token, const int (&pick)[kMaxTopK],
                                                    WeightOf&& weight_of, StageSmem& ss) {
  const int top_k = p.top_k;
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    if (j >= top_k) break;
    int slot = 0;  // pick j's place in ascending id
#pragma unroll
    for (int i = 0; i < kMaxTopK; ++i) slot += i < top_k && pick[i] < pick[j];
    p.topk_ids[token * top_k + slot] = pick[j];
    p.topk_weights[token * top_k + slot] = weight_of(j);
    atomicAdd(&ss.expert_counts[pick[j]], 1);
  }
}

// Two adjacent lanes route one token from its logits `row` (shared memory, left unchanged), each over every
// other expert (e = half, half + 2, ...); one shuffle joins their halves after each pass. Scores are monotonic
// in the logits (softmax and sigmoid alike), so the experts are ranked by logit and only the k picks' scores
// are computed:
//   1. top_k passes over the logits, each picking the best expert ranking after the previous pick (nothing is
//      marked); the picks stay in registers (arrays indexed only by unrolled constants). Both a running top-k
//      list in one pass and passes with four independent running bests were slower (runs 62, 63);
//   2. softmax only: the denominator, one pass of exp(logit - max) with the max being the first pick's logit
//      (a NaN anywhere makes it NaN, so a NaN logit still poisons the token, as before);
//   3. lane `half == 0` writes the picks in ascending id (the combine order), each at its rank among them, with
//      their scores (renormalized by the picks' sum, added best first).
// The shuffles name only the pair's two lanes, so pairs without a token need not take part.
__device__ __forceinline__ void route_token_pair(const KernelParams& p, int64_t token, const float* row, StageSmem& ss) {
  const int num_experts = p.num_experts, top_k = p.top_k, half = threadIdx.x & 1;
  const unsigned pair_mask = 3u << (threadIdx.x & 30u);
  const auto join = [pair_mask](auto a) { return __shfl_xor_sync(pair_mask, a, 1); };

  int pick[kMaxTopK] = {};
  float pick_logit[kMaxTopK] = {};
  float last_key = INFINITY;  // the previous pick (none yet: ranks before everything)
  int last_expert = -1;
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    if (j >= top_k) break;
    float best_key = -INFINITY, best_logit = 0.f;
    int best_expert = INT_MAX;
    for (int e = half; e < num_experts; e += 2) {
      const float logit = row[e], key = rank_key(logit);
      if (ranks_before(last_key, last_expert, key, e) && ranks_before(key, e, best_key, best_expert))
        best_key = key, best_logit = logit, best_expert = e;
    }
    const float other_key = join(best_key), other_logit = join(best_logit);
    const int other_expert = join(best_expert);
    if (ranks_before(other_key, other_expert, best_key, best_expert))
      best_key = other_key, best_logit = other_logit, best_expert = other_expert;
    last_key = best_key, last_expert = best_expert;
    pick[j] = best_expert;
    pick_logit[j] = best_logit;
  }

  float denominator = 1.f;  // softmax: sum of exp(logit - max) over every expert (or over the picks)
  if (p.topk_softmax) {
    denominator = 0.f;
#pragma unroll
    for (int j = 0; j < kMaxTopK; ++j) {
      if (j >= top_k) break;
      denominator += expf(pick_logit[j] - pick_logit[0]);  // best first, on both lanes alike
    }
  } else if (p.scoring == 0) {
    const float max_logit = pick_logit[0];
    float part = 0.f;
    for (int e = half; e < num_experts; e += 2) part += expf(row[e] - max_logit);
    const float other = join(part);
    denominator = half == 0 ? part + other : other + part;  // the same bits on both lanes
  }
  if (half != 0) return;
  const auto score_of = [&](int j) {
    return p.topk_softmax || p.scoring == 0 ? expf(pick_logit[j] - pick_logit[0]) / denominator
                                            : 1.f / (1.f + expf(-pick_logit[j]));
  };
  const bool renormalize = p.renormalize && !p.topk_softmax;  // the k-softmax already sums to one
  float chosen_sum = 0.f;
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    if (j >= top_k) break;
    chosen_sum += score_of(j);
  }
  store_token_routing(
      p, token, pick,
      [&](int j) {
        const float score = score_of(j);
        return (renormalize ? score / chosen_sum : score) * p.routed_scaling_factor;
      },
      ss);
}

// Routing::kGroupedTopK (DeepSeek-V2/V3, Kimi-K2), two lanes per token as in route_token_pair. With s_e the
// scores (scoring of the logits) and b_e = s_e + score_bias[e] the keys: a group's score is the sum of its
// group_score_topk best keys; the topk_groups best groups (ties: the lower group id) are the only ones the k
// picks come from, best key first (ties: the lower id); the weights are the picks' unbiased s_e (divided by their
// sum when renormalize) times the scaling factor. The staged row (smem, this token's alone) is overwritten with
// s_e, so that keys and weights cost no exponential after the first pass.
// Not inlined: its loops would take registers from the GEMM tiles of the kernel around it (the exact-fp32 kernel
// spilled 200 more bytes with it inline), and it runs once per token, outside every GEMM pipeline.
static __device__ __noinline__ void route_token_pair_grouped(const KernelParams& p, int64_t token, float* row,
                                                             StageSmem& ss) {
  const int num_experts = p.num_experts, top_k = p.top_k, half = threadIdx.x & 1;
  const int groups = p.num_groups, per_group = num_experts / groups;
  const unsigned pair_mask = 3u << (threadIdx.x & 30u);
  const auto join = [pair_mask](auto a) { return __shfl_xor_sync(pair_mask, a, 1); };
  float max_logit = 0.f, denominator = 1.f;
  if (p.scoring == 0) {
    float m = -INFINITY;
    for (int e = half; e < num_experts; e += 2) m = fmaxf(m, row[e]);
    max_logit = fmaxf(m, join(m));
    float part = 0.f;
    for (int e = half; e < num_experts; e += 2) part += expf(row[e] - max_logit);
    const float other = join(part);
    denominator = half == 0 ? part + other : other + part;  // the same bits on both lanes
  }
  for (int e = half; e < num_experts; e += 2)
    row[e] = p.scoring == 0 ? expf(row[e] - max_logit) / denominator : 1.f / (1.f + expf(-row[e]));
  __syncwarp(pair_mask);  // each lane reads the other's half from here on
  const float* bias = p.score_bias;  // null: no correction
  const auto key = [&](int e) { return rank_key(bias != nullptr ? row[e] + bias[e] : row[e]); };

  // The chosen groups, best first: topk_groups passes over the groups, each group's score recomputed per pass
  // (a sum of its best one or two keys, over both lanes' halves of it).
  uint32_t chosen = 0;
  float last_score = INFINITY;
  int last_group = -1;
  for (int pass = 0; pass < p.topk_groups; ++pass) {
    float best_score = -INFINITY;
    int best_group = INT_MAX;
    for (int g = 0; g < groups; ++g) {
      float a1 = -INFINITY, a2 = -INFINITY;  // this lane's two best keys of the group
      for (int e = g * per_group + half; e < (g + 1) * per_group; e += 2) {
        const float k = key(e);
        if (k > a1) a2 = a1, a1 = k;
        else if (k > a2) a2 = k;
      }
      const float b1 = join(a1), b2 = join(a2);
      // The group's two best of the four, identically on both lanes (ordered by value, then by lane).
      const float hi1 = half == 0 ? a1 : b1, hi2 = half == 0 ? a2 : b2, lo1 = half == 0 ? b1 : a1,
                  lo2 = half == 0 ? b2 : a2;
      const float first = fmaxf(hi1, lo1);
      const float second = hi1 >= lo1 ? fmaxf(hi2, lo1) : fmaxf(hi1, lo2);
      const float score = p.group_score_topk == 1 ? first : first + second;
      if (ranks_before(last_score, last_group, score, g) && ranks_before(score, g, best_score, best_group))
        best_score = score, best_group = g;
    }
    chosen |= 1u << best_group;
    last_score = best_score, last_group = best_group;
  }

  int pick[kMaxTopK] = {};
  float last_key = INFINITY;
  int last_expert = -1;
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    if (j >= top_k) break;
    float best_key = -INFINITY;
    int best_expert = INT_MAX;
    for (int e = half; e < num_experts; e += 2) {
      if (!(chosen >> (e / per_group) & 1u)) continue;
      const float k = key(e);
      if (ranks_before(last_key, last_expert, k, e) && ranks_before(k, e, best_key, best_expert))
        best_key = k, best_expert = e;
    }
    const float other_key = join(best_key);
    const int other_expert = join(best_expert);
    if (ranks_before(other_key, other_expert, best_key, best_expert)) best_key = other_key, best_expert = other_expert;
    last_key = best_key, last_expert = best_expert;
    pick[j] = best_expert;
  }
  if (half != 0) return;
  float chosen_sum = 0.f;
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    if (j >= top_k) break;
    chosen_sum += row[pick[j]];
  }
  store_token_routing(
      p, token, pick,
      [&](int j) {
        const float s = row[pick[j]];
        return (p.renormalize ? s / chosen_sum : s) * p.routed_scaling_factor;
      },
      ss);
}

// Row stride of logits staged in smem: 2 mod 32, so that the 16 pairs of a warp, reading their rows at the
// same step (e = 2q + half), hit 32 distinct banks.
__device__ __forceinline__ int staged_logits_stride(int num_experts) {
  return num_experts + ((2 - num_experts) % 32 + 32) % 32;
}

// Routes the tile's tokens [first_token, first_token + rows), two threads per token, from logits staged in
// smem (smem_floats floats) at staged_logits_stride. If already_staged, the router epilogue put all rows there
// (they fit: one pass); otherwise each pass copies its rows from p.logits (rows x E, one contiguous block).
__device__ inline void route_tokens(const KernelParams& p, int64_t first_token, int rows, float* smem,
                                    int smem_floats, bool already_staged, StageSmem& ss) {
  const int num_experts = p.num_experts;
  const int stride = staged_logits_stride(num_experts);
  const int per_pass = min(min(kTileM, int(blockDim.x) / 2), smem_floats / stride);
  for (int m0 = 0; m0 < rows; m0 += per_pass) {
    const int n = min(per_pass, rows - m0);
    if (!already_staged) {
      const float* src = p.logits + (first_token + m0) * num_experts;
      __syncthreads();  // the previous pass is done reading
      constexpr int kLoadsInFlight = 4;
      const int total = n * num_experts;
      for (int i0 = threadIdx.x; i0 < total; i0 += kLoadsInFlight * int(blockDim.x)) {
        float v[kLoadsInFlight];
#pragma unroll
        for (int u = 0; u < kLoadsInFlight; ++u) {
          const int i = i0 + u * int(blockDim.x);
          v[u] = i < total ? src[i] : 0.f;
        }
#pragma unroll
        for (int u = 0; u < kLoadsInFlight; ++u) {
          const int i = i0 + u * int(blockDim.x);
          if (i < total) smem[(i / num_experts) * stride + i % num_experts] = v[u];
        }
      }
    }
    __syncthreads();
    if (m0 == 0) mark_task(p, ss.task_mark_ns, 1);
    const int m = int(threadIdx.x) / 2;
    if (m < n) {
      if (p.num_groups > 0) route_token_pair_grouped(p, first_token + m0 + m, smem + m * stride, ss);
      else route_token_pair(p, first_token + m0 + m, smem + m * stride, ss);
    }
  }
}

// Routing::kPreRouted, one thread per token of the tile: the caller's k ids and weights, stored in ascending id
// (the combine order, as route_token_pair stores its picks), so that a routed forward's own outputs given back as
// input reproduce it bitwise. A token whose ids are out of range or repeat is recorded as a failure (the forward
// gives up) and routed to experts 0..k-1 with weight 0 instead: every later task of the forward then still
// indexes in bounds, whatever it read.
__device__ inline void pre_routed_tokens(const KernelParams& p, const WaitContext& ctx, int64_t first_token, int rows,
                                         StageSmem& ss) {
  const int top_k = p.top_k, num_experts = p.num_experts;
  for (int m = threadIdx.x; m < rows; m += blockDim.x) {
    const int64_t token = first_token + m;
    int id[kMaxTopK];
    float weight[kMaxTopK];
    bool valid = true;
    int bad_id = 0;
#pragma unroll
    for (int j = 0; j < kMaxTopK; ++j) {
      if (j >= top_k) break;
      id[j] = p.pre_topk_ids[token * top_k + j];
      weight[j] = p.pre_topk_weights[token * top_k + j];
      bool ok = id[j] >= 0 && id[j] < num_experts;
#pragma unroll
      for (int i = 0; i < kMaxTopK; ++i) ok = ok && (i >= j || id[i] != id[j]);
      if (!ok && valid) bad_id = id[j];
      valid = valid && ok;
    }
    if (!valid) {
      record_failure(p, ctx, WaitSite::kBadPreRouting, uint32_t(token), uint32_t(bad_id), uint32_t(num_experts));
#pragma unroll
      for (int j = 0; j < kMaxTopK; ++j) {
        id[j] = j;
        weight[j] = 0.f;
      }
    }
    store_token_routing(p, token, id, [&](int j) { return weight[j]; }, ss);
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
__device__ void route_tile(const KernelParams& p, const WaitContext& wait_ctx, int tile, const GemmSmem& gemm_smem,
                           StageSmem& ss) {
  using Tile = RouterTile<Elem, kExactFp32>;
  const int64_t first_token = int64_t(tile) * kTileM;
  const int rows = int(cute::min<int64_t>(kTileM, p.num_tokens - first_token));
  const Elem* x = static_cast<const Elem*>(p.x) + first_token * p.hidden;
  const int num_experts = p.num_experts;

  // Between tiles the GEMM smem is idle (every TMA landed and every wgmma retired before an epilogue), so
  // with one column tile of experts the epilogue writes the logits straight into it: no global round trip
  // (copying 64 KB back took ~10 µs, run 22). More experts go through p.logits.
  constexpr int kScratchFloats = int(gemm_smem_scratch_bytes<Elem, kExactFp32>() / sizeof(float));
  float* staged = static_cast<float*>(gemm_smem.operands);
  const int stride = staged_logits_stride(num_experts);
  const bool stage_in_epilogue = num_experts <= kTileN && kTileM * stride <= kScratchFloats;
  const bool pre_routed = p.pre_topk_ids != nullptr;
  const GemmOperand a{x, p.hidden, &p.maps.x, int(first_token), rows};
  for (int n0 = 0; !pre_routed && n0 < num_experts; n0 += kTileN) {
    const GemmOperand b[1] = {{static_cast<const Elem*>(p.w_router) + int64_t(n0) * p.hidden, p.hidden,
                               &p.maps.w_router, n0, min(kTileN, num_experts - n0)}};
    float* logits = p.logits + first_token * num_experts;
    const bool ok = Tile::run(a, b, p.hidden, gemm_smem, wait_ctx.deadline_ns, [&](int m, int n, const float (&v)[1][2]) {
      if (m >= rows) return;
      const int e = n0 + n;
      float* dst = stage_in_epilogue ? staged + m * stride : logits + int64_t(m) * num_experts;
      if (e < num_experts) dst[e] = v[0][0];
      if (e + 1 < num_experts) dst[e + 1] = v[0][1];
    });
    if (!ok) {  // the forward is abandoned: route_done never completes and every waiter gives up
      if (threadIdx.x == 0 && !forward_aborted(wait_ctx))
        record_failure(p, wait_ctx, WaitSite::kGemmPipeline, uint32_t(tile), 0, 0);
      return;
    }
  }
  mark_task(p, ss.task_mark_ns, 0);
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) ss.expert_counts[e] = 0;
  __syncthreads();  // logits and zeroed counts visible to the whole block

  if (pre_routed) pre_routed_tokens(p, wait_ctx, first_token, rows, ss);
  else route_tokens(p, first_token, rows, staged, kScratchFloats, stage_in_epilogue, ss);
  __syncthreads();
  mark_task(p, ss.task_mark_ns, 2);

  for (int e = threadIdx.x; e < num_experts; e += blockDim.x)
    p.route_tile_counts[int64_t(tile) * num_experts + e] = ss.expert_counts[e];
  if constexpr (!kBuildPlan) {
    block_publish_add(&p.counters->route_done, 1);
    return;
  }
  __syncthreads();  // the counts above before thread 0's acq_rel add (cumulative release)
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
