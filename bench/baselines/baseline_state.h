// Internal state of a PipelineBaseline: the cuBLAS handle, the owned workspace and its buffers.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "baselines/baseline_kernels.h"
#include "baselines/pipeline_baseline.h"

namespace onemoe::baselines {

// Expert capacity in rows: ceil(capacity_factor * T * k / E); -1 means dropless (capacity_factor <= 0).
int64_t expert_capacity(const MoeConfig& config, int64_t num_tokens, int top_k, int num_experts);

struct BaselineState {
  BaselineKind kind = BaselineKind::kPerExpertLoop;
  MoeShape max_shape;
  MoeConfig config;
  cudaDataType_t data_type = CUDA_R_16BF;
  cublasComputeType_t compute_type = CUBLAS_COMPUTE_32F;
  size_t elem_bytes = 2;

  cublasHandle_t handle = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  int32_t* host_counts = nullptr;  // pinned [E]: kept rows per expert, read after the routing sync

  // Device buffers inside workspace, sized for max_shape.num_tokens (R = T*k rows at most).
  float* logits = nullptr;          // [T, E]
  int32_t* ids = nullptr;           // [T, k]
  float* weights = nullptr;         // [T, k]
  int32_t* chunk_counts = nullptr;  // [chunks, E]
  int32_t* chunk_base = nullptr;    // [chunks, E]
  int32_t* kept_counts = nullptr;   // [E]
  int32_t* offsets = nullptr;       // [E+1]
  int32_t* row_of_slot = nullptr;   // [T*k]
  int32_t* token_of_row = nullptr;  // [R]
  void* xp = nullptr;               // [R, H] dtype
  void* g = nullptr;                // [R, I] dtype
  void* u = nullptr;                // [R, I] dtype, gated only
  void* h = nullptr;                // [R, I] dtype
  void* y = nullptr;                // [R, H] dtype
  void** group_ptrs = nullptr;      // grouped only: gemm1 a/b/c [E*(gated?2:1)] each, gemm2 a/b/c [E] each

  ~BaselineState();
};

// Device pointer arrays for the grouped calls, carved from state.group_ptrs.
GroupPointerArgs group_pointer_args(const BaselineState& state, const RunArgs& args);

// The expert FFN over the sorted rows: g/u = xp·w1ᵀ/xp·w3ᵀ, h = act(...), y = h·w2ᵀ.
// host_offsets[e] is the first row of expert e (E+1 entries). The grouped variant needs the device pointer
// arrays already filled (launch_group_pointers) for the same offsets.
Result run_experts_loop(BaselineState& state, const RunArgs& args, const std::vector<int64_t>& host_offsets,
                        cudaStream_t stream);
Result run_experts_grouped(BaselineState& state, const RunArgs& args, const std::vector<int64_t>& host_offsets,
                           cudaStream_t stream);

}  // namespace onemoe::baselines
