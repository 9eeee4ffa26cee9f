// Routing kernels of the baseline pipelines: scores + top-k, and a deterministic counting sort by expert.
#include <cuda_runtime.h>

#include <cfloat>
#include <climits>

#include "baselines/baseline_kernels.h"

namespace onemoe::baselines {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr float kTakenScore = -INFINITY;  // below every key (NaN keys are -FLT_MAX): never picked again

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// One warp per token. Shared memory: kRouterWarps rows of E scores.
__global__ void router_kernel(const float* __restrict__ logits, int64_t num_tokens, int num_experts, int top_k,
                              Scoring scoring, bool renormalize, int32_t* __restrict__ ids,
                              float* __restrict__ weights) {
  extern __shared__ float s_scores_all[];  // (kRouterWarps, E)
  const int warp_idx = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int64_t token = static_cast<int64_t>(blockIdx.x) * kRouterWarps + warp_idx;
  if (token >= num_tokens) return;  // whole warp leaves together; no block-wide barrier below
  float* s_scores = s_scores_all + warp_idx * num_experts;
  const float* row = logits + token * num_experts;

  if (scoring == Scoring::kSoftmax) {
    float m = -FLT_MAX;
    for (int e = lane; e < num_experts; e += 32) {
      s_scores[e] = row[e];
      m = fmaxf(m, s_scores[e]);
    }
    m = warp_max(m);
    float sum = 0.f;
    for (int e = lane; e < num_experts; e += 32) {
      const float p = expf(s_scores[e] - m);
      s_scores[e] = p;
      sum += p;
    }
    sum = warp_sum(sum);
    for (int e = lane; e < num_experts; e += 32) s_scores[e] = s_scores[e] / sum;
  } else {
    for (int e = lane; e < num_experts; e += 32) s_scores[e] = 1.f / (1.f + expf(-row[e]));
  }
  __syncwarp();

  // k rounds of warp arg-max; lane j keeps the j-th pick. Ties go to the lower expert index. NaN scores rank
  // below every number (so a NaN token still picks k distinct experts; its NaN weights poison its output).
  int my_id = INT_MAX;
  float my_score = 0.f;
  for (int j = 0; j < top_k; ++j) {
    float best = -INFINITY;
    int best_idx = INT_MAX;
    for (int e = lane; e < num_experts; e += 32) {
      const float v = s_scores[e];
      const float key = isnan(v) ? -FLT_MAX : v;
      if (key > best) {  // e ascends within a lane, so strict > keeps the lower index on ties
        best = key;
        best_idx = e;
      }
    }
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(kFullMask, best, o);
      const int oi = __shfl_xor_sync(kFullMask, best_idx, o);
      if (ov > best || (ov == best && oi < best_idx)) {
        best = ov;
        best_idx = oi;
      }
    }
    if (lane == j) {
      my_id = best_idx;
      my_score = s_scores[best_idx];
    }
    __syncwarp();
    if (lane == 0) s_scores[best_idx] = kTakenScore;
    __syncwarp();
  }

  float w = lane < top_k ? my_score : 0.f;
  if (renormalize) w = w / warp_sum(w);
  // Order the k picks by expert id: lane j goes to the position of its rank among the picks.
  int rank = 0;
  for (int l = 0; l < top_k; ++l) rank += __shfl_sync(kFullMask, my_id, l) < my_id ? 1 : 0;
  if (lane < top_k) {
    ids[token * top_k + rank] = my_id;
    weights[token * top_k + rank] = w;
  }
}

// One block per chunk of kSortChunkTokens tokens; one thread per expert scans the chunk's slots.
__global__ void expert_histogram_kernel(const int32_t* __restrict__ ids, int64_t num_tokens, int top_k, int num_experts,
                                        int32_t* __restrict__ chunk_counts) {
  extern __shared__ int32_t s_ids[];  // (kSortChunkTokens * k)
  const int64_t first_slot = static_cast<int64_t>(blockIdx.x) * kSortChunkTokens * top_k;
  const int64_t end_slot = min(first_slot + static_cast<int64_t>(kSortChunkTokens) * top_k, num_tokens * top_k);
  const int n = static_cast<int>(end_slot - first_slot);
  for (int i = threadIdx.x; i < n; i += blockDim.x) s_ids[i] = ids[first_slot + i];
  __syncthreads();
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) {
    int count = 0;
    for (int i = 0; i < n; ++i) count += s_ids[i] == e ? 1 : 0;
    chunk_counts[static_cast<int64_t>(blockIdx.x) * num_experts + e] = count;
  }
}

// One block: per expert, exclusive scan over chunks; then capacity; then exclusive scan over experts.
__global__ void expert_offsets_kernel(const int32_t* __restrict__ chunk_counts, int num_chunks, int num_experts,
                                      int64_t capacity, int32_t* __restrict__ chunk_base,
                                      int32_t* __restrict__ kept_counts, int32_t* __restrict__ offsets) {
  extern __shared__ int32_t s_kept[];  // (E)
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) {
    int64_t running = 0;
#pragma unroll 8  // independent loads: keep several in flight
    for (int c = 0; c < num_chunks; ++c) {
      const int64_t i = static_cast<int64_t>(c) * num_experts + e;
      chunk_base[i] = static_cast<int32_t>(running);
      running += chunk_counts[i];
    }
    const int64_t kept = capacity < 0 ? running : min(running, capacity);
    s_kept[e] = static_cast<int32_t>(kept);
    kept_counts[e] = static_cast<int32_t>(kept);
  }
  __syncthreads();
  // After this loop, offsets[e] = rows of experts < e (E is small: a linear sum per thread is enough).
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) {
    int32_t off = 0;
    for (int i = 0; i < e; ++i) off += s_kept[i];
    offsets[e] = off;
    if (e == num_experts - 1) offsets[num_experts] = off + s_kept[e];
  }
}

// One block per chunk; the thread of expert e walks the chunk in token order, so rows keep token order.
__global__ void scatter_kernel(const int32_t* __restrict__ ids, const float* __restrict__ weights,
                               const int32_t* __restrict__ chunk_base, const int32_t* __restrict__ offsets,
                               int64_t num_tokens, int top_k, int num_experts, int64_t capacity,
                               int32_t* __restrict__ row_of_slot, int32_t* __restrict__ token_of_row,
                               int32_t* __restrict__ out_ids, float* __restrict__ out_weights) {
  extern __shared__ int32_t s_mem[];  // s_ids (n) then s_rows (n), n = kSortChunkTokens * k
  const int max_n = kSortChunkTokens * top_k;
  int32_t* s_ids = s_mem;
  int32_t* s_rows = s_mem + max_n;
  const int64_t first_slot = static_cast<int64_t>(blockIdx.x) * max_n;
  const int64_t end_slot = min(first_slot + max_n, num_tokens * top_k);
  const int n = static_cast<int>(end_slot - first_slot);
  for (int i = threadIdx.x; i < n; i += blockDim.x) s_ids[i] = ids[first_slot + i];
  __syncthreads();
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) {
    int64_t pos = chunk_base[static_cast<int64_t>(blockIdx.x) * num_experts + e];
    const int32_t base_row = offsets[e];
    for (int i = 0; i < n; ++i) {
      if (s_ids[i] != e) continue;
      int32_t row = -1;
      if (capacity < 0 || pos < capacity) {
        row = base_row + static_cast<int32_t>(pos);
        token_of_row[row] = static_cast<int32_t>((first_slot + i) / top_k);
      }
      s_rows[i] = row;
      ++pos;
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const int64_t slot = first_slot + i;
    row_of_slot[slot] = s_rows[i];
    if (out_ids != nullptr) out_ids[slot] = s_ids[i];
    if (out_weights != nullptr) out_weights[slot] = s_rows[i] >= 0 ? weights[slot] : 0.f;
  }
}

// One block; the thread of expert e finds its index among experts with rows and writes its pointers.
__global__ void group_pointers_kernel(GroupPointerArgs a, const int32_t* __restrict__ offsets, int num_experts) {
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) {
    const int64_t first_row = offsets[e];
    if (offsets[e + 1] == first_row) continue;
    int group = 0;
    for (int i = 0; i < e; ++i) group += offsets[i + 1] > offsets[i] ? 1 : 0;
    const int64_t eb = a.elem_bytes;
    const int64_t weight_offset = static_cast<int64_t>(e) * a.hidden * a.intermediate * eb;
    const char* xp_rows = a.xp + first_row * a.hidden * eb;
    if (a.gated) {
      a.gemm1_a[2 * group] = a.w1 + weight_offset;
      a.gemm1_a[2 * group + 1] = a.w3 + weight_offset;
      a.gemm1_b[2 * group] = xp_rows;
      a.gemm1_b[2 * group + 1] = xp_rows;
      a.gemm1_c[2 * group] = a.g + first_row * a.intermediate * eb;
      a.gemm1_c[2 * group + 1] = a.u + first_row * a.intermediate * eb;
    } else {
      a.gemm1_a[group] = a.w1 + weight_offset;
      a.gemm1_b[group] = xp_rows;
      a.gemm1_c[group] = a.g + first_row * a.intermediate * eb;
    }
    a.gemm2_a[group] = a.w2 + weight_offset;
    a.gemm2_b[group] = a.h + first_row * a.intermediate * eb;
    a.gemm2_c[group] = a.y + first_row * a.hidden * eb;
  }
}

constexpr int kSortThreads = 256;

}  // namespace

cudaError_t launch_router(const float* logits, int64_t num_tokens, int num_experts, int top_k, Scoring scoring,
                          bool renormalize, int32_t* ids, float* weights, cudaStream_t stream) {
  const int64_t blocks = (num_tokens + kRouterWarps - 1) / kRouterWarps;
  const size_t smem = sizeof(float) * kRouterWarps * num_experts;
  router_kernel<<<static_cast<unsigned>(blocks), kRouterWarps * 32, smem, stream>>>(
      logits, num_tokens, num_experts, top_k, scoring, renormalize, ids, weights);
  return cudaGetLastError();
}

cudaError_t launch_expert_histogram(const int32_t* ids, int64_t num_tokens, int top_k, int num_experts,
                                    int32_t* chunk_counts, cudaStream_t stream) {
  const size_t smem = sizeof(int32_t) * kSortChunkTokens * top_k;
  expert_histogram_kernel<<<num_sort_chunks(num_tokens), kSortThreads, smem, stream>>>(ids, num_tokens, top_k,
                                                                                       num_experts, chunk_counts);
  return cudaGetLastError();
}

cudaError_t launch_expert_offsets(const int32_t* chunk_counts, int num_chunks, int num_experts, int64_t capacity,
                                  int32_t* chunk_base, int32_t* kept_counts, int32_t* offsets, cudaStream_t stream) {
  const size_t smem = sizeof(int32_t) * num_experts;
  expert_offsets_kernel<<<1, 1024, smem, stream>>>(chunk_counts, num_chunks, num_experts, capacity, chunk_base,
                                                   kept_counts, offsets);
  return cudaGetLastError();
}

cudaError_t launch_scatter(const int32_t* ids, const float* weights, const int32_t* chunk_base, const int32_t* offsets,
                           int64_t num_tokens, int top_k, int num_experts, int64_t capacity, int32_t* row_of_slot,
                           int32_t* token_of_row, int32_t* out_ids, float* out_weights, cudaStream_t stream) {
  const size_t smem = 2 * sizeof(int32_t) * kSortChunkTokens * top_k;
  scatter_kernel<<<num_sort_chunks(num_tokens), kSortThreads, smem, stream>>>(
      ids, weights, chunk_base, offsets, num_tokens, top_k, num_experts, capacity, row_of_slot, token_of_row, out_ids,
      out_weights);
  return cudaGetLastError();
}

cudaError_t launch_group_pointers(const GroupPointerArgs& args, const int32_t* offsets, int num_experts,
                                  cudaStream_t stream) {
  group_pointers_kernel<<<1, 1024, 0, stream>>>(args, offsets, num_experts);
  return cudaGetLastError();
}

}  // namespace onemoe::baselines
