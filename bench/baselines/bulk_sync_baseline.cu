// BulkSyncBaseline: the host-driven expert-parallel forward (routing, count exchange, all-to-all, grouped
// GEMMs, all-to-all back, combine). See bulk_sync_baseline.h for the stages.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "baselines/baseline_kernels.h"
#include "baselines/bulk_sync_baseline.h"
#include "baselines/check_status.h"
#include "baselines/pipeline_baseline.h"

namespace onemoe::baselines {
namespace {

constexpr size_t kAlign = 256;

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

Result nccl_result(ncclResult_t r, const char* what) {
  if (r == ncclSuccess) return Result::success();
  return Result::error(Status::kErrorCuda, std::string(what) + ": " + ncclGetErrorString(r));
}
#define BULK_NCCL(call) ONEMOE_BASE_TRY(nccl_result((call), #call))

// keys[i] = sort_key[ids[i]]; also copies the ids out when asked (the scatter then sees keys, not ids).
__global__ void remap_ids_kernel(const int32_t* __restrict__ ids, int64_t n, const int32_t* __restrict__ sort_key,
                                 int32_t* __restrict__ keys, int32_t* __restrict__ out_ids) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int32_t e = ids[i];
    keys[i] = sort_key[e];
    if (out_ids != nullptr) out_ids[i] = e;
  }
}

// Owns one cudaMalloc; grows (never shrinks) when a forward needs more.
struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  Result reserve(size_t want) {
    if (want <= bytes) return Result::success();
    if (ptr != nullptr) cudaFree(ptr);  // implicit device sync: no queued work still uses it
    ptr = nullptr;
    bytes = 0;
    ONEMOE_BASE_CUDA(cudaMalloc(&ptr, want));
    bytes = want;
    return Result::success();
  }
  ~DeviceBuffer() {
    if (ptr != nullptr) cudaFree(ptr);
  }
};

}  // namespace

struct BulkSyncState {
  MoeShape max_shape;
  MoeConfig config;
  ncclComm_t comm = nullptr;
  int rank = 0, world = 1;
  std::vector<int> expert_to_rank, local_experts;
  std::vector<int32_t> sort_key;   // [E] position of expert e in rank-major order
  std::vector<int> key_begin;      // [R+1] keys of rank r's experts are [key_begin[r], key_begin[r+1])
  bool identity_order = true;      // sort_key[e] == e: no remap launch
  cudaDataType_t data_type = CUDA_R_16BF;
  cublasComputeType_t compute_type = CUBLAS_COMPUTE_32F;
  size_t elem_bytes = 2;
  cublasHandle_t handle = nullptr;

  // Per-forward buffers sized for max T (rows = T*k): routing and the rows this rank sends/gets back.
  DeviceBuffer routing;  // carved below
  float* logits = nullptr;           // [T, E]
  int32_t* ids = nullptr;            // [T, k] expert ids from the router
  int32_t* keys = nullptr;           // [T, k] sort keys (= ids when identity_order)
  float* weights = nullptr;          // [T, k]
  int32_t* chunk_counts = nullptr;   // [chunks, E]
  int32_t* chunk_base = nullptr;     // [chunks, E]
  int32_t* kept_counts = nullptr;    // [E] by key
  int32_t* offsets = nullptr;        // [E+1] by key
  int32_t* row_of_slot = nullptr;    // [T*k]
  int32_t* token_of_row = nullptr;   // [T*k]
  int32_t* d_sort_key = nullptr;     // [E]
  int32_t* all_counts = nullptr;     // [R, E] by key, after the all-gather
  void* xp = nullptr;                // [T*k, H] rows to send, grouped by destination rank
  void* y_home = nullptr;            // [T*k, H] expert outputs returned, same row order as xp

  // Rows received from all ranks (grown on demand): inputs, intermediates, outputs.
  DeviceBuffer recv_x, g, u, h, y;
  DeviceBuffer group_ptrs;           // gemm1 a/b/c then gemm2 a/b/c device pointer arrays
  void** host_ptrs = nullptr;        // pinned mirror of group_ptrs
  size_t host_ptrs_entries = 0;
  int32_t* host_counts = nullptr;    // pinned [R, E]

  BulkSyncTraffic traffic;

  ~BulkSyncState() {
    if (handle != nullptr) cublasDestroy(handle);
    if (host_ptrs != nullptr) cudaFreeHost(host_ptrs);
    if (host_counts != nullptr) cudaFreeHost(host_counts);
  }
};

std::vector<int> contiguous_expert_to_rank(int num_experts, int world_size) {
  std::vector<int> owner(std::max(num_experts, 0), 0);
  if (world_size <= 0) return owner;
  const int base = num_experts / world_size, extra = num_experts % world_size;
  int e = 0;
  for (int r = 0; r < world_size; ++r) {
    const int held = base + (r < extra ? 1 : 0);
    for (int i = 0; i < held; ++i) owner[e++] = r;
  }
  return owner;
}

std::vector<int32_t> rank_major_expert_order(const std::vector<int>& expert_to_rank, int world_size) {
  std::vector<int32_t> key(expert_to_rank.size());
  int32_t next = 0;
  for (int r = 0; r < world_size; ++r)
    for (size_t e = 0; e < expert_to_rank.size(); ++e)
      if (expert_to_rank[e] == r) key[e] = next++;
  return key;
}

BulkSyncTraffic bulk_sync_traffic(const std::vector<int32_t>& all_counts, const std::vector<int>& expert_to_rank,
                                  int rank, int hidden, size_t elem_bytes) {
  BulkSyncTraffic t;
  const size_t num_experts = expert_to_rank.size();
  if (num_experts == 0) return t;
  const size_t world = all_counts.size() / num_experts;
  for (size_t src = 0; src < world; ++src) {
    for (size_t e = 0; e < num_experts; ++e) {
      const uint64_t rows = uint64_t(std::max(all_counts[src * num_experts + e], 0));
      const bool mine = expert_to_rank[e] == rank;
      if (int(src) == rank) {
        (mine ? t.rows_local : t.rows_to_peers) += rows;
      } else if (mine) {
        t.rows_returned += rows;  // rank src's rows computed here go back to src
      }
    }
  }
  t.payload_bytes = (t.rows_to_peers + t.rows_returned) * uint64_t(hidden) * elem_bytes;
  t.control_bytes = world > 1 ? uint64_t(world - 1) * num_experts * sizeof(int32_t) : 0;
  return t;
}

Result BulkSyncBaseline::can_implement(const MoeShape& shape, const MoeConfig& config, int world_size,
                                       const std::vector<int>& expert_to_rank) {
  if (world_size < 1) return Result::error(Status::kErrorInvalidArgument, "world_size must be >= 1");
  // The routing, gather and FFN stages are the grouped-GEMM pipeline's: reuse its checks.
  ONEMOE_BASE_TRY(PipelineBaseline::can_implement(BaselineKind::kGroupedGemm, shape, config));
  if (config.capacity_factor > 0.0f) {
    return Result::error(Status::kErrorNotSupported,
                         "baseline-bulk-sync is dropless only: a capacity drops in global token order across ranks, "
                         "which a per-rank sort cannot decide");
  }
  if (!expert_to_rank.empty()) {
    if (int(expert_to_rank.size()) != shape.num_experts) {
      return Result::error(Status::kErrorInvalidArgument, "expert_to_rank must have E entries");
    }
    for (int r : expert_to_rank)
      if (r < 0 || r >= world_size) return Result::error(Status::kErrorInvalidArgument, "expert_to_rank out of range");
  }
  if (int64_t(world_size) * shape.num_tokens * shape.top_k > INT32_MAX) {
    return Result::error(Status::kErrorNotSupported, "R * T * k must fit in int32 (received rows)");
  }
  return Result::success();
}

Result BulkSyncBaseline::create(const MoeShape& max_shape, const MoeConfig& config, ncclComm_t comm,
                                const std::vector<int>& expert_to_rank, std::unique_ptr<BulkSyncBaseline>* out) {
  if (out == nullptr || comm == nullptr) return Result::error(Status::kErrorInvalidArgument, "out and comm needed");
  auto s = std::make_unique<BulkSyncState>();
  BULK_NCCL(ncclCommCount(comm, &s->world));
  BULK_NCCL(ncclCommUserRank(comm, &s->rank));
  ONEMOE_BASE_TRY(can_implement(max_shape, config, s->world, expert_to_rank));
  s->max_shape = max_shape;
  s->config = config;
  s->comm = comm;
  const int num_experts = max_shape.num_experts;
  s->expert_to_rank = expert_to_rank.empty() ? contiguous_expert_to_rank(num_experts, s->world) : expert_to_rank;
  for (int e = 0; e < num_experts; ++e)
    if (s->expert_to_rank[e] == s->rank) s->local_experts.push_back(e);
  s->sort_key = rank_major_expert_order(s->expert_to_rank, s->world);
  s->key_begin.assign(s->world + 1, 0);
  for (int e = 0; e < num_experts; ++e) s->key_begin[s->expert_to_rank[e] + 1]++;
  for (int r = 0; r < s->world; ++r) s->key_begin[r + 1] += s->key_begin[r];
  for (int e = 0; e < num_experts; ++e) s->identity_order = s->identity_order && s->sort_key[e] == e;

  s->elem_bytes = config.dtype == DType::kFP32 ? 4 : 2;
  s->data_type = config.dtype == DType::kBF16 ? CUDA_R_16BF : config.dtype == DType::kFP16 ? CUDA_R_16F : CUDA_R_32F;
  s->compute_type = config.dtype == DType::kFP32 && config.fp32_math == Fp32Math::kTF32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                                                          : CUBLAS_COMPUTE_32F;
  ONEMOE_BASE_CUBLAS(cublasCreate(&s->handle));

  // One allocation for everything sized by max T; at least one token so every pointer is distinct.
  const size_t t = size_t(std::max<int64_t>(max_shape.num_tokens, 1)), e = size_t(num_experts);
  const size_t k = size_t(max_shape.top_k), rows = t * k, row_bytes = size_t(max_shape.hidden) * s->elem_bytes;
  const size_t chunks = size_t(num_sort_chunks(int64_t(t)));
  const size_t sizes[] = {t * e * 4, rows * 4, rows * 4, rows * 4, chunks * e * 4, chunks * e * 4, e * 4,
                          (e + 1) * 4, rows * 4, rows * 4, e * 4, size_t(s->world) * e * 4, rows * row_bytes,
                          rows * row_bytes};
  size_t total = 0;
  for (size_t b : sizes) total += align_up(b);
  ONEMOE_BASE_TRY(s->routing.reserve(total));
  char* p = static_cast<char*>(s->routing.ptr);
  void* slots[14];
  for (int i = 0; i < 14; ++i) {
    slots[i] = p;
    p += align_up(sizes[i]);
  }
  s->logits = static_cast<float*>(slots[0]);
  s->ids = static_cast<int32_t*>(slots[1]);
  s->keys = static_cast<int32_t*>(slots[2]);
  s->weights = static_cast<float*>(slots[3]);
  s->chunk_counts = static_cast<int32_t*>(slots[4]);
  s->chunk_base = static_cast<int32_t*>(slots[5]);
  s->kept_counts = static_cast<int32_t*>(slots[6]);
  s->offsets = static_cast<int32_t*>(slots[7]);
  s->row_of_slot = static_cast<int32_t*>(slots[8]);
  s->token_of_row = static_cast<int32_t*>(slots[9]);
  s->d_sort_key = static_cast<int32_t*>(slots[10]);
  s->all_counts = static_cast<int32_t*>(slots[11]);
  s->xp = slots[12];
  s->y_home = slots[13];
  ONEMOE_BASE_CUDA(cudaMemcpy(s->d_sort_key, s->sort_key.data(), e * 4, cudaMemcpyHostToDevice));
  ONEMOE_BASE_CUDA(cudaMallocHost(&s->host_counts, size_t(s->world) * e * 4));
  out->reset(new BulkSyncBaseline(std::move(s)));
  return Result::success();
}

BulkSyncBaseline::BulkSyncBaseline(std::unique_ptr<BulkSyncState> state) : state_(std::move(state)) {}
BulkSyncBaseline::~BulkSyncBaseline() = default;

const BulkSyncTraffic& BulkSyncBaseline::last_traffic() const { return state_->traffic; }
int BulkSyncBaseline::rank() const { return state_->rank; }
int BulkSyncBaseline::world_size() const { return state_->world; }
const std::vector<int>& BulkSyncBaseline::local_experts() const { return state_->local_experts; }
const std::vector<int>& BulkSyncBaseline::expert_to_rank() const { return state_->expert_to_rank; }

namespace {

Result check_run_args(const BulkSyncState& s, const RunArgs& a) {
  if (a.num_tokens < 0 || a.num_tokens > s.max_shape.num_tokens) {
    return Result::error(Status::kErrorWorkspaceTooSmall, "num_tokens " + std::to_string(a.num_tokens) +
                                                              " is not in [0, max_tokens=" +
                                                              std::to_string(s.max_shape.num_tokens) + "]");
  }
  if (a.num_tokens > 0 && (a.x == nullptr || a.out == nullptr)) {
    return Result::error(Status::kErrorInvalidArgument, "x and out must be non-null when T > 0");
  }
  if (a.w_router == nullptr) return Result::error(Status::kErrorInvalidArgument, "w_router must be non-null");
  if (!s.local_experts.empty() && (a.w1 == nullptr || a.w2 == nullptr)) {
    return Result::error(Status::kErrorInvalidArgument, "w1 and w2 must be non-null on a rank with experts");
  }
  if (s.config.gated && !s.local_experts.empty() && a.w3 == nullptr) {
    return Result::error(Status::kErrorInvalidArgument, "gated FFN needs w3");
  }
  if (!s.config.gated && a.w3 != nullptr) {
    return Result::error(Status::kErrorInvalidArgument, "plain FFN needs w3 == nullptr");
  }
  return Result::success();
}

// Pairwise exchange: to every rank p, send_rows[p] rows from send + send_off[p]; from every p, recv_rows[p]
// rows into recv + recv_off[p]. Zero-row pairs are skipped on both sides (both know the counts).
Result exchange_rows(const BulkSyncState& s, const void* send, const std::vector<int64_t>& send_off,
                     const std::vector<int64_t>& send_rows, void* recv, const std::vector<int64_t>& recv_off,
                     const std::vector<int64_t>& recv_rows, cudaStream_t stream) {
  const size_t row_bytes = size_t(s.max_shape.hidden) * s.elem_bytes;
  BULK_NCCL(ncclGroupStart());
  for (int p = 0; p < s.world; ++p) {
    if (send_rows[p] > 0) {
      const char* src = static_cast<const char*>(send) + size_t(send_off[p]) * row_bytes;
      BULK_NCCL(ncclSend(src, size_t(send_rows[p]) * row_bytes, ncclUint8, p, s.comm, stream));
    }
    if (recv_rows[p] > 0) {
      char* dst = static_cast<char*>(recv) + size_t(recv_off[p]) * row_bytes;
      BULK_NCCL(ncclRecv(dst, size_t(recv_rows[p]) * row_bytes, ncclUint8, p, s.comm, stream));
    }
  }
  BULK_NCCL(ncclGroupEnd());
  return Result::success();
}

// One grouped cuBLAS call over TN problems: row-major c[rows, out_cols] = b[rows, inner] · a[out_cols, inner]ᵀ,
// each group being `problems` GEMMs of one shape. Problems are listed on the host; pointer arrays are on the
// device already.
struct GroupedProblems {
  struct Group {
    int rows, out_cols, inner, problems;
  };
  std::vector<Group> groups;

  Result run(const BulkSyncState& s, void* const* a, void* const* b, void* const* c, const char* what) const {
    const size_t n = groups.size();
    std::vector<cublasOperation_t> op_t(n, CUBLAS_OP_T), op_n(n, CUBLAS_OP_N);
    std::vector<int> m(n), cols(n), inner(n), sizes(n);
    for (size_t i = 0; i < n; ++i) {
      m[i] = groups[i].out_cols;  // column-major view: cᵀ (out_cols × rows) = aᵀ-op · bᵀ
      cols[i] = groups[i].rows;
      inner[i] = groups[i].inner;
      sizes[i] = groups[i].problems;
    }
    const std::vector<float> alpha(n, 1.f), beta(n, 0.f);
    return cublas_result(cublasGemmGroupedBatchedEx(s.handle, op_t.data(), op_n.data(), m.data(), cols.data(),
                                                    inner.data(), alpha.data(), const_cast<const void* const*>(a),
                                                    s.data_type, inner.data(), const_cast<const void* const*>(b),
                                                    s.data_type, inner.data(), beta.data(), c, s.data_type, m.data(),
                                                    int(n), sizes.data(), s.compute_type),
                         what);
  }
};

}  // namespace

Result BulkSyncBaseline::run(const RunArgs& args, cudaStream_t stream) {
  BulkSyncState& s = *state_;
  ONEMOE_BASE_TRY(check_run_args(s, args));
  const int64_t num_tokens = args.num_tokens;
  const int num_experts = s.max_shape.num_experts, top_k = s.max_shape.top_k;
  const int hidden = s.max_shape.hidden, inter = s.max_shape.intermediate;
  const size_t eb = s.elem_bytes;
  ONEMOE_BASE_CUBLAS(cublasSetStream(s.handle, stream));

  // 1. Routing of this rank's tokens; rows of xp grouped by destination rank (sort keys), token order inside.
  if (num_tokens > 0) {
    const float one = 1.f, zero = 0.f;
    ONEMOE_BASE_CUBLAS(cublasGemmEx(s.handle, CUBLAS_OP_T, CUBLAS_OP_N, num_experts, int(num_tokens), hidden, &one,
                                    args.w_router, s.data_type, hidden, args.x, s.data_type, hidden, &zero, s.logits,
                                    CUDA_R_32F, num_experts, s.compute_type, CUBLAS_GEMM_DEFAULT));
    ONEMOE_BASE_CUDA(launch_router(s.logits, num_tokens, num_experts, top_k, s.config.scoring, s.config.renormalize,
                                   s.ids, s.weights, stream));
    const int32_t* keys = s.ids;
    int32_t* scatter_out_ids = args.topk_ids;
    if (!s.identity_order) {
      const int64_t n = num_tokens * top_k;
      const int blocks = int(std::min<int64_t>((n + 255) / 256, 4096));
      remap_ids_kernel<<<blocks, 256, 0, stream>>>(s.ids, n, s.d_sort_key, s.keys, args.topk_ids);
      ONEMOE_BASE_CUDA(cudaGetLastError());
      keys = s.keys;
      scatter_out_ids = nullptr;  // the scatter sees keys; the ids went out above
    }
    const int num_chunks = num_sort_chunks(num_tokens);
    ONEMOE_BASE_CUDA(launch_expert_histogram(keys, num_tokens, top_k, num_experts, s.chunk_counts, stream));
    ONEMOE_BASE_CUDA(launch_expert_offsets(s.chunk_counts, num_chunks, num_experts, -1, s.chunk_base, s.kept_counts,
                                           s.offsets, stream));
    ONEMOE_BASE_CUDA(launch_scatter(keys, s.weights, s.chunk_base, s.offsets, num_tokens, top_k, num_experts, -1,
                                    s.row_of_slot, s.token_of_row, scatter_out_ids, args.topk_weights, stream));
    ONEMOE_BASE_CUDA(launch_gather(s.config.dtype, args.x, s.token_of_row, s.offsets + num_experts,
                                   num_tokens * top_k, hidden, s.xp, stream));
  } else {
    ONEMOE_BASE_CUDA(cudaMemsetAsync(s.kept_counts, 0, sizeof(int32_t) * num_experts, stream));
  }

  // 2. Every rank learns every rank's per-expert counts; the host needs them to size the exchange.
  BULK_NCCL(ncclAllGather(s.kept_counts, s.all_counts, size_t(num_experts), ncclInt32, s.comm, stream));
  const size_t count_bytes = sizeof(int32_t) * size_t(s.world) * num_experts;
  ONEMOE_BASE_CUDA(cudaMemcpyAsync(s.host_counts, s.all_counts, count_bytes, cudaMemcpyDeviceToHost, stream));
  ONEMOE_BASE_CUDA(cudaStreamSynchronize(stream));

  // After this block: send_rows[p] = rows of mine for p's experts, at xp row send_off[p]; recv_rows[p] = rows
  // of p's tokens for my experts, at recv row recv_off[p] (rank order, then key = expert order, token order).
  const int world = s.world, me = s.rank;
  auto count = [&](int src, int key) { return int64_t(s.host_counts[size_t(src) * num_experts + key]); };
  std::vector<int64_t> send_rows(world, 0), send_off(world + 1, 0), recv_rows(world, 0), recv_off(world + 1, 0);
  for (int p = 0; p < world; ++p) {
    for (int key = s.key_begin[p]; key < s.key_begin[p + 1]; ++key) send_rows[p] += count(me, key);
    for (int key = s.key_begin[me]; key < s.key_begin[me + 1]; ++key) recv_rows[p] += count(p, key);
    send_off[p + 1] = send_off[p] + send_rows[p];
    recv_off[p + 1] = recv_off[p] + recv_rows[p];
  }
  std::vector<int32_t> by_expert(size_t(world) * num_experts);
  for (int p = 0; p < world; ++p)
    for (int e = 0; e < num_experts; ++e) by_expert[size_t(p) * num_experts + e] = int32_t(count(p, s.sort_key[e]));
  s.traffic = bulk_sync_traffic(by_expert, s.expert_to_rank, me, hidden, eb);

  const int64_t total_recv = recv_off[world];
  const int gemm1_per_problem = s.config.gated ? 2 : 1;
  const size_t x_row = size_t(hidden) * eb, i_row = size_t(inter) * eb;
  ONEMOE_BASE_TRY(s.recv_x.reserve(std::max<int64_t>(total_recv, 1) * x_row));
  ONEMOE_BASE_TRY(s.y.reserve(std::max<int64_t>(total_recv, 1) * x_row));
  ONEMOE_BASE_TRY(s.g.reserve(std::max<int64_t>(total_recv, 1) * i_row));
  ONEMOE_BASE_TRY(s.h.reserve(std::max<int64_t>(total_recv, 1) * i_row));
  if (s.config.gated) ONEMOE_BASE_TRY(s.u.reserve(std::max<int64_t>(total_recv, 1) * i_row));

  // 3. Token rows to their experts' ranks.
  ONEMOE_BASE_TRY(exchange_rows(s, s.xp, send_off, send_rows, s.recv_x.ptr, recv_off, recv_rows, stream));

  // 4. Expert FFN: one problem per (source rank, local expert) with rows; rows of one source stay together.
  if (total_recv > 0) {
    GroupedProblems gemm1, gemm2;
    std::vector<void*> a1, b1, c1, a2, b2, c2;
    const size_t weight_bytes = size_t(hidden) * inter * eb;
    auto at = [](const void* base, size_t bytes) { return const_cast<char*>(static_cast<const char*>(base)) + bytes; };
    for (int p = 0; p < world; ++p) {
      int64_t row = recv_off[p];
      for (int key = s.key_begin[me]; key < s.key_begin[me + 1]; ++key) {
        const int64_t rows = count(p, key);
        if (rows == 0) continue;
        const size_t local = size_t(key - s.key_begin[me]);  // keys of my experts ascend with the expert id
        gemm1.groups.push_back({int(rows), inter, hidden, gemm1_per_problem});
        gemm2.groups.push_back({int(rows), hidden, inter, 1});
        a1.push_back(at(args.w1, local * weight_bytes));
        b1.push_back(at(s.recv_x.ptr, size_t(row) * x_row));
        c1.push_back(at(s.g.ptr, size_t(row) * i_row));
        if (s.config.gated) {
          a1.push_back(at(args.w3, local * weight_bytes));
          b1.push_back(at(s.recv_x.ptr, size_t(row) * x_row));
          c1.push_back(at(s.u.ptr, size_t(row) * i_row));
        }
        a2.push_back(at(args.w2, local * weight_bytes));
        b2.push_back(at(s.h.ptr, size_t(row) * i_row));
        c2.push_back(at(s.y.ptr, size_t(row) * x_row));
        row += rows;
      }
    }
    // Pointer arrays to the device through a pinned mirror. The previous forward's copy out of the mirror
    // finished before this forward's count sync above (same stream), so overwriting it here is safe.
    const size_t entries = 3 * a1.size() + 3 * a2.size();
    if (entries > s.host_ptrs_entries) {
      if (s.host_ptrs != nullptr) cudaFreeHost(s.host_ptrs);
      s.host_ptrs = nullptr;
      s.host_ptrs_entries = 0;
      ONEMOE_BASE_CUDA(cudaMallocHost(&s.host_ptrs, entries * sizeof(void*)));
      s.host_ptrs_entries = entries;
    }
    ONEMOE_BASE_TRY(s.group_ptrs.reserve(entries * sizeof(void*)));
    size_t pos = 0;
    for (const auto* v : {&a1, &b1, &c1, &a2, &b2, &c2})
      for (void* ptr : *v) s.host_ptrs[pos++] = ptr;
    ONEMOE_BASE_CUDA(cudaMemcpyAsync(s.group_ptrs.ptr, s.host_ptrs, entries * sizeof(void*), cudaMemcpyHostToDevice,
                                     stream));
    void** d = static_cast<void**>(s.group_ptrs.ptr);
    const size_t n1 = a1.size(), n2 = a2.size();
    ONEMOE_BASE_TRY(gemm1.run(s, d, d + n1, d + 2 * n1, "cublasGemmGroupedBatchedEx (GEMM1)"));
    ONEMOE_BASE_CUDA(launch_activation(s.config.dtype, s.config.activation, s.g.ptr,
                                       s.config.gated ? s.u.ptr : nullptr, s.h.ptr, total_recv * inter, stream));
    d += 3 * n1;
    ONEMOE_BASE_TRY(gemm2.run(s, d, d + n2, d + 2 * n2, "cublasGemmGroupedBatchedEx (GEMM2)"));
  }

  // 5. Expert outputs back to their tokens' ranks, into the rows the tokens were sent from.
  ONEMOE_BASE_TRY(exchange_rows(s, s.y.ptr, recv_off, recv_rows, s.y_home, send_off, send_rows, stream));

  // 6. Combine in slot order (ascending expert id), fp32, no atomics.
  if (num_tokens > 0) {
    ONEMOE_BASE_CUDA(launch_combine(s.config.dtype, s.y_home, s.row_of_slot, s.weights, num_tokens, top_k, hidden,
                                    args.out, stream));
  }
  return Result::success();
}

}  // namespace onemoe::baselines
