// Multi-GPU correctness of the expert-parallel kernel, one process driving R GPUs (one thread per rank):
// against the fp64 reference that simulates every rank, bitwise against one GPU (onemoe::Context on all the
// tokens), bitwise run to run, and a bounded timeout naming a rank that never launches.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <gtest/gtest.h>
#include <nccl.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gpu_available.h"
#include "host/fault_injection.h"
#include "onemoe/distributed.h"
#include "onemoe/onemoe.h"
#include "reference/compare.h"
#include "reference/moe_reference.h"

namespace onemoe {
namespace {

using reference::CheckDType;

int visible_gpus() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

#define REQUIRE_GPUS(n)                                                                                    \
  do {                                                                                                     \
    if (visible_gpus() < (n)) GTEST_SKIP() << "needs " << (n) << " GPUs, " << visible_gpus() << " visible"; \
  } while (0)

// One communicator per world size, kept for the whole test program (NCCL init takes about a second).
ncclComm_t* comms_for(int world_size) {
  static std::map<int, std::vector<ncclComm_t>> cache;
  auto& comms = cache[world_size];
  if (comms.empty()) {
    setenv("NCCL_NVLS_ENABLE", "0", 0);
    comms.resize(world_size);
    std::vector<int> devices(world_size);
    for (int r = 0; r < world_size; ++r) devices[r] = r;
    if (ncclCommInitAll(comms.data(), world_size, devices.data()) != ncclSuccess) comms.clear();
  }
  return comms.empty() ? nullptr : comms.data();
}

// Runs fn(rank) on one thread per rank and waits for all.
void on_every_rank(int world_size, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  for (int r = 0; r < world_size; ++r) threads.emplace_back([&, r] {
    cudaSetDevice(r);
    fn(r);
  });
  for (auto& t : threads) t.join();
}

struct EpCase {
  const char* name;
  std::vector<int64_t> tokens_per_rank;  // its size is the world size
  int E, k, H, I;
  DType dtype = DType::kBF16;
  Fp32Math math = Fp32Math::kTF32;
  bool gated = false;
  Activation act = Activation::kGELU;
  float capacity_factor = 0;
  bool skew = false;  // router biased towards rank 0's experts
  std::vector<int> placement = {};
  int64_t max_tokens = 0;  // 0: the largest T of any rank
};

CheckDType check_dtype_of(const EpCase& c) {
  if (c.dtype == DType::kBF16) return CheckDType::kBF16;
  if (c.dtype == DType::kFP16) return CheckDType::kFP16;
  return c.math == Fp32Math::kTF32 ? CheckDType::kTF32 : CheckDType::kFP32;
}

CheckDType storage_of(DType d) {
  return d == DType::kBF16 ? CheckDType::kBF16 : d == DType::kFP16 ? CheckDType::kFP16 : CheckDType::kFP32;
}

// The global problem (all ranks' tokens, every expert) in fp64, values already rounded to the storage type.
struct GlobalProblem {
  MoeShape shape;  // num_tokens: the total over ranks
  MoeConfig config;
  std::vector<double> x, w_router, w1, w3, w2;
};

std::vector<double> uniform(size_t n, uint64_t seed, double stddev) {
  std::vector<double> v(n);
  reference::fill_uniform(v, seed, -stddev * std::sqrt(3.0), stddev * std::sqrt(3.0));
  return v;
}

GlobalProblem make_problem(const EpCase& c, const std::vector<int>& owner, uint64_t seed) {
  GlobalProblem g;
  int64_t total = 0;
  for (int64_t t : c.tokens_per_rank) total += t;
  g.shape = {total, c.E, c.k, c.H, c.I};
  g.config.dtype = c.dtype;
  g.config.fp32_math = c.math;
  g.config.gated = c.gated;
  g.config.activation = c.act;
  g.config.capacity_factor = c.capacity_factor;
  const size_t T = size_t(total), E = size_t(c.E), H = size_t(c.H), I = size_t(c.I);
  g.x = uniform(T * H, seed * 7 + 1, 1.0);
  g.w_router = uniform(E * H, seed * 7 + 2, 0.3 / std::sqrt(double(H)));
  g.w1 = uniform(E * I * H, seed * 7 + 3, 1.0 / std::sqrt(double(H)));
  if (c.gated) g.w3 = uniform(E * I * H, seed * 7 + 4, 1.0 / std::sqrt(double(H)));
  g.w2 = uniform(E * H * I, seed * 7 + 5, 1.0 / std::sqrt(double(I)));
  if (c.skew) {  // x gets a positive mean and rank 0's router rows a positive bias: logits +~2 for its experts
    for (double& v : g.x) v += 0.5;
    for (size_t e = 0; e < E; ++e)
      if (owner[e] == 0)
        for (size_t h = 0; h < H; ++h) g.w_router[e * H + h] += 4.0 / double(H);
  }
  for (auto* v : {&g.x, &g.w_router, &g.w1, &g.w3, &g.w2}) reference::round_all(storage_of(c.dtype), *v);
  return g;
}

std::vector<uint8_t> encode(DType d, const double* v, size_t n) {
  std::vector<uint8_t> bytes(n * dtype_size(d));
  for (size_t i = 0; i < n; ++i) {
    if (d == DType::kBF16) {
      const __nv_bfloat16 b = __float2bfloat16_rn(float(v[i]));
      std::memcpy(&bytes[i * 2], &b, 2);
    } else if (d == DType::kFP16) {
      const __half h = __float2half_rn(float(v[i]));
      std::memcpy(&bytes[i * 2], &h, 2);
    } else {
      const float f = float(v[i]);
      std::memcpy(&bytes[i * 4], &f, 4);
    }
  }
  return bytes;
}

float decode(DType d, const uint8_t* p) {
  if (d == DType::kBF16) return __bfloat162float(*reinterpret_cast<const __nv_bfloat16*>(p));
  if (d == DType::kFP16) return __half2float(*reinterpret_cast<const __half*>(p));
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

void* upload(const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return nullptr;
  void* d = nullptr;
  if (cudaMalloc(&d, bytes.size()) != cudaSuccess) return nullptr;
  cudaMemcpy(d, bytes.data(), bytes.size(), cudaMemcpyHostToDevice);
  return d;
}

// The rows of w (experts × rows_per_expert × cols) of the given experts, in that order.
std::vector<double> expert_rows(const std::vector<double>& w, const std::vector<int>& experts, size_t per_expert) {
  std::vector<double> out;
  out.reserve(experts.size() * per_expert);
  for (int e : experts) out.insert(out.end(), w.begin() + e * per_expert, w.begin() + (e + 1) * per_expert);
  return out;
}

struct RankOutput {
  std::vector<std::vector<uint8_t>> out_per_repeat;  // [repeat][T_r * H * elem]
  std::vector<int32_t> topk_ids;
  TrafficStats traffic;
  Result result;
};

// Runs `repeats` forwards of g on every rank (skipping `silent_rank`'s launches when >= 0), outputs poisoned
// before each.
std::vector<RankOutput> run_expert_parallel(const EpCase& c, const GlobalProblem& g, int repeats,
                                            double timeout_ms = 2000, int silent_rank = -1) {
  const int R = int(c.tokens_per_rank.size());
  std::vector<RankOutput> results(R);
  ncclComm_t* comms = comms_for(R);
  if (comms == nullptr) {
    results[0].result = Result::error(Status::kErrorCuda, "ncclCommInitAll failed");
    return results;
  }
  int64_t max_tokens = std::max<int64_t>(1, c.max_tokens);
  for (int64_t t : c.tokens_per_rank) max_tokens = std::max(max_tokens, t);
  on_every_rank(R, [&](int r) {
    RankOutput& ro = results[r];
    DistributedOptions options;
    options.context.max_tokens = max_tokens;
    options.context.wait_timeout_ms = timeout_ms;
    options.placement.expert_to_rank = c.placement;
    std::unique_ptr<DistributedContext> ctx;
    ro.result = DistributedContext::create(g.shape, g.config, comms[r], options, &ctx);
    if (!ro.result.ok()) return;
    const std::vector<int>& mine = ctx->local_experts();
    int64_t first = 0;
    for (int q = 0; q < r; ++q) first += c.tokens_per_rank[q];
    const int64_t T = c.tokens_per_rank[r];
    const size_t H = size_t(c.H), I = size_t(c.I), elem = dtype_size(c.dtype);
    void* x = upload(encode(c.dtype, g.x.data() + first * H, size_t(T) * H));
    void* w_router = upload(encode(c.dtype, g.w_router.data(), g.w_router.size()));
    const auto local = [&](const std::vector<double>& w, size_t per) {
      const std::vector<double> rows = expert_rows(w, mine, per);
      return upload(encode(c.dtype, rows.data(), rows.size()));
    };
    void* w1 = local(g.w1, I * H);
    void* w3 = c.gated ? local(g.w3, I * H) : nullptr;
    void* w2 = local(g.w2, H * I);
    void* out = nullptr;
    int32_t* ids = nullptr;
    if (T > 0) {
      cudaMalloc(&out, size_t(T) * H * elem);
      cudaMalloc(reinterpret_cast<void**>(&ids), size_t(T) * c.k * sizeof(int32_t));
    }
    cudaStream_t stream;
    cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
    RunArgs args;
    args.num_tokens = T;
    args.x = x;
    args.w_router = w_router;
    args.w1 = w1;
    args.w3 = w3;
    args.w2 = w2;
    args.out = out;
    args.topk_ids = ids;
    for (int i = 0; i < repeats && ro.result.ok(); ++i) {
      if (out) cudaMemsetAsync(out, 0xFF, size_t(T) * H * elem, stream);  // NaN in every dtype
      if (r == silent_rank) break;
      ro.result = ctx->run(args, stream);
      if (ro.result.ok()) ro.result = ctx->synchronize_and_check(stream, &ro.traffic);
      std::vector<uint8_t> bytes(size_t(T) * H * elem);
      if (T > 0) cudaMemcpy(bytes.data(), out, bytes.size(), cudaMemcpyDeviceToHost);
      ro.out_per_repeat.push_back(std::move(bytes));
    }
    if (T > 0) {
      ro.topk_ids.resize(size_t(T) * c.k);
      cudaMemcpy(ro.topk_ids.data(), ids, ro.topk_ids.size() * sizeof(int32_t), cudaMemcpyDeviceToHost);
    }
    cudaStreamSynchronize(stream);
    ctx.reset();  // collective: every rank's thread gets here
    cudaStreamDestroy(stream);
    for (void* p : {x, w_router, w1, w3, w2, out, static_cast<void*>(ids)}) cudaFree(p);
  });
  return results;
}

// The one-GPU output of the whole problem (Context on device 0), as bytes.
Result run_one_gpu(const GlobalProblem& g, std::vector<uint8_t>* out_bytes) {
  cudaSetDevice(0);
  std::unique_ptr<Context> ctx;
  if (Result r = Context::create(g.shape, g.config, {}, &ctx); !r.ok()) return r;
  const size_t elem = dtype_size(g.config.dtype), n = g.x.size();
  RunArgs args;
  args.num_tokens = g.shape.num_tokens;
  args.x = upload(encode(g.config.dtype, g.x.data(), n));
  args.w_router = upload(encode(g.config.dtype, g.w_router.data(), g.w_router.size()));
  args.w1 = upload(encode(g.config.dtype, g.w1.data(), g.w1.size()));
  args.w3 = g.config.gated ? upload(encode(g.config.dtype, g.w3.data(), g.w3.size())) : nullptr;
  args.w2 = upload(encode(g.config.dtype, g.w2.data(), g.w2.size()));
  cudaMalloc(&args.out, n * elem);
  cudaMemset(args.out, 0xFF, n * elem);
  Result r = ctx->run(args, nullptr);
  if (r.ok()) r = ctx->synchronize_and_check(nullptr);
  out_bytes->resize(n * elem);
  cudaMemcpy(out_bytes->data(), args.out, n * elem, cudaMemcpyDeviceToHost);
  for (const void* p : {args.x, args.w_router, args.w1, args.w3, args.w2, static_cast<const void*>(args.out)})
    cudaFree(const_cast<void*>(p));
  return r;
}

const EpCase kCases[] = {
    {"R2_uneven_T_k2", {300, 1000}, 64, 2, 512, 768},
    {"R2_T0_on_rank1_k8_gated", {777, 0}, 16, 8, 768, 512, DType::kBF16, Fp32Math::kTF32, true, Activation::kSiLU},
    {"R2_skewed_router_k2", {1200, 900}, 32, 2, 512, 512, DType::kBF16, Fp32Math::kTF32, false, Activation::kGELU, 0,
     true},
    {"R2_E_odd_placement_k1_fp16", {513, 129}, 7, 1, 512, 512, DType::kFP16},
    {"R2_user_placement_tf32", {200, 330}, 8, 2, 512, 768, DType::kFP32, Fp32Math::kTF32, false, Activation::kGELU, 0,
     false, {1, 0, 1, 1, 0, 0, 1, 0}},
    {"R2_capacity_1.25", {1500, 400}, 16, 2, 512, 512, DType::kBF16, Fp32Math::kTF32, false, Activation::kGELU, 1.25f},
    // A user placement that leaves rank 1 without experts: it routes, dispatches and combines, and runs no GEMM
    // (nor the GEMM1 warm-up, which would read a weight it does not have).
    {"R2_rank1_holds_no_experts", {128, 64}, 8, 2, 512, 512, DType::kBF16, Fp32Math::kTF32, false, Activation::kGELU,
     0, false, {0, 0, 0, 0, 0, 0, 0, 0}},
    {"R4_uneven_T_with_0_E30_k2", {4097, 0, 300, 1}, 30, 2, 512, 512},
    {"R4_k8_E64_gated", {256, 512, 128, 384}, 64, 8, 1024, 768, DType::kBF16, Fp32Math::kTF32, true,
     Activation::kSiLU},
    {"R4_skewed_k2_E128", {2048, 2048, 2048, 2048}, 128, 2, 2048, 2048, DType::kBF16, Fp32Math::kTF32, false,
     Activation::kGELU, 0, true},
    {"R4_fp32_ffma_k1", {100, 50, 0, 70}, 12, 1, 512, 512, DType::kFP32, Fp32Math::kFFMA},
    {"R4_tf32_E32_T4096_below_max_tokens", {4096, 4096, 4096, 4096}, 32, 2, 2048, 2048, DType::kFP32,
     Fp32Math::kTF32, false, Activation::kGELU, 0, false, {}, 16384},
    {"R1_matches_context", {3000}, 32, 2, 1024, 1024},
    // One rank (run on every 1-GPU machine): capacity drops, k = 8 gated fp16, exact fp32, the decode shape.
    {"R1_capacity_1.25_skewed", {2000}, 16, 2, 512, 512, DType::kBF16, Fp32Math::kTF32, false, Activation::kGELU,
     1.25f, true},
    {"R1_k8_gated_fp16", {700}, 16, 8, 768, 512, DType::kFP16, Fp32Math::kTF32, true, Activation::kSiLU},
    {"R1_fp32_ffma_k1_E12", {300}, 12, 1, 512, 512, DType::kFP32, Fp32Math::kFFMA},
    {"R1_decode_T128_E32", {128}, 32, 2, 2048, 2048},
};

class ExpertParallel : public ::testing::TestWithParam<EpCase> {};

TEST_P(ExpertParallel, MatchesReferenceAndOneGpuBitwise) {
  const EpCase& c = GetParam();
  const int R = int(c.tokens_per_rank.size());
  REQUIRE_GPUS(R);
  const std::vector<int> owner = c.placement.empty() ? contiguous_placement(c.E, R) : c.placement;
  const GlobalProblem g = make_problem(c, owner, /*seed=*/uint64_t(c.E * 1009 + R));
  const std::vector<RankOutput> ranks = run_expert_parallel(c, g, /*repeats=*/3);
  for (int r = 0; r < R; ++r) ASSERT_TRUE(ranks[r].result.ok()) << "rank " << r << ": " << ranks[r].result.message;

  // Reference: the global forward, split per rank.
  std::vector<const double*> x_per_rank;
  int64_t first = 0;
  for (int r = 0; r < R; ++r) {
    x_per_rank.push_back(g.x.data() + first * c.H);
    first += c.tokens_per_rank[r];
  }
  reference::RefConfig rc;
  rc.num_experts = c.E;
  rc.top_k = c.k;
  rc.hidden = c.H;
  rc.intermediate = c.I;
  rc.gated = c.gated;
  rc.activation = c.act == Activation::kReLU   ? reference::RefActivation::kReLU
                  : c.act == Activation::kGELU ? reference::RefActivation::kGELU
                                               : reference::RefActivation::kSiLU;
  rc.capacity_factor = c.capacity_factor;
  const reference::RefWeights rw{g.w_router.data(), g.w1.data(), c.gated ? g.w3.data() : nullptr, g.w2.data()};
  const std::vector<reference::RefOutput> ref = reference::moe_forward_ranks(x_per_rank, c.tokens_per_rank, rw, rc);

  std::vector<uint8_t> all_ranks;
  uint64_t routed_rows = 0, sent_rows = 0;
  for (int r = 0; r < R; ++r) {
    const RankOutput& ro = ranks[r];
    const int64_t T = c.tokens_per_rank[r];
    ASSERT_TRUE(ref[r].ok()) << ref[r].error;
    for (size_t i = 1; i < ro.out_per_repeat.size(); ++i)
      EXPECT_EQ(ro.out_per_repeat[i], ro.out_per_repeat[0]) << "rank " << r << ": repeat " << i << " differs bitwise";
    all_ranks.insert(all_ranks.end(), ro.out_per_repeat[0].begin(), ro.out_per_repeat[0].end());
    sent_rows += ro.traffic.rows_to_peers;
    for (int64_t i = 0; i < T * c.k; ++i)
      if (!ref[r].dropped[i] && owner[ref[r].topk_ids[i]] != r) ++routed_rows;
    if (T == 0) continue;
    std::vector<float> got(size_t(T) * c.H);
    for (size_t i = 0; i < got.size(); ++i) got[i] = decode(c.dtype, &ro.out_per_repeat[0][i * dtype_size(c.dtype)]);
    const std::vector<uint8_t> near_tie = reference::near_tie_tokens(ref[r], 1e-3);
    const reference::CompareResult cmp = reference::compare_rows(got.data(), ref[r].out.data(), T, c.H, near_tie,
                                                                 reference::tolerance_for(check_dtype_of(c)));
    EXPECT_TRUE(cmp.pass) << "rank " << r << ": " << cmp.summary;
    EXPECT_EQ(reference::count_routing_mismatches(ro.topk_ids.data(), ref[r], T, c.k), 0) << "rank " << r;
  }
  // Only routed rows cross the links: each (token, expert on another rank) pair once, dropped pairs never.
  EXPECT_EQ(sent_rows, routed_rows);

  std::vector<uint8_t> one_gpu;
  const Result single = run_one_gpu(g, &one_gpu);
  ASSERT_TRUE(single.ok()) << single.message;
  EXPECT_TRUE(all_ranks == one_gpu) << "the " << R << "-GPU output differs bitwise from the 1-GPU output";
}

INSTANTIATE_TEST_SUITE_P(Cases, ExpertParallel, ::testing::ValuesIn(kCases),
                         [](const auto& info) {
                           std::string s = info.param.name;
                           for (char& ch : s)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

TEST(ExpertParallelFaults, SilentRankGivesTimeoutNamingIt) {
  REQUIRE_GPUS(2);
  const EpCase c{"silent", {256, 256}, 8, 2, 512, 512};
  const GlobalProblem g = make_problem(c, contiguous_placement(8, 2), 5);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<RankOutput> ranks = run_expert_parallel(c, g, 1, /*timeout_ms=*/300, /*silent_rank=*/1);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ranks[0].result.status, Status::kErrorTimeout) << ranks[0].result.message;
  EXPECT_NE(ranks[0].result.message.find("rank 1"), std::string::npos) << ranks[0].result.message;
  EXPECT_LT(seconds, 30.0) << "setup plus a 300 ms bound took too long";
}

// One rank's share of a problem on the device, for the tests below that drive each rank's context directly.
struct RankBuffers {
  void *x = nullptr, *w_router = nullptr, *w1 = nullptr, *w3 = nullptr, *w2 = nullptr, *out = nullptr;
  size_t out_bytes = 0;
  RunArgs args;
  ~RankBuffers() {
    for (void* p : {x, w_router, w1, w3, w2, out}) cudaFree(p);
  }
};

void upload_rank(const EpCase& c, const GlobalProblem& g, const std::vector<int>& mine, int r, RankBuffers* b) {
  int64_t first = 0;
  for (int q = 0; q < r; ++q) first += c.tokens_per_rank[q];
  const int64_t T = c.tokens_per_rank[r];
  const size_t H = size_t(c.H), I = size_t(c.I);
  b->x = upload(encode(c.dtype, g.x.data() + first * H, size_t(T) * H));
  b->w_router = upload(encode(c.dtype, g.w_router.data(), g.w_router.size()));
  const auto local = [&](const std::vector<double>& w, size_t per) {
    const std::vector<double> rows = expert_rows(w, mine, per);
    return upload(encode(c.dtype, rows.data(), rows.size()));
  };
  b->w1 = local(g.w1, I * H);
  b->w3 = c.gated ? local(g.w3, I * H) : nullptr;
  b->w2 = local(g.w2, H * I);
  b->out_bytes = size_t(T) * H * dtype_size(c.dtype);
  if (T > 0) cudaMalloc(&b->out, b->out_bytes);
  b->args.num_tokens = T;
  b->args.x = b->x;
  b->args.w_router = b->w_router;
  b->args.w1 = b->w1;
  b->args.w3 = b->w3;
  b->args.w2 = b->w2;
  b->args.out = b->out;
}

std::vector<uint8_t> download(const RankBuffers& b) {
  std::vector<uint8_t> bytes(b.out_bytes);
  if (!bytes.empty()) cudaMemcpy(bytes.data(), b.out, bytes.size(), cudaMemcpyDeviceToHost);
  return bytes;
}

// Every rank captures its forward in a CUDA graph; 1,000 replays, each on new activations written into the same
// buffers, equal the eager forward on those activations bitwise. The epoch that tags inbox words and output
// stamps comes from device memory, so a replay can never accept the previous replay's words.
TEST(ExpertParallelGraphs, ReplaysMatchEagerBitwise) {
  for (int R : {1, 2}) {
    if (visible_gpus() < R) continue;
    const EpCase c{"graph", std::vector<int64_t>(size_t(R), 192), 16, 2, 512, 512};
    const std::vector<int> owner = contiguous_placement(c.E, R);
    const GlobalProblem g = make_problem(c, owner, 61);
    ncclComm_t* comms = comms_for(R);
    ASSERT_NE(comms, nullptr);
    std::vector<std::string> failures(R);
    on_every_rank(R, [&](int r) {
      DistributedOptions options;
      options.context.max_tokens = 192;
      std::unique_ptr<DistributedContext> ctx;
      Result res = DistributedContext::create(g.shape, g.config, comms[r], options, &ctx);
      if (!res.ok()) return void(failures[r] = res.message);
      RankBuffers b;
      upload_rank(c, g, ctx->local_experts(), r, &b);
      cudaStream_t stream;
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
      cudaGraph_t graph = nullptr;
      cudaGraphExec_t exec = nullptr;
      cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
      res = ctx->run(b.args, stream);
      cudaStreamEndCapture(stream, &graph);
      if (!res.ok() || graph == nullptr || cudaGraphInstantiate(&exec, graph, 0) != cudaSuccess)
        failures[r] = "capture failed: " + res.message;
      const size_t n = size_t(c.tokens_per_rank[r]) * size_t(c.H);
      for (int i = 0; failures[r].empty() && i < 1000; ++i) {
        const std::vector<double> x = uniform(n, 7000 + uint64_t(i) * 16 + uint64_t(r), 1.0);
        const std::vector<uint8_t> bytes = encode(c.dtype, x.data(), n);
        cudaMemcpyAsync(b.x, bytes.data(), bytes.size(), cudaMemcpyHostToDevice, stream);
        cudaMemsetAsync(b.out, 0xFF, b.out_bytes, stream);
        cudaGraphLaunch(exec, stream);
        if (Result rr = ctx->synchronize_and_check(stream); !rr.ok()) failures[r] = "replay: " + rr.message;
        const std::vector<uint8_t> replayed = download(b);
        cudaMemsetAsync(b.out, 0xFF, b.out_bytes, stream);
        if (Result rr = ctx->run(b.args, stream); !rr.ok()) failures[r] = "eager: " + rr.message;
        if (Result rr = ctx->synchronize_and_check(stream); !rr.ok()) failures[r] = "eager: " + rr.message;
        if (failures[r].empty() && download(b) != replayed)
          failures[r] = "replay " + std::to_string(i) + " differs from eager";
      }
      cudaStreamSynchronize(stream);
      if (exec) cudaGraphExecDestroy(exec);
      if (graph) cudaGraphDestroy(graph);
      ctx.reset();  // collective
      cudaStreamDestroy(stream);
    });
    for (int r = 0; r < R; ++r) EXPECT_TRUE(failures[r].empty()) << "R=" << R << " rank " << r << ": " << failures[r];
  }
}

// The routing modes under expert parallelism (the route task is the one-GPU kernel's, on each token's rank):
// grouped top-k with a correction bias, top-k-then-softmax with a scaling factor, and pre-routed ids (each rank
// its own tokens' rows), each bitwise equal to one GPU running every token with the same inputs.
TEST(ExpertParallelRouting, ModesMatchOneGpuBitwise) {
  for (int R : {1, 2}) {
    if (visible_gpus() < R) continue;
    const EpCase c{"routing", std::vector<int64_t>(size_t(R), 160), 32, 4, 512, 512};
    const GlobalProblem base = make_problem(c, contiguous_placement(c.E, R), 73);
    const int64_t T = base.shape.num_tokens;
    std::vector<float> bias(size_t(c.E));
    for (int e = 0; e < c.E; ++e) bias[size_t(e)] = e % 3 == 1 ? 0.1f : 0.f;
    std::vector<int32_t> pre_ids(size_t(T) * c.k);
    std::vector<float> pre_weights(pre_ids.size());
    for (int64_t t = 0; t < T; ++t)
      for (int j = 0; j < c.k; ++j) {
        pre_ids[size_t(t * c.k + j)] = int32_t((t * 7 + j * 5) % c.E);  // distinct: 5j mod 32 for j < 4
        pre_weights[size_t(t * c.k + j)] = 0.25f + 0.125f * float(j);
      }
    for (int mode = 0; mode < 3; ++mode) {
      GlobalProblem g = base;
      g.config.scoring = Scoring::kSigmoid;
      if (mode == 0) {
        g.config.routing = Routing::kGroupedTopK;
        g.config.num_groups = 4;
        g.config.topk_groups = 2;
      } else if (mode == 1) {
        g.config.routing = Routing::kTopKSoftmax;
        g.config.routed_scaling_factor = 2.5f;
      } else {
        g.config.routing = Routing::kPreRouted;
      }
      const auto extra = [&](RunArgs* a, int64_t first, float* d_bias, int32_t* d_ids, float* d_weights) {
        if (mode == 0) a->score_bias = d_bias;
        if (mode == 2) {
          a->w_router = nullptr;
          a->in_topk_ids = d_ids + first * c.k;
          a->in_topk_weights = d_weights + first * c.k;
        }
      };
      // One GPU, every token.
      cudaSetDevice(0);
      std::vector<uint8_t> one;
      {
        std::unique_ptr<Context> ctx;
        ASSERT_TRUE(Context::create(g.shape, g.config, {}, &ctx).ok());
        const size_t elem = dtype_size(g.config.dtype), n = g.x.size();
        RunArgs args;
        args.num_tokens = T;
        args.x = upload(encode(g.config.dtype, g.x.data(), n));
        args.w_router = upload(encode(g.config.dtype, g.w_router.data(), g.w_router.size()));
        args.w1 = upload(encode(g.config.dtype, g.w1.data(), g.w1.size()));
        args.w2 = upload(encode(g.config.dtype, g.w2.data(), g.w2.size()));
        cudaMalloc(&args.out, n * elem);
        float* d_bias = static_cast<float*>(upload(std::vector<uint8_t>(
            reinterpret_cast<const uint8_t*>(bias.data()), reinterpret_cast<const uint8_t*>(bias.data() + bias.size()))));
        int32_t* d_ids = static_cast<int32_t*>(upload(std::vector<uint8_t>(
            reinterpret_cast<const uint8_t*>(pre_ids.data()),
            reinterpret_cast<const uint8_t*>(pre_ids.data() + pre_ids.size()))));
        float* d_weights = static_cast<float*>(upload(std::vector<uint8_t>(
            reinterpret_cast<const uint8_t*>(pre_weights.data()),
            reinterpret_cast<const uint8_t*>(pre_weights.data() + pre_weights.size()))));
        const void* router = args.w_router;
        extra(&args, 0, d_bias, d_ids, d_weights);
        Result r = ctx->run(args, nullptr);
        if (r.ok()) r = ctx->synchronize_and_check(nullptr);
        ASSERT_TRUE(r.ok()) << "mode " << mode << ", one GPU: " << r.message;
        one.resize(n * elem);
        cudaMemcpy(one.data(), args.out, one.size(), cudaMemcpyDeviceToHost);
        for (const void* p : {args.x, router, args.w1, args.w2, static_cast<const void*>(args.out),
                              static_cast<const void*>(d_bias), static_cast<const void*>(d_ids),
                              static_cast<const void*>(d_weights)})
          cudaFree(const_cast<void*>(p));
      }
      // R ranks, each its own tokens.
      ncclComm_t* comms = comms_for(R);
      ASSERT_NE(comms, nullptr);
      std::vector<std::vector<uint8_t>> parts(static_cast<size_t>(R));
      std::vector<std::string> failures(static_cast<size_t>(R));
      on_every_rank(R, [&](int r) {
        DistributedOptions options;
        options.context.max_tokens = 160;
        std::unique_ptr<DistributedContext> ctx;
        Result res = DistributedContext::create(g.shape, g.config, comms[r], options, &ctx);
        if (!res.ok()) return void(failures[size_t(r)] = res.message);
        RankBuffers b;
        upload_rank(c, g, ctx->local_experts(), r, &b);
        float* d_bias = nullptr;
        int32_t* d_ids = nullptr;
        float* d_weights = nullptr;
        cudaMalloc(reinterpret_cast<void**>(&d_bias), bias.size() * sizeof(float));
        cudaMalloc(reinterpret_cast<void**>(&d_ids), pre_ids.size() * sizeof(int32_t));
        cudaMalloc(reinterpret_cast<void**>(&d_weights), pre_weights.size() * sizeof(float));
        cudaMemcpy(d_bias, bias.data(), bias.size() * sizeof(float), cudaMemcpyHostToDevice);
        cudaMemcpy(d_ids, pre_ids.data(), pre_ids.size() * sizeof(int32_t), cudaMemcpyHostToDevice);
        cudaMemcpy(d_weights, pre_weights.data(), pre_weights.size() * sizeof(float), cudaMemcpyHostToDevice);
        extra(&b.args, int64_t(r) * 160, d_bias, d_ids, d_weights);
        res = ctx->run(b.args, nullptr);
        if (res.ok()) res = ctx->synchronize_and_check(nullptr);
        if (!res.ok()) failures[size_t(r)] = res.message;
        parts[size_t(r)] = download(b);
        cudaDeviceSynchronize();
        ctx.reset();  // collective
        cudaFree(d_bias);
        cudaFree(d_ids);
        cudaFree(d_weights);
      });
      std::vector<uint8_t> all;
      for (int r = 0; r < R; ++r) {
        ASSERT_TRUE(failures[size_t(r)].empty()) << "mode " << mode << ", R=" << R << ", rank " << r << ": "
                                                 << failures[size_t(r)];
        all.insert(all.end(), parts[size_t(r)].begin(), parts[size_t(r)].end());
      }
      EXPECT_TRUE(all == one) << "mode " << mode << ": " << R << " ranks differ bitwise from one GPU";
    }
  }
}

// After a forward times out the context is unusable on every path: run() refuses, and a graph captured before the
// failure gives up on the device before touching anything (the output stays poisoned) and reports why.
TEST(ExpertParallelFaults, TimeoutLeavesTheContextUnusableEvenForGraphs) {
  REQUIRE_GPUS(1);
  const EpCase c{"unusable", {256}, 8, 2, 512, 512};
  const GlobalProblem g = make_problem(c, contiguous_placement(8, 1), 67);
  ncclComm_t* comms = comms_for(1);
  ASSERT_NE(comms, nullptr);
  cudaSetDevice(0);
  std::unique_ptr<DistributedContext> ctx;
  ASSERT_TRUE(DistributedContext::create(g.shape, g.config, comms[0], {}, &ctx).ok());
  RankBuffers b;
  upload_rank(c, g, ctx->local_experts(), 0, &b);
  cudaStream_t stream;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  ASSERT_TRUE(ctx->run(b.args, stream).ok());
  ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
  ASSERT_TRUE(ctx->synchronize_and_check(stream).ok()) << "the clean replay";

  ASSERT_TRUE(internal::inject_wait_timeout(*ctx, device::WaitSite::kPlanReady, 1).ok());
  ASSERT_TRUE(ctx->run(b.args, stream).ok());
  const Result failed = ctx->synchronize_and_check(stream);
  EXPECT_EQ(failed.status, Status::kErrorTimeout) << failed.message;
  EXPECT_NE(failed.message.find("unusable"), std::string::npos) << failed.message;

  const Result refused = ctx->run(b.args, stream);
  EXPECT_FALSE(refused.ok());
  EXPECT_FALSE(refused.message.empty());

  cudaMemsetAsync(b.out, 0xFF, b.out_bytes, stream);
  ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
  const Result replayed = ctx->synchronize_and_check(stream);
  EXPECT_FALSE(replayed.ok()) << "a replay on an unusable context reported success";
  const std::vector<uint8_t> out = download(b);
  for (uint8_t byte : out) ASSERT_EQ(byte, 0xFF) << "a replay on an unusable context wrote the output";
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
}

// Ranks that create the context with different shapes (or max_tokens, dtype, placement) all get the same clear
// error from one agreement check, before any collective whose sizes depend on them.
TEST(ExpertParallelFaults, RanksThatDisagreeAreRefusedOnEveryRank) {
  REQUIRE_GPUS(2);
  const EpCase c{"disagree", {128, 128}, 8, 2, 512, 512};
  const GlobalProblem g = make_problem(c, contiguous_placement(8, 2), 71);
  ncclComm_t* comms = comms_for(2);
  ASSERT_NE(comms, nullptr);
  for (const char* field : {"hidden", "max_tokens", "dtype"}) {
    std::vector<Result> results(2);
    on_every_rank(2, [&](int r) {
      MoeShape shape = g.shape;
      MoeConfig config = g.config;
      DistributedOptions options;
      options.context.max_tokens = 128;
      if (r == 1 && std::string(field) == "hidden") shape.hidden = 1024;
      if (r == 1 && std::string(field) == "max_tokens") options.context.max_tokens = 256;
      if (r == 1 && std::string(field) == "dtype") config.dtype = DType::kFP16;
      std::unique_ptr<DistributedContext> ctx;
      results[r] = DistributedContext::create(shape, config, comms[r], options, &ctx);
    });
    for (int r = 0; r < 2; ++r) {
      EXPECT_EQ(results[r].status, Status::kErrorInvalidArgument) << field << ", rank " << r;
      EXPECT_NE(results[r].message.find(field), std::string::npos) << results[r].message;
    }
  }
}

}  // namespace
}  // namespace onemoe
