#include "multi_gpu/rank_runner.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "baselines/kernel_counter.h"
#include "bench_common.h"
#include "multi_gpu/ep_impl.h"
#include "multi_gpu/global_problem.h"

namespace onemoe::multi_gpu {
namespace {

Result cuda_check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Result::success();
  return Result::error(Status::kErrorCuda, std::string(what) + ": " + cudaGetErrorString(err));
}

#define RANK_TRY(expr)                \
  do {                                \
    Result rank_try_r_ = (expr);      \
    if (!rank_try_r_.ok()) return rank_try_r_; \
  } while (0)

// One cudaMalloc, freed on scope exit; empty when bytes == 0 (a rank without tokens passes null pointers).
struct DeviceMem {
  void* ptr = nullptr;
  size_t bytes = 0;
  DeviceMem() = default;
  DeviceMem(const DeviceMem&) = delete;
  DeviceMem& operator=(const DeviceMem&) = delete;
  ~DeviceMem() {
    if (ptr != nullptr) cudaFree(ptr);
  }
  Result alloc(size_t n) {
    bytes = n;
    return n == 0 ? Result::success() : cuda_check(cudaMalloc(&ptr, n), "cudaMalloc");
  }
  Result upload(const std::vector<uint8_t>& data) {
    RANK_TRY(alloc(data.size()));
    return data.empty() ? Result::success()
                        : cuda_check(cudaMemcpy(ptr, data.data(), data.size(), cudaMemcpyHostToDevice), "upload");
  }
};

void report(const RankContext& ctx, const std::string& impl, const std::string& step, const Result& r) {
  std::fprintf(stderr, "onemoe-bench rank %d (GPU %d) %s: %s: %s\n", ctx.rank, ctx.device, impl.c_str(),
               step.c_str(), r.message.c_str());
}

std::vector<uint8_t> encode(const MoeConfig& c, const std::vector<double>& v) {
  return harness::encode_values(c.dtype, v.data(), v.size());
}

}  // namespace

class RankBuffers {
 public:
  DeviceMem x, w_router, w1, w3, w2, out, ids, weights;
  TokenRange range;

  RunArgs args(const Case& c) const {
    RunArgs a;
    a.num_tokens = range.count;
    a.x = x.ptr;
    a.w_router = w_router.ptr;
    a.w1 = w1.ptr;
    a.w3 = c.config.gated ? w3.ptr : nullptr;
    a.w2 = w2.ptr;
    a.out = out.ptr;
    a.topk_ids = static_cast<int32_t*>(ids.ptr);
    a.topk_weights = static_cast<float*>(weights.ptr);
    return a;
  }
};

int64_t Case::max_tokens() const {
  return tokens_per_rank.empty() ? 0 : *std::max_element(tokens_per_rank.begin(), tokens_per_rank.end());
}

MoeShape Case::rank_max_shape() const {
  MoeShape s = global_shape;
  s.num_tokens = max_tokens();
  return s;
}

bool all_ranks_ok(const RankContext& ctx, bool ok) {
  int* d = nullptr;
  if (cudaMalloc(&d, sizeof(int)) != cudaSuccess) return false;
  int h = ok ? 1 : 0;
  bool done = cudaMemcpy(d, &h, sizeof(int), cudaMemcpyHostToDevice) == cudaSuccess &&
              ncclAllReduce(d, d, 1, ncclInt32, ncclMin, ctx.comm, ctx.stream) == ncclSuccess &&
              cudaMemcpyAsync(&h, d, sizeof(int), cudaMemcpyDeviceToHost, ctx.stream) == cudaSuccess &&
              cudaStreamSynchronize(ctx.stream) == cudaSuccess;
  cudaFree(d);
  return done && h == 1;
}

Result gather_stats(const RankContext& ctx, const std::vector<double>& mine, std::vector<double>* all) {
  DeviceMem send, recv;
  RANK_TRY(send.alloc(mine.size() * sizeof(double)));
  RANK_TRY(recv.alloc(mine.size() * sizeof(double) * size_t(ctx.world_size)));
  RANK_TRY(cuda_check(cudaMemcpy(send.ptr, mine.data(), send.bytes, cudaMemcpyHostToDevice), "stats upload"));
  if (ncclAllGather(send.ptr, recv.ptr, mine.size(), ncclDouble, ctx.comm, ctx.stream) != ncclSuccess) {
    return Result::error(Status::kErrorCuda, "ncclAllGather of the per-rank stats failed");
  }
  all->resize(mine.size() * size_t(ctx.world_size));
  RANK_TRY(cuda_check(cudaMemcpyAsync(all->data(), recv.ptr, recv.bytes, cudaMemcpyDeviceToHost, ctx.stream),
                      "stats download"));
  return cuda_check(cudaStreamSynchronize(ctx.stream), "stats sync");
}

void RankBuffersDeleter::operator()(RankBuffers* buffers) const { delete buffers; }

namespace {

// Tokens `range` of the global problem, the router, and the weights of `experts` (in that order), plus outputs.
Result upload_buffers(const Case& c, TokenRange range, const std::vector<int>& experts, RankBuffers* b) {
  const harness::HostInputs& in = *c.inputs;
  const int64_t H = c.global_shape.hidden, I = c.global_shape.intermediate, k = c.global_shape.top_k;
  b->range = range;
  RANK_TRY(b->x.upload(encode(c.config, slice_rows(in.x, H, range.first, range.count))));
  RANK_TRY(b->w_router.upload(encode(c.config, in.w_router)));
  RANK_TRY(b->w1.upload(encode(c.config, gather_experts(in.w1, I * H, experts))));
  if (c.config.gated) RANK_TRY(b->w3.upload(encode(c.config, gather_experts(in.w3, I * H, experts))));
  RANK_TRY(b->w2.upload(encode(c.config, gather_experts(in.w2, H * I, experts))));
  RANK_TRY(b->out.alloc(size_t(range.count * H) * dtype_size(c.config.dtype)));
  RANK_TRY(b->ids.alloc(size_t(range.count * k) * sizeof(int32_t)));
  return b->weights.alloc(size_t(range.count * k) * sizeof(float));
}

}  // namespace

Result upload_rank_slice(const RankContext& ctx, const Case& c, RankBuffersPtr* out) {
  RankBuffersPtr b(new RankBuffers());
  RANK_TRY(upload_buffers(c, token_ranges(c.tokens_per_rank)[size_t(ctx.rank)],
                          experts_of_rank(c.expert_to_rank, ctx.rank), b.get()));
  *out = std::move(b);
  return Result::success();
}

namespace {

Result poison(const RankBuffers& b, cudaStream_t stream) {
  for (const DeviceMem* m : {&b.out, &b.ids, &b.weights})
    if (m->bytes > 0) RANK_TRY(cuda_check(cudaMemsetAsync(m->ptr, 0xFF, m->bytes, stream), "poison"));
  return Result::success();
}

// Checks this rank's output rows against the fp64 reference of the global problem; fills wrong, checked and
// rows_to (from the routing ids the implementation reported, when it wrote them).
Result check_rank(const RankContext& ctx, const Case& c, const RankBuffers& b, const EpOptions& o,
                  std::vector<uint8_t>* out_bytes, RankStats* st) {
  const int64_t H = c.global_shape.hidden, k = c.global_shape.top_k, n = b.range.count;
  out_bytes->resize(b.out.bytes);
  std::vector<int32_t> ids(size_t(n * k));
  if (n > 0) {
    RANK_TRY(cuda_check(cudaMemcpy(out_bytes->data(), b.out.ptr, b.out.bytes, cudaMemcpyDeviceToHost), "download"));
    RANK_TRY(cuda_check(cudaMemcpy(ids.data(), b.ids.ptr, b.ids.bytes, cudaMemcpyDeviceToHost), "download ids"));
  }
  // Poisoned ids are all -1: the implementation does not report its routing, so only the output is checked.
  const bool ids_written = std::any_of(ids.begin(), ids.end(), [](int32_t e) { return e != -1; }) || n == 0;
  if (ids_written) st->rows_to = rows_per_destination(ids, c.expert_to_rank, ctx.world_size);
  const bool dropless = !(c.config.capacity_factor > 0);
  const std::vector<int64_t> local = harness::evenly_spaced_tokens(n, dropless ? o.check_tokens : 0);
  std::vector<int64_t> global;
  std::vector<float> got(local.size() * size_t(H));
  std::vector<int32_t> got_ids(local.size() * size_t(k));
  const size_t eb = dtype_size(c.config.dtype);
  for (size_t i = 0; i < local.size(); ++i) {
    global.push_back(b.range.first + local[i]);
    for (int64_t h = 0; h < H; ++h)
      got[i * H + h] = harness::decode_value(c.config.dtype, out_bytes->data() + size_t(local[i] * H + h) * eb);
    for (int64_t j = 0; j < k; ++j) got_ids[i * k + j] = ids[size_t(local[i] * k + j)];
  }
  st->checked_tokens = int64_t(local.size());
  if (local.empty()) {
    st->wrong = 0;
    return Result::success();
  }
  harness::CheckReport rep;
  RANK_TRY(harness::check_token_rows(*c.inputs, c.global_shape, c.config, global, got.data(),
                                     ids_written ? got_ids.data() : nullptr, &rep));
  st->wrong = rep.output.num_wrong + rep.routing_mismatches;
  if (!rep.pass) std::fprintf(stderr, "onemoe-bench rank %d check: %s\n", ctx.rank, rep.summary().c_str());
  return Result::success();
}

// Elements of this rank's rows that differ in any bit from a 1-GPU onemoe::Context run of the global problem.
Result bitwise_vs_single_gpu(const RankContext& ctx, const Case& c, const RankBuffers& b,
                             const std::vector<uint8_t>& out_bytes, int64_t* mismatch) {
  const MoeShape& g = c.global_shape;
  RANK_TRY(Context::can_implement(g, c.config));
  ContextOptions opt;
  opt.device = ctx.device;
  opt.max_tokens = g.num_tokens;
  std::unique_ptr<Context> single;
  RANK_TRY(Context::create(g, c.config, opt, &single));
  std::vector<int> all_experts(size_t(g.num_experts));
  for (int e = 0; e < g.num_experts; ++e) all_experts[size_t(e)] = e;
  RankBuffers whole;
  RANK_TRY(upload_buffers(c, TokenRange{0, g.num_tokens}, all_experts, &whole));
  const size_t row_bytes = size_t(g.hidden) * dtype_size(c.config.dtype);
  RANK_TRY(single->run(whole.args(c), ctx.stream));
  RANK_TRY(single->synchronize_and_check(ctx.stream));
  std::vector<uint8_t> mine(out_bytes.size());
  RANK_TRY(cuda_check(cudaMemcpy(mine.data(), static_cast<char*>(whole.out.ptr) + size_t(b.range.first) * row_bytes,
                                 mine.size(), cudaMemcpyDeviceToHost),
                      "download 1-GPU rows"));
  const size_t eb = dtype_size(c.config.dtype);
  *mismatch = 0;
  for (size_t i = 0; i < mine.size(); i += eb) *mismatch += std::memcmp(&mine[i], &out_bytes[i], eb) != 0 ? 1 : 0;
  return Result::success();
}

void write_rank_timeline(const RankContext& ctx, const Case& c, const EpImpl& impl, const std::string& prefix) {
  std::vector<TaskSpan> spans;
  Result r = impl.task_timeline(&spans);
  std::string path;
  if (r.ok()) {
    MoeShape shape = c.global_shape;
    shape.num_tokens = c.tokens_per_rank[ctx.rank];
    path = bench::write_task_timeline(prefix, c.dtype_label, shape, "-rank" + std::to_string(ctx.rank), spans);
    if (path.empty()) r = Result::error(Status::kErrorInvalidArgument, "cannot write under '" + prefix + "'");
  }
  if (!r.ok()) std::fprintf(stderr, "# rank %d: timeline not written: %s\n", ctx.rank, r.message.c_str());
  else std::fprintf(stderr, "# rank %d: timeline: %zu tasks in %s\n", ctx.rank, spans.size(), path.c_str());
}

}  // namespace

RankStats run_impl_on_rank(const RankContext& ctx, const Case& c, RankBuffers& b, const std::string& name,
                           const EpOptions& o) {
  RankStats st;
  std::unique_ptr<EpImpl> impl;
  const MoeShape max_shape = c.rank_max_shape();
  Result r = name == "onemoe" ? make_onemoe_impl(max_shape, c.config, ctx.comm, ctx.device, c.expert_to_rank, o.wait_timeout_ms,
                                                 !o.timeline_prefix.empty(), &impl)
                              : make_bulk_sync_impl(max_shape, c.config, ctx.comm, c.expert_to_rank, &impl);
  if (!r.ok()) report(ctx, name, "create", r);
  if (!all_ranks_ok(ctx, r.ok())) return st;
  const RunArgs args = b.args(c);

  // 1. One forward on poisoned outputs: correctness, and the traffic of a forward.
  std::vector<uint8_t> out_bytes;
  r = poison(b, ctx.stream);
  if (r.ok()) r = impl->run(args, ctx.stream);
  if (r.ok()) r = impl->finish(ctx.stream, &st.traffic);
  if (r.ok() && o.check) r = check_rank(ctx, c, b, o, &out_bytes, &st);
  if (!r.ok()) report(ctx, name, "first forward", r);
  if (!all_ranks_ok(ctx, r.ok())) return st;

  // 2. Bitwise against one GPU running the whole problem (local; no collective).
  if (name == "onemoe" && o.check_bitwise && o.check && b.range.count > 0) {
    int64_t mismatch = 0;
    if (Result br = bitwise_vs_single_gpu(ctx, c, b, out_bytes, &mismatch); br.ok()) {
      st.bitwise_mismatch = mismatch;
    } else {
      report(ctx, name, "bitwise check skipped", br);
    }
  }

  // 3. Kernels per forward. One process driving every GPU has one CUPTI: rank 0 counts all ranks' kernels.
  if (o.count_launches) {
    baselines::KernelCounter counter;
    const bool owner = ctx.threads == nullptr || ctx.rank == 0;
    if (ctx.threads != nullptr) ctx.threads->arrive_and_wait();
    const bool started = owner && counter.start().ok();
    if (ctx.threads != nullptr) ctx.threads->arrive_and_wait();
    Traffic ignored;
    r = impl->run(args, ctx.stream);
    if (r.ok()) r = impl->finish(ctx.stream, &ignored);
    if (ctx.threads != nullptr) ctx.threads->arrive_and_wait();
    if (started && counter.stop_and_flush().ok() && r.ok()) st.launches = counter.kernels();
    if (!owner) st.launches = 0;  // counted by rank 0
    // No rank goes on before rank 0 has stopped counting: the all-reduce below launches NCCL kernels, and a
    // peer thread's one could land in the count (the likely cause of rows whose launches column read 2).
    if (ctx.threads != nullptr) ctx.threads->arrive_and_wait();
    if (!r.ok()) report(ctx, name, "counted forward", r);
    if (!all_ranks_ok(ctx, r.ok())) return st;
  }

  // 4. Timed forwards: events on this rank's stream around each one.
  cudaEvent_t start = nullptr, stop = nullptr;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  Traffic ignored;
  for (int i = 0; i < o.warmup && r.ok(); ++i) r = impl->run(args, ctx.stream);
  if (r.ok()) r = impl->finish(ctx.stream, &ignored);
  bench::LoopProgress progress(o.iters, " (rank 0)");  // reported by rank 0 only
  for (int i = 0; i < o.iters; ++i) {
    if (ctx.rank == 0) progress.tick(i);
    // Ranks start each timed forward together (threads of one process), so a forward's time is not inflated
    // by how late a peer thread woke up from the previous one. Every thread meets the barrier every
    // iteration, even after a failure, so none waits forever.
    if (ctx.threads != nullptr) ctx.threads->arrive_and_wait();
    if (!r.ok()) continue;
    cudaEventRecord(start, ctx.stream);
    r = impl->run(args, ctx.stream);
    cudaEventRecord(stop, ctx.stream);
    if (r.ok()) r = cuda_check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    st.times_ms.push_back(ms);
  }
  if (r.ok()) r = impl->finish(ctx.stream, &ignored);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  if (!r.ok()) report(ctx, name, "timed forwards", r);
  if (r.ok() && name == "onemoe" && !o.timeline_prefix.empty()) write_rank_timeline(ctx, c, *impl, o.timeline_prefix);
  st.ok = r.ok();
  return st;
}

}  // namespace onemoe::multi_gpu
