// Launchers for the small kernels of the baseline pipelines (everything that is not a cuBLAS GEMM).
// Each returns the launch's cudaError_t; the caller turns it into a Result.
//
// Routing produces, for T tokens and k slots per token (slot = t*k + j, j in ascending expert order):
//   ids/weights      [T, k]      chosen experts and combine weights (renormalized if asked, not yet dropped)
//   row_of_slot      [T*k]       row of the slot in the expert-sorted buffers, or -1 if dropped at capacity
//   token_of_row     [rows]      the token each sorted row came from
//   kept_counts      [E]         rows of each expert after capacity
//   offsets          [E+1]       exclusive prefix of kept_counts; offsets[E] = rows
// Rows of one expert are contiguous and in token order, so the permutation is deterministic.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "onemoe/onemoe.h"

namespace onemoe::baselines {

// Tokens per block of the counting sort; chunk histograms are [num_chunks, E].
constexpr int kSortChunkTokens = 128;
// Limits of the routing kernels (checked in PipelineBaseline::can_implement).
constexpr int kMaxTopK = 32;       // one warp lane per selected expert
constexpr int kMaxExperts = 2048;  // scores of a token live in shared memory
constexpr int kRouterWarps = 4;    // tokens per router block

inline int num_sort_chunks(int64_t num_tokens) {
  return static_cast<int>((num_tokens + kSortChunkTokens - 1) / kSortChunkTokens);
}

// logits [T, E] fp32 → ids, weights [T, k]. Top-k ties go to the lower expert index.
cudaError_t launch_router(const float* logits, int64_t num_tokens, int num_experts, int top_k, Scoring scoring,
                          bool renormalize, int32_t* ids, float* weights, cudaStream_t stream);

// chunk_counts[c, e] = number of slots of token chunk c routed to expert e.
cudaError_t launch_expert_histogram(const int32_t* ids, int64_t num_tokens, int top_k, int num_experts,
                                    int32_t* chunk_counts, cudaStream_t stream);

// chunk_base[c, e] = slots of expert e in chunks before c; kept_counts = min(total, capacity); offsets.
// capacity < 0 means dropless.
cudaError_t launch_expert_offsets(const int32_t* chunk_counts, int num_chunks, int num_experts, int64_t capacity,
                                  int32_t* chunk_base, int32_t* kept_counts, int32_t* offsets, cudaStream_t stream);

// Assigns rows (token order within an expert), drops past capacity. Optional outputs (may be null):
// out_ids [T, k] and out_weights [T, k] (0 for a dropped slot).
cudaError_t launch_scatter(const int32_t* ids, const float* weights, const int32_t* chunk_base, const int32_t* offsets,
                           int64_t num_tokens, int top_k, int num_experts, int64_t capacity, int32_t* row_of_slot,
                           int32_t* token_of_row, int32_t* out_ids, float* out_weights, cudaStream_t stream);

// Device pointer arrays for cublasGemmGroupedBatchedEx, one entry per expert with rows, ascending expert id.
// GEMM1 arrays have 2 entries per expert when gated (w1 then w3 on the same rows), else 1.
struct GroupPointerArgs {
  const char* w1 = nullptr;  // [E, I, H]
  const char* w3 = nullptr;  // [E, I, H] gated only
  const char* w2 = nullptr;  // [E, H, I]
  const char* xp = nullptr;  // [rows, H] gathered activations
  char* g = nullptr;         // [rows, I] x·w1ᵀ
  char* u = nullptr;         // [rows, I] x·w3ᵀ (gated)
  char* h = nullptr;         // [rows, I] activation output
  char* y = nullptr;         // [rows, H] expert outputs
  int64_t hidden = 0;
  int64_t intermediate = 0;
  int64_t elem_bytes = 0;
  bool gated = false;
  const void** gemm1_a = nullptr;  // each [E * (gated ? 2 : 1)]
  const void** gemm1_b = nullptr;
  void** gemm1_c = nullptr;
  const void** gemm2_a = nullptr;  // each [E]
  const void** gemm2_b = nullptr;
  void** gemm2_c = nullptr;
};
cudaError_t launch_group_pointers(const GroupPointerArgs& args, const int32_t* offsets, int num_experts,
                                  cudaStream_t stream);

// xp[r, :] = x[token_of_row[r], :] for r < offsets[E] (read on device); max_rows bounds the grid.
cudaError_t launch_gather(DType dtype, const void* x, const int32_t* token_of_row, const int32_t* total_rows,
                          int64_t max_rows, int hidden, void* xp, cudaStream_t stream);

// h = act(g) (plain) or act(g) * u (gated), in fp32, stored in dtype. num_elements is a multiple of 16 bytes.
cudaError_t launch_activation(DType dtype, Activation act, const void* g, const void* u, void* h, int64_t num_elements,
                              cudaStream_t stream);

// out[t] = Σ_j weights[t, j] · y[row_of_slot[t*k + j]] over kept slots, in fp32, in slot (= expert id) order.
cudaError_t launch_combine(DType dtype, const void* y, const int32_t* row_of_slot, const float* weights,
                           int64_t num_tokens, int top_k, int hidden, void* out, cudaStream_t stream);

}  // namespace onemoe::baselines
