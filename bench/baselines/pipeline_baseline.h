// In-binary baselines that onemoe-bench times next to the fused kernel: the MoE forward as a host-driven
// pipeline of cuBLAS GEMMs and small kernels, the way a PyTorch user writes it. Same function, same tensors
// and same RunArgs as onemoe::Context (see onemoe/onemoe.h); the workspace is owned by the baseline.
//
//   gate GEMM (cuBLAS, fp32 logits) → scores + top-k → expert histogram → offsets (+capacity) → scatter
//   → gather x rows [→ grouped pointer arrays] → counts to host + stream sync (PyTorch's .tolist())
//   → expert FFN: kPerExpertLoop: per expert with rows: GEMM1 (+GEMM3), activation, GEMM2
//                 kGroupedGemm:   one cublasGemmGroupedBatchedEx for GEMM1 (w1 and w3 together when gated),
//                                 one activation kernel, one grouped call for GEMM2
//   → combine (fp32, ascending expert order, no atomics).
// Intermediate activations (x·w1ᵀ, x·w3ᵀ, act, expert outputs) are stored in the dtype, as PyTorch would.
// fp32 uses CUBLAS_COMPUTE_32F_FAST_TF32 (Fp32Math::kTF32) or CUBLAS_COMPUTE_32F (Fp32Math::kFFMA).
//
// run() synchronizes its stream once (to read the expert counts), so it cannot be captured in a CUDA graph.
// Runs on one object must not overlap: they share the workspace.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>

#include "onemoe/onemoe.h"

namespace onemoe::baselines {

enum class BaselineKind { kPerExpertLoop, kGroupedGemm };

// "baseline-torch-loop" / "baseline-grouped-gemm": the impl names in bench rows.
const char* baseline_name(BaselineKind kind);

struct BaselineState;

class PipelineBaseline {
 public:
  // Why this (kind, shape, config) cannot run, or success. Pure host check.
  static Result can_implement(BaselineKind kind, const MoeShape& shape, const MoeConfig& config);
  // Creates the cuBLAS handle and the workspace for max_shape.num_tokens tokens on the current device.
  static Result create(BaselineKind kind, const MoeShape& max_shape, const MoeConfig& config,
                       std::unique_ptr<PipelineBaseline>* out);
  ~PipelineBaseline();
  PipelineBaseline(const PipelineBaseline&) = delete;
  PipelineBaseline& operator=(const PipelineBaseline&) = delete;

  // One forward. args.workspace is ignored (the baseline owns its workspace). Blocks the host until the
  // routing is done (one stream sync); the expert FFN and the combine stay queued on stream.
  Result run(const RunArgs& args, cudaStream_t stream);

  BaselineKind kind() const;
  const char* name() const;
  size_t workspace_bytes() const;  // device bytes owned

 private:
  explicit PipelineBaseline(std::unique_ptr<BaselineState> state);
  std::unique_ptr<BaselineState> state_;
};

}  // namespace onemoe::baselines
