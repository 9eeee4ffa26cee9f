// onemoe: the public C++ API of the fused Mixture-of-Experts layer.
//
// The whole forward (gate, top-k, dispatch, expert FFN, combine) is one kernel launch per GPU.
// This header has no CUDA templates; it only needs cuda_runtime_api.h for cudaStream_t.
//
// Tensor layouts (row-major, innermost dimension last; "K-major" weights as in torch.nn.Linear):
//   x        [T, H]          activations, dtype
//   w_router [E, H]          router (gate) weight, dtype, no bias
//   w1       [E, I, H]       plain FFN: first projection. Gated FFN: the gate projection (input of act).
//   w3       [E, I, H]       gated FFN only: the up projection. Must be null for the plain FFN.
//   w2       [E, H, I]       down projection
//   out      [T, H]          dtype
//   plain:  y_e(x) = act(x·w1[e]ᵀ)·w2[e]ᵀ
//   gated:  y_e(x) = (act(x·w1[e]ᵀ) * (x·w3[e]ᵀ))·w2[e]ᵀ
//   out[t] = Σ_k weight[t,k] · y_{expert[t,k]}(x[t]), summed in fp32 in ascending expert order.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace onemoe {

enum class Status {
  kSuccess = 0,
  kErrorInvalidArgument,    // null pointer, T < 0, k > E, ...
  kErrorMisalignedPointer,  // a tensor is not 16-byte aligned
  kErrorNotSupported,       // a valid MoE, but not one this build can run (e.g. H not a multiple of 64)
  kErrorWorkspaceTooSmall,  // caller-provided workspace, or T above the Context's max_tokens
  kErrorNotCoResident,      // the persistent grid cannot be fully resident on this GPU
  kErrorTimeout,            // a device-side wait passed its deadline; the kernel bailed out
  kErrorCuda,               // a CUDA runtime call failed
  kErrorInternal,
};

const char* status_string(Status status);

// A status plus the reason, returned by every fallible call. The library never exits or throws.
struct Result {
  Status status = Status::kSuccess;
  std::string message;

  bool ok() const { return status == Status::kSuccess; }
  static Result success() { return {}; }
  static Result error(Status s, std::string msg) { return {s, std::move(msg)}; }
};

enum class DType { kBF16, kFP16, kFP32 };
// How fp32 GEMMs run: TF32 tensor cores, or exact fp32 FFMA.
enum class Fp32Math { kTF32, kFFMA };
enum class Scoring { kSoftmax, kSigmoid };
// How each token's k experts and their weights are chosen.
enum class Routing {
  kTopK,         // scores (scoring of x·w_routerᵀ), the k largest, divided by their sum when renormalize
  kTopKSoftmax,  // the k largest logits, weights = softmax over those k (gpt-oss; Mixtral's top-k of a softmax
                 // renormalized is the same function, computed the kTopK way)
  kGroupedTopK,  // DeepSeek-V2/V3, Kimi-K2: keys = scores + RunArgs::score_bias; the topk_groups groups with the
                 // best sums of their group_score_topk best keys; the k best keys among those groups' experts;
                 // weights = the picks' unbiased scores (renormalized when asked) times routed_scaling_factor
  kPreRouted,    // the caller's RunArgs::in_topk_ids / in_topk_weights, taken as given: no router GEMM
};
enum class Activation { kReLU, kGELU, kSiLU };  // GELU is the exact erf form

const char* dtype_name(DType d);
const char* activation_name(Activation a);
size_t dtype_size(DType d);

struct MoeShape {
  int64_t num_tokens = 0;  // T: tokens on this GPU for this forward
  int num_experts = 0;     // E
  int top_k = 0;           // k
  int hidden = 0;          // H
  int intermediate = 0;    // I
};

struct MoeConfig {
  DType dtype = DType::kBF16;
  Fp32Math fp32_math = Fp32Math::kTF32;
  Routing routing = Routing::kTopK;
  Scoring scoring = Scoring::kSoftmax;  // kTopK only
  bool renormalize = true;  // kTopK only: divide the k selected scores by their sum
  // Every routed mode (not kPreRouted): the weights are multiplied by this (DeepSeek's routed_scaling_factor).
  float routed_scaling_factor = 1.0f;
  // kGroupedTopK: E / num_groups experts per group (consecutive ids; n_group), topk_groups of them chosen
  // (topk_group), each scored by the sum of its group_score_topk best keys (2: DeepSeek-V3; 1: V2's group max).
  int num_groups = 1, topk_groups = 1, group_score_topk = 2;
  Activation activation = Activation::kGELU;
  bool gated = false;  // SwiGLU-style gated FFN (needs w3)
  // Expert capacity = ceil(capacity_factor * T * k / E) rows; tokens past it (in token order) are dropped
  // and contribute zero. capacity_factor <= 0 means dropless.
  float capacity_factor = 0.0f;
};

std::ostream& operator<<(std::ostream& os, const MoeShape& s);
std::ostream& operator<<(std::ostream& os, const MoeConfig& c);

struct RunArgs {
  int64_t num_tokens = 0;  // T for this forward; 0 < T <= the Context's max_tokens
  const void* x = nullptr;
  const void* w_router = nullptr;
  const void* w1 = nullptr;
  const void* w3 = nullptr;  // gated only
  const void* w2 = nullptr;
  void* out = nullptr;
  // Optional routing outputs: [T, k] expert ids (int32, ascending order within a token) and combine weights
  // (fp32; 0 for a dropped slot). Either may be null.
  int32_t* topk_ids = nullptr;
  float* topk_weights = nullptr;
  // Routing::kPreRouted inputs (required there, null otherwise): [T, k] expert ids in any order within a token,
  // each in [0, E) and distinct within the token, and the fp32 weights aligned with them. w_router may then be
  // null. A bad id is found on the device: synchronize_and_check reports kErrorInvalidArgument naming the token,
  // and nothing is read or written out of bounds. With a routed forward's own topk_ids and topk_weights as input,
  // the output is bitwise that forward's.
  const int32_t* in_topk_ids = nullptr;
  const float* in_topk_weights = nullptr;
  // Routing::kGroupedTopK: the per-expert correction bias added to the scores for selection only ([E], fp32;
  // e_score_correction_bias). Null there means zeros.
  const float* score_bias = nullptr;
  // Optional caller-owned workspace. When null, the Context's own workspace (sized for max_tokens) is used.
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};

struct ContextOptions {
  int device = -1;               // -1: the current device
  int64_t max_tokens = 0;        // the largest T any run() will pass; sizes the owned workspace
  bool allocate_workspace = true;
  double wait_timeout_ms = 2000;  // bound on every device-side wait
  // Diagnostics: record when and where each task of a forward ran (see task_timeline()). Costs one store
  // per task (tens of thousands per forward) and a buffer of 32 B per task.
  bool record_task_timeline = false;
};

// One task of a forward, from a context created with record_task_timeline.
struct TaskSpan {
  std::string stage;  // route, plan (expert parallel), dispatch, gemm1, gemm2, combine
  int index = 0;      // the task's index within its stage (tasks of empty tiles are listed too)
  int block = 0, sm = 0;
  double start_us = 0, end_us = 0;  // from the forward's first task start, this GPU's clock
  // Marks inside the task, same clock; -1: none. Route: router GEMM done, first logits staged, tokens routed.
  // Dispatch: plan seen. Gather: rows dispatched. GEMM1 / GEMM2: inputs ready, tile computed, rows stored.
  static constexpr int kMarks = 3;
  double mark_us[kMarks] = {-1, -1, -1};
};

class ContextImpl;
namespace internal {
struct ContextAccess;  // the library's test hooks (src/host/fault_injection.h); not part of the API
}

// Created once per layer and device: owns the plan (grid size, tiles) and the workspace. The grid fills the SMs
// of the context current at creation (a green context's share of the device, if one is current); run it on
// streams of that context.
class Context {
 public:
  static Result create(const MoeShape& shape_with_max_tokens, const MoeConfig& config, const ContextOptions& options,
                       std::unique_ptr<Context>* out);
  ~Context();

  // Why this (shape, config) cannot run here, or success. Pure host check; touches no device memory.
  static Result can_implement(const MoeShape& shape, const MoeConfig& config);
  // Bytes of workspace a run with num_tokens tokens needs.
  size_t workspace_size(int64_t num_tokens) const;

  // Enqueues the forward on stream: exactly one kernel launch. Validates every argument first; on error
  // nothing is launched and nothing is written.
  Result run(const RunArgs& args, cudaStream_t stream);
  // Waits for the stream and reports a device-side failure (timeout, bad routing) of the last run.
  Result synchronize_and_check(cudaStream_t stream);
  // The tasks of the last forward, in ticket order (record_task_timeline; after synchronize_and_check).
  Result task_timeline(std::vector<TaskSpan>* out) const;

  const MoeShape& shape() const;
  const MoeConfig& config() const;
  int grid_blocks() const;       // persistent grid size
  int threads_per_block() const;

 private:
  explicit Context(std::unique_ptr<ContextImpl> impl);
  friend struct internal::ContextAccess;
  std::unique_ptr<ContextImpl> impl_;
};

}  // namespace onemoe
