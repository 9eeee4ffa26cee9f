// PipelineBaseline: argument checks, workspace, and the host-driven forward (routing, FFN, combine).
#include <cuda_runtime.h>

#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include "baselines/baseline_kernels.h"
#include "baselines/baseline_state.h"
#include "baselines/check_status.h"
#include "baselines/pipeline_baseline.h"

namespace onemoe::baselines {
namespace {

constexpr size_t kBufferAlign = 256;

size_t bytes_of(DType d) { return d == DType::kFP32 ? 4 : 2; }

// Hands out aligned slices of one allocation; with base == nullptr it only measures.
struct Carver {
  char* base = nullptr;
  size_t used = 0;
  template <class T>
  T* take(size_t count) {
    used = (used + kBufferAlign - 1) / kBufferAlign * kBufferAlign;
    T* p = base == nullptr ? nullptr : reinterpret_cast<T*>(base + used);
    used += count * sizeof(T);
    return p;
  }
};

// Assigns every buffer of state from the carver (sizes from max_shape).
void carve_buffers(BaselineState& s, Carver& c) {
  const int64_t t = s.max_shape.num_tokens, e = s.max_shape.num_experts, k = s.max_shape.top_k;
  const int64_t hd = s.max_shape.hidden, id = s.max_shape.intermediate;
  const int64_t rows = t * k;
  const int64_t chunks = num_sort_chunks(t);
  s.logits = c.take<float>(t * e);
  s.ids = c.take<int32_t>(rows);
  s.weights = c.take<float>(rows);
  s.chunk_counts = c.take<int32_t>(chunks * e);
  s.chunk_base = c.take<int32_t>(chunks * e);
  s.kept_counts = c.take<int32_t>(e);
  s.offsets = c.take<int32_t>(e + 1);
  s.row_of_slot = c.take<int32_t>(rows);
  s.token_of_row = c.take<int32_t>(rows);
  s.xp = c.take<char>(rows * hd * s.elem_bytes);
  s.g = c.take<char>(rows * id * s.elem_bytes);
  s.u = s.config.gated ? c.take<char>(rows * id * s.elem_bytes) : nullptr;
  s.h = c.take<char>(rows * id * s.elem_bytes);
  s.y = c.take<char>(rows * hd * s.elem_bytes);
  s.group_ptrs = nullptr;
  if (s.kind == BaselineKind::kGroupedGemm) s.group_ptrs = c.take<void*>(3 * e * (s.config.gated ? 2 : 1) + 3 * e);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

Result check_args(const BaselineState& s, const RunArgs& a) {
  if (a.num_tokens <= 0 || a.num_tokens > s.max_shape.num_tokens) {
    return Result::error(Status::kErrorWorkspaceTooSmall,
                         "num_tokens " + std::to_string(a.num_tokens) +
                             " is not in (0, max_tokens=" + std::to_string(s.max_shape.num_tokens) + "]");
  }
  if (a.x == nullptr || a.w_router == nullptr || a.w1 == nullptr || a.w2 == nullptr || a.out == nullptr) {
    return Result::error(Status::kErrorInvalidArgument, "x, w_router, w1, w2 and out must be non-null");
  }
  if (s.config.gated != (a.w3 != nullptr)) {
    return Result::error(Status::kErrorInvalidArgument,
                         s.config.gated ? "gated FFN needs w3" : "plain FFN needs w3 == nullptr");
  }
  for (const void* p : {a.x, a.w_router, a.w1, a.w3, a.w2, static_cast<const void*>(a.out)}) {
    if (p != nullptr && !aligned16(p)) {
      return Result::error(Status::kErrorMisalignedPointer, "every tensor must be 16-byte aligned");
    }
  }
  return Result::success();
}

}  // namespace

const char* baseline_name(BaselineKind kind) {
  return kind == BaselineKind::kGroupedGemm ? "baseline-grouped-gemm" : "baseline-torch-loop";
}

int64_t expert_capacity(const MoeConfig& config, int64_t num_tokens, int top_k, int num_experts) {
  // Same expression and evaluation order as reference::expert_capacity: ceil(cf * (T*k) / E) in double.
  if (!(config.capacity_factor > 0.0f)) return -1;
  const double cf = config.capacity_factor;
  return static_cast<int64_t>(std::ceil(cf * static_cast<double>(num_tokens * top_k) / num_experts));
}

BaselineState::~BaselineState() {
  // Teardown errors cannot be reported from a destructor; the handles are gone either way.
  if (handle != nullptr) cublasDestroy(handle);
  if (workspace != nullptr) cudaFree(workspace);
  if (host_counts != nullptr) cudaFreeHost(host_counts);
}

Result PipelineBaseline::can_implement(BaselineKind kind, const MoeShape& shape, const MoeConfig& config) {
  if (kind != BaselineKind::kPerExpertLoop && kind != BaselineKind::kGroupedGemm) {
    return Result::error(Status::kErrorInvalidArgument, "unknown BaselineKind");
  }
  if (config.dtype != DType::kBF16 && config.dtype != DType::kFP16 && config.dtype != DType::kFP32) {
    return Result::error(Status::kErrorNotSupported, "baselines run bf16, fp16 and fp32 only");
  }
  if (shape.num_tokens < 0 || shape.num_experts <= 0 || shape.top_k <= 0 || shape.hidden <= 0 ||
      shape.intermediate <= 0) {
    return Result::error(Status::kErrorInvalidArgument, "T must be >= 0 and E, k, H, I > 0");
  }
  if (shape.top_k > shape.num_experts) return Result::error(Status::kErrorInvalidArgument, "top_k > num_experts");
  if (shape.top_k > kMaxTopK) {
    return Result::error(Status::kErrorNotSupported, "top_k > " + std::to_string(kMaxTopK) + " (one lane per pick)");
  }
  if (shape.num_experts > kMaxExperts) {
    return Result::error(Status::kErrorNotSupported, "num_experts > " + std::to_string(kMaxExperts));
  }
  const size_t eb = bytes_of(config.dtype);
  if ((shape.hidden * eb) % 16 != 0 || (shape.intermediate * eb) % 16 != 0) {
    return Result::error(Status::kErrorNotSupported, "H and I rows must be multiples of 16 bytes (16-byte vectors)");
  }
  if (shape.num_tokens * shape.top_k > INT32_MAX) {
    return Result::error(Status::kErrorNotSupported, "T * k must fit in int32 (row indices, cuBLAS n)");
  }
  if (!std::isfinite(config.capacity_factor)) {
    return Result::error(Status::kErrorInvalidArgument, "capacity_factor must be finite");
  }
  return Result::success();
}

Result PipelineBaseline::create(BaselineKind kind, const MoeShape& max_shape, const MoeConfig& config,
                                std::unique_ptr<PipelineBaseline>* out) {
  if (out == nullptr) return Result::error(Status::kErrorInvalidArgument, "out is null");
  ONEMOE_BASE_TRY(can_implement(kind, max_shape, config));
  if (max_shape.num_tokens <= 0) return Result::error(Status::kErrorInvalidArgument, "max num_tokens must be > 0");

  auto s = std::make_unique<BaselineState>();
  s->kind = kind;
  s->max_shape = max_shape;
  s->config = config;
  s->elem_bytes = bytes_of(config.dtype);
  switch (config.dtype) {
    case DType::kBF16:
      s->data_type = CUDA_R_16BF;
      s->compute_type = CUBLAS_COMPUTE_32F;
      break;
    case DType::kFP16:
      s->data_type = CUDA_R_16F;
      s->compute_type = CUBLAS_COMPUTE_32F;
      break;
    case DType::kFP32:
      s->data_type = CUDA_R_32F;
      s->compute_type = config.fp32_math == Fp32Math::kTF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      break;
  }

  ONEMOE_BASE_CUBLAS(cublasCreate(&s->handle));
  Carver measure;
  carve_buffers(*s, measure);
  s->workspace_bytes = measure.used;
  ONEMOE_BASE_CUDA(cudaMalloc(&s->workspace, s->workspace_bytes));
  Carver carve{static_cast<char*>(s->workspace), 0};
  carve_buffers(*s, carve);
  ONEMOE_BASE_CUDA(cudaMallocHost(&s->host_counts, sizeof(int32_t) * max_shape.num_experts));

  out->reset(new PipelineBaseline(std::move(s)));
  return Result::success();
}

PipelineBaseline::PipelineBaseline(std::unique_ptr<BaselineState> state) : state_(std::move(state)) {}
PipelineBaseline::~PipelineBaseline() = default;

BaselineKind PipelineBaseline::kind() const { return state_->kind; }
const char* PipelineBaseline::name() const { return baseline_name(state_->kind); }
size_t PipelineBaseline::workspace_bytes() const { return state_->workspace_bytes; }

Result PipelineBaseline::run(const RunArgs& args, cudaStream_t stream) {
  BaselineState& s = *state_;
  ONEMOE_BASE_TRY(check_args(s, args));
  const int64_t num_tokens = args.num_tokens;
  const int num_experts = s.max_shape.num_experts, top_k = s.max_shape.top_k;
  const int hidden = s.max_shape.hidden;
  const int64_t capacity = expert_capacity(s.config, num_tokens, top_k, num_experts);
  const int num_chunks = num_sort_chunks(num_tokens);

  // Gate: logits[T, E] (fp32) = x · w_routerᵀ, as column-major logitsᵀ = w_router · xᵀ.
  ONEMOE_BASE_CUBLAS(cublasSetStream(s.handle, stream));
  const float one = 1.f, zero = 0.f;
  ONEMOE_BASE_CUBLAS(cublasGemmEx(s.handle, CUBLAS_OP_T, CUBLAS_OP_N, num_experts, static_cast<int>(num_tokens), hidden,
                                  &one, args.w_router, s.data_type, hidden, args.x, s.data_type, hidden, &zero,
                                  s.logits, CUDA_R_32F, num_experts, s.compute_type, CUBLAS_GEMM_DEFAULT));

  // Routing and the deterministic permutation (rows of an expert in token order).
  ONEMOE_BASE_CUDA(launch_router(s.logits, num_tokens, num_experts, top_k, s.config.scoring, s.config.renormalize,
                                 s.ids, s.weights, stream));
  ONEMOE_BASE_CUDA(launch_expert_histogram(s.ids, num_tokens, top_k, num_experts, s.chunk_counts, stream));
  ONEMOE_BASE_CUDA(launch_expert_offsets(s.chunk_counts, num_chunks, num_experts, capacity, s.chunk_base, s.kept_counts,
                                         s.offsets, stream));
  ONEMOE_BASE_CUDA(launch_scatter(s.ids, s.weights, s.chunk_base, s.offsets, num_tokens, top_k, num_experts, capacity,
                                  s.row_of_slot, s.token_of_row, args.topk_ids, args.topk_weights, stream));
  ONEMOE_BASE_CUDA(launch_gather(s.config.dtype, args.x, s.token_of_row, s.offsets + num_experts, num_tokens * top_k,
                                 hidden, s.xp, stream));
  if (s.kind == BaselineKind::kGroupedGemm) {
    ONEMOE_BASE_CUDA(launch_group_pointers(group_pointer_args(s, args), s.offsets, num_experts, stream));
  }

  // The expert loop needs the counts on the host (PyTorch: tokens_per_expert.tolist()).
  ONEMOE_BASE_CUDA(
      cudaMemcpyAsync(s.host_counts, s.kept_counts, sizeof(int32_t) * num_experts, cudaMemcpyDeviceToHost, stream));
  ONEMOE_BASE_CUDA(cudaStreamSynchronize(stream));
  std::vector<int64_t> host_offsets(num_experts + 1, 0);
  for (int e = 0; e < num_experts; ++e) host_offsets[e + 1] = host_offsets[e] + s.host_counts[e];

  if (host_offsets[num_experts] > 0) {
    if (s.kind == BaselineKind::kGroupedGemm) {
      ONEMOE_BASE_TRY(run_experts_grouped(s, args, host_offsets, stream));
    } else {
      ONEMOE_BASE_TRY(run_experts_loop(s, args, host_offsets, stream));
    }
  }
  ONEMOE_BASE_CUDA(
      launch_combine(s.config.dtype, s.y, s.row_of_slot, s.weights, num_tokens, top_k, hidden, args.out, stream));
  return Result::success();
}

}  // namespace onemoe::baselines
