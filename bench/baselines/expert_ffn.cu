// The expert FFN of the baselines over expert-sorted rows: a per-expert cuBLAS loop, or grouped cuBLAS calls.
#include <cuda_runtime.h>

#include <vector>

#include "baselines/baseline_kernels.h"
#include "baselines/baseline_state.h"
#include "baselines/check_status.h"

namespace onemoe::baselines {
namespace {

// Row-major c[n, m] = b[n, k] · a[m, k]ᵀ (a: a weight matrix, b: n activation rows). In cuBLAS's column-major
// view that is cᵀ (m×n, ldc=m) = op(a)=aᵀ (m×k, lda=k) · bᵀ (k×n, ldb=k): "TN".
Result gemm_rows(const BaselineState& s, const void* a, const void* b, void* c, int m, int n, int k) {
  const float one = 1.f, zero = 0.f;
  return cublas_result(cublasGemmEx(s.handle, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, a, s.data_type, k, b,
                                    s.data_type, k, &zero, c, s.data_type, m, s.compute_type, CUBLAS_GEMM_DEFAULT),
                       "cublasGemmEx (expert GEMM)");
}

const char* at(const void* base, int64_t elems, size_t elem_bytes) {
  return static_cast<const char*>(base) + elems * static_cast<int64_t>(elem_bytes);
}
char* at(void* base, int64_t elems, size_t elem_bytes) {
  return static_cast<char*>(base) + elems * static_cast<int64_t>(elem_bytes);
}

// One group per expert with rows (ascending id), each problem TN like gemm_rows.
struct GroupedCall {
  std::vector<cublasOperation_t> trans_a, trans_b;
  std::vector<int> m, n, k, lda, ldb, ldc, group_size;
  std::vector<float> alpha, beta;

  void add(int rows, int out_cols, int inner, int problems) {
    trans_a.push_back(CUBLAS_OP_T);
    trans_b.push_back(CUBLAS_OP_N);
    m.push_back(out_cols);
    n.push_back(rows);
    k.push_back(inner);
    lda.push_back(inner);
    ldb.push_back(inner);
    ldc.push_back(out_cols);
    group_size.push_back(problems);
    alpha.push_back(1.f);
    beta.push_back(0.f);
  }

  Result run(const BaselineState& s, const void* const* a, const void* const* b, void* const* c, const char* what) {
    return cublas_result(
        cublasGemmGroupedBatchedEx(s.handle, trans_a.data(), trans_b.data(), m.data(), n.data(), k.data(), alpha.data(),
                                   a, s.data_type, lda.data(), b, s.data_type, ldb.data(), beta.data(), c, s.data_type,
                                   ldc.data(), static_cast<int>(m.size()), group_size.data(), s.compute_type),
        what);
  }
};

}  // namespace

GroupPointerArgs group_pointer_args(const BaselineState& s, const RunArgs& args) {
  const int64_t num_experts = s.max_shape.num_experts;
  const int64_t gemm1_entries = num_experts * (s.config.gated ? 2 : 1);
  GroupPointerArgs p;
  p.w1 = static_cast<const char*>(args.w1);
  p.w3 = static_cast<const char*>(args.w3);
  p.w2 = static_cast<const char*>(args.w2);
  p.xp = static_cast<const char*>(s.xp);
  p.g = static_cast<char*>(s.g);
  p.u = static_cast<char*>(s.u);
  p.h = static_cast<char*>(s.h);
  p.y = static_cast<char*>(s.y);
  p.hidden = s.max_shape.hidden;
  p.intermediate = s.max_shape.intermediate;
  p.elem_bytes = static_cast<int64_t>(s.elem_bytes);
  p.gated = s.config.gated;
  void** base = s.group_ptrs;
  p.gemm1_a = const_cast<const void**>(base);
  p.gemm1_b = const_cast<const void**>(base + gemm1_entries);
  p.gemm1_c = base + 2 * gemm1_entries;
  p.gemm2_a = const_cast<const void**>(base + 3 * gemm1_entries);
  p.gemm2_b = const_cast<const void**>(base + 3 * gemm1_entries + num_experts);
  p.gemm2_c = base + 3 * gemm1_entries + 2 * num_experts;
  return p;
}

Result run_experts_loop(BaselineState& s, const RunArgs& args, const std::vector<int64_t>& host_offsets,
                        cudaStream_t stream) {
  const int hidden = s.max_shape.hidden, inter = s.max_shape.intermediate;
  const size_t eb = s.elem_bytes;
  const int64_t weight_elems = static_cast<int64_t>(hidden) * inter;
  for (int e = 0; e < s.max_shape.num_experts; ++e) {
    const int64_t first = host_offsets[e];
    const int rows = static_cast<int>(host_offsets[e + 1] - first);
    if (rows == 0) continue;
    const char* xp_e = at(s.xp, first * hidden, eb);
    char* g_e = at(s.g, first * inter, eb);
    char* u_e = s.config.gated ? at(s.u, first * inter, eb) : nullptr;
    char* h_e = at(s.h, first * inter, eb);
    ONEMOE_BASE_TRY(gemm_rows(s, at(args.w1, e * weight_elems, eb), xp_e, g_e, inter, rows, hidden));
    if (s.config.gated) {
      ONEMOE_BASE_TRY(gemm_rows(s, at(args.w3, e * weight_elems, eb), xp_e, u_e, inter, rows, hidden));
    }
    ONEMOE_BASE_CUDA(launch_activation(s.config.dtype, s.config.activation, g_e, u_e, h_e,
                                       static_cast<int64_t>(rows) * inter, stream));
    ONEMOE_BASE_TRY(
        gemm_rows(s, at(args.w2, e * weight_elems, eb), h_e, at(s.y, first * hidden, eb), hidden, rows, inter));
  }
  return Result::success();
}

Result run_experts_grouped(BaselineState& s, const RunArgs& args, const std::vector<int64_t>& host_offsets,
                           cudaStream_t stream) {
  const int num_experts = s.max_shape.num_experts;
  const int hidden = s.max_shape.hidden, inter = s.max_shape.intermediate;
  GroupedCall gemm1, gemm2;
  for (int e = 0; e < num_experts; ++e) {
    const int rows = static_cast<int>(host_offsets[e + 1] - host_offsets[e]);
    if (rows == 0) continue;
    gemm1.add(rows, inter, hidden, s.config.gated ? 2 : 1);  // w1 and w3 share the rows: one group of 2
    gemm2.add(rows, hidden, inter, 1);
  }
  const GroupPointerArgs p = group_pointer_args(s, args);
  ONEMOE_BASE_TRY(gemm1.run(s, p.gemm1_a, p.gemm1_b, p.gemm1_c, "cublasGemmGroupedBatchedEx (GEMM1)"));
  // Rows of all experts are contiguous from row 0, so one activation launch covers them.
  const int64_t total_rows = host_offsets[num_experts];
  ONEMOE_BASE_CUDA(launch_activation(s.config.dtype, s.config.activation, s.g, s.config.gated ? s.u : nullptr, s.h,
                                     total_rows * inter, stream));
  ONEMOE_BASE_TRY(gemm2.run(s, p.gemm2_a, p.gemm2_b, p.gemm2_c, "cublasGemmGroupedBatchedEx (GEMM2)"));
  return Result::success();
}

}  // namespace onemoe::baselines
