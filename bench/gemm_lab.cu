// gemm-lab: the warp-specialized grouped GEMM (src/device/ws_grouped_gemm.cuh) on its own, against cuBLAS's dense
// GEMM of the same size in the same run. It is where the one task pipeline's GEMM engine is built and measured
// before the fused kernels adopt it (docs/design.md): an expert-FFN GEMM over rows grouped by expert in 128-row
// tiles, checked against an fp64 host computation on sampled outputs, with every valid output element
// poisoned first and checked to be written.
//
//   gemm-lab --experts 128 --rows 32768 -N 2048 -K 2048                 GEMM1 of the main shape (GELU)
//   gemm-lab --experts 8 --rows 8192 -N 14336 -K 4096 --gated           Mixtral's GEMM1 (SwiGLU)
//   gemm-lab --quick                                                    small shapes, every variant, checked
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <type_traits>
#include <string>
#include <vector>

#include "bench_common.h"
#include "device/ws_grouped_gemm.cuh"
#include "host/tensor_maps.h"

namespace onemoe {
namespace {

using device::WsGroupedGemmParams;

struct Options {
  std::string dtype = "bf16";
  int experts = 128;
  int64_t rows = 32768;  // routed rows over all experts (T * k)
  int n = 2048, k = 2048;
  bool gated = false;
  std::string act = "gelu";
  int stages = 4;
  int cluster = 1;  // 2: block pairs share each weight tile by TMA multicast
  std::string epilogue = "direct";  // or tma: staged in smem, stored by the copy engine
  bool n_major = false;
  bool skew = false;  // half the rows on the first eighth of the experts
  int warmup = 5, iters = 20;
  bool check = true, quick = false;
  std::string json;
};

int act_code(const std::string& a) {
  if (a == "none") return -1;
  if (a == "relu") return device::kActReLU;
  if (a == "gelu") return device::kActGELU;
  if (a == "silu") return device::kActSiLU;
  return -2;
}

double act_ref(int act, double v) {
  if (act == device::kActReLU) return v > 0 ? v : 0;
  if (act == device::kActGELU) return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
  if (act == device::kActSiLU) return v / (1 + std::exp(-v));
  return v;
}

template <class Elem>
__host__ __device__ Elem to_elem(float v) {
  if constexpr (std::is_same_v<Elem, __nv_bfloat16>) return __float2bfloat16_rn(v);
  else return __float2half_rn(v);
}
template <class Elem>
float from_elem(Elem v) {
  if constexpr (std::is_same_v<Elem, __nv_bfloat16>) return __bfloat162float(v);
  else return __half2float(v);
}

// Uniform values in [-scale, scale) from a hash of (seed, index), drawn on the device: the host draws nothing,
// and downloads what it checks against.
template <class Elem>
__global__ void fill_uniform(Elem* p, size_t n, uint64_t seed, float scale) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + i;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float u = float(z >> 40) * (1.f / 16777216.f);  // [0, 1)
    p[i] = to_elem<Elem>((2.f * u - 1.f) * scale);
  }
}

#define LAB_CUDA(call)                                                                          \
  do {                                                                                          \
    cudaError_t e_ = (call);                                                                    \
    if (e_ != cudaSuccess) {                                                                    \
      std::fprintf(stderr, "gemm-lab: %s failed: %s\n", #call, cudaGetErrorString(e_));         \
      return false;                                                                             \
    }                                                                                           \
  } while (0)

struct Row {
  std::string impl, dtype;
  int experts, n, k, stages, bn, cluster;
  std::string epilogue;
  int64_t rows;
  bool gated, n_major;
  double ms, tflops;
  long long wrong;  // -1: not checked
};

// The rows of each expert, the 128-row tiles that hold them, and the slots: groups of `cluster` row tiles of one
// expert that a cluster takes together (-1 pads an expert's last group).
void plan_tiles(const Options& o, std::vector<int32_t>* tile_expert, std::vector<int32_t>* tile_rows,
                std::vector<int32_t>* slot_m_tile) {
  std::vector<int64_t> per(o.experts, o.rows / o.experts);
  for (int64_t r = 0; r < o.rows % o.experts; ++r) ++per[r];
  if (o.skew) {
    const int hot = std::max(1, o.experts / 8);
    std::fill(per.begin(), per.end(), 0);
    for (int64_t r = 0; r < o.rows; ++r) ++per[r < o.rows / 2 ? r % hot : hot + r % (o.experts - hot)];
  }
  for (int e = 0; e < o.experts; ++e) {
    int in_slot = 0;
    for (int64_t r0 = 0; r0 < per[e]; r0 += device::kTileM) {
      slot_m_tile->push_back(int32_t(tile_expert->size()));
      in_slot = (in_slot + 1) % o.cluster;
      tile_expert->push_back(e);
      tile_rows->push_back(int32_t(std::min<int64_t>(device::kTileM, per[e] - r0)));
    }
    for (; in_slot != 0; in_slot = (in_slot + 1) % o.cluster) slot_m_tile->push_back(-1);
  }
}

template <class Elem, int kBN, int kNumB, int kStages, int kCluster, bool kTmaStore = false>
bool run_variant(const Options& o, std::vector<Row>* rows_out) {
  using G = device::WsGroupedGemm<Elem, kBN, kNumB, kStages, kCluster, kTmaStore>;
  const DType dtype = std::is_same_v<Elem, __nv_bfloat16> ? DType::kBF16 : DType::kFP16;
  std::vector<int32_t> tile_expert, tile_rows, slot_m_tile;
  plan_tiles(o, &tile_expert, &tile_rows, &slot_m_tile);
  const int m_tiles = int(tile_expert.size()), slots = int(slot_m_tile.size()) / kCluster;
  const size_t a_rows = size_t(m_tiles) * device::kTileM, N = size_t(o.n), K = size_t(o.k), E = size_t(o.experts);
  const size_t a_elems = a_rows * K, b_elems = E * N * K;
  std::vector<Elem> a, b[2];  // host copies, for the check only
  Elem *d_a = nullptr, *d_b[2] = {nullptr, nullptr}, *d_c = nullptr;
  int32_t *d_tile_expert = nullptr, *d_tile_rows = nullptr, *d_slot_m_tile = nullptr;
  uint32_t* d_error = nullptr;
  LAB_CUDA(cudaMalloc(&d_a, a_elems * sizeof(Elem)));
  fill_uniform<<<1024, 256>>>(d_a, a_elems, 1, 1.f);
  // Weights of standard deviation ~1/sqrt(K): pre-activations O(1).
  const float w_scale = std::sqrt(3.f / float(K));
  for (int i = 0; i < kNumB; ++i) {
    LAB_CUDA(cudaMalloc(&d_b[i], b_elems * sizeof(Elem)));
    fill_uniform<<<1024, 256>>>(d_b[i], b_elems, 2 + uint64_t(i), w_scale);
  }
  LAB_CUDA(cudaGetLastError());
  if (o.check) {
    a.resize(a_elems);
    LAB_CUDA(cudaMemcpy(a.data(), d_a, a_elems * sizeof(Elem), cudaMemcpyDeviceToHost));
    for (int i = 0; i < kNumB; ++i) {
      b[i].resize(b_elems);
      LAB_CUDA(cudaMemcpy(b[i].data(), d_b[i], b_elems * sizeof(Elem), cudaMemcpyDeviceToHost));
    }
  }
  LAB_CUDA(cudaMalloc(&d_c, a_rows * N * sizeof(Elem)));
  LAB_CUDA(cudaMalloc(&d_tile_expert, m_tiles * sizeof(int32_t)));
  LAB_CUDA(cudaMalloc(&d_tile_rows, m_tiles * sizeof(int32_t)));
  LAB_CUDA(cudaMalloc(&d_error, sizeof(uint32_t)));
  LAB_CUDA(cudaMalloc(&d_slot_m_tile, slot_m_tile.size() * sizeof(int32_t)));
  LAB_CUDA(cudaMemcpy(d_slot_m_tile, slot_m_tile.data(), slot_m_tile.size() * sizeof(int32_t),
                      cudaMemcpyHostToDevice));
  LAB_CUDA(cudaMemcpy(d_tile_expert, tile_expert.data(), m_tiles * sizeof(int32_t), cudaMemcpyHostToDevice));
  LAB_CUDA(cudaMemcpy(d_tile_rows, tile_rows.data(), m_tiles * sizeof(int32_t), cudaMemcpyHostToDevice));
  LAB_CUDA(cudaMemset(d_error, 0, sizeof(uint32_t)));

  WsGroupedGemmParams p{};
  Result r = host::encode_k_major_map(dtype, &p.a, d_a, a_rows, K, device::kTileM, "A");
  for (int i = 0; r.ok() && i < 2; ++i)
    r = host::encode_k_major_map(dtype, &p.b[i], d_b[kNumB == 2 ? i : 0], E * N, K, G::kBSliceRows, "B");
  if (r.ok() && kTmaStore) r = host::encode_store_map(dtype, &p.c_store, d_c, a_rows, N, 64, kBN, "C");
  if (!r.ok()) {
    std::fprintf(stderr, "gemm-lab: %s\n", r.message.c_str());
    return false;
  }
  p.c = d_c;
  p.tile_expert = d_tile_expert;
  p.tile_rows = d_tile_rows;
  p.slot_m_tile = d_slot_m_tile;
  p.slots = slots;
  p.m_tiles = m_tiles;
  p.n = o.n;
  p.k = o.k;
  p.act = act_code(o.act);
  p.n_major = o.n_major;
  p.timeout_ns = 2'000'000'000ull;
  p.error = d_error;

  auto kernel = device::ws_grouped_gemm_kernel<Elem, kBN, kNumB, kStages, kCluster, kTmaStore>;
  LAB_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(G::kSmemBytes)));
  int sms = 0;
  LAB_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const int n_tiles = (o.n + kBN - 1) / kBN;
  const int grid = std::min(sms / kCluster, slots * n_tiles) * kCluster;
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(grid);
  config.blockDim = dim3(device::kWsThreads);
  config.dynamicSmemBytes = G::kSmemBytes;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = kCluster;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  config.attrs = attr;
  config.numAttrs = 1;
  auto launch = [&] { return cudaLaunchKernelEx(&config, kernel, p); };

  long long wrong = -1;
  if (o.check) {
    LAB_CUDA(cudaMemset(d_c, 0xFF, a_rows * N * sizeof(Elem)));  // NaN in both dtypes
    LAB_CUDA(launch());
    LAB_CUDA(cudaDeviceSynchronize());
    std::vector<Elem> c(a_rows * N);
    LAB_CUDA(cudaMemcpy(c.data(), d_c, c.size() * sizeof(Elem), cudaMemcpyDeviceToHost));
    uint32_t err = 0;
    LAB_CUDA(cudaMemcpy(&err, d_error, sizeof(err), cudaMemcpyDeviceToHost));
    if (err != 0) {
      std::fprintf(stderr, "gemm-lab: a pipeline wait timed out (%s)\n", err == 1 ? "producer" : "consumer");
      return false;
    }
    wrong = 0;
    // Every valid element written (no NaN left of the poison); sampled elements against fp64.
    double err2 = 0, ref2 = 0;
    std::mt19937_64 pick(99);
    for (int t = 0; t < m_tiles; ++t) {
      for (int m = 0; m < tile_rows[t]; ++m) {
        const size_t row = size_t(t) * device::kTileM + m;
        for (size_t n = 0; n < N; ++n)
          if (!std::isfinite(from_elem<Elem>(c[row * N + n]))) ++wrong;
        for (int sample = 0; sample < 4; ++sample) {
          const size_t n = pick() % N;
          const size_t brow = size_t(tile_expert[t]) * N + n;
          double acc[2] = {0, 0};
          for (int i = 0; i < kNumB; ++i)
            for (size_t kk = 0; kk < K; ++kk)
              acc[i] += double(from_elem<Elem>(a[row * K + kk])) * double(from_elem<Elem>(b[i][brow * K + kk]));
          double ref = act_ref(p.act, acc[0]);
          if (kNumB == 2) ref *= acc[1];
          const double got = from_elem<Elem>(c[row * N + n]);
          err2 += (got - ref) * (got - ref);
          ref2 += ref * ref;
          if (std::fabs(got - ref) > 2e-2 * std::fabs(ref) + 2e-2) ++wrong;
        }
      }
    }
    const double rel = std::sqrt(err2 / std::max(ref2, 1e-30));
    if (!(rel <= 1e-2)) wrong = std::max(wrong, 1LL);
    std::printf("# check: relative L2 %.3e over sampled outputs, %lld wrong\n", rel, wrong);
  }

  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<double> times;
  for (int i = 0; i < o.warmup + o.iters; ++i) {
    cudaEventRecord(e0);
    launch();
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (i >= o.warmup) times.push_back(ms);
  }
  LAB_CUDA(cudaGetLastError());
  uint32_t timed_error = 0;
  LAB_CUDA(cudaMemcpy(&timed_error, d_error, sizeof(timed_error), cudaMemcpyDeviceToHost));
  if (timed_error != 0) {
    std::fprintf(stderr, "gemm-lab: a pipeline wait timed out during the timed launches\n");
    return false;
  }
  const double ms = bench::percentile(times, 0.5);
  const double flop = 2.0 * double(o.rows) * double(N) * double(K) * kNumB;
  rows_out->push_back({"ws-grouped-gemm", o.dtype, o.experts, o.n, o.k, kStages, kBN, kCluster,
                       kTmaStore ? "tma" : "direct", o.rows, kNumB == 2, o.n_major, ms, flop / ms / 1e9, wrong});

  // cuBLAS on one dense GEMM of the same rows (times kNumB): the rate to compare the pipeline against.
  cublasHandle_t handle;
  if (cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS) {
    const cudaDataType_t t = dtype == DType::kBF16 ? CUDA_R_16BF : CUDA_R_16F;
    const float one = 1.f, zero = 0.f;
    const int rows_dense = int(std::min<size_t>(a_rows, size_t(o.rows)));
    times.clear();
    for (int i = 0; i < o.warmup + o.iters; ++i) {
      cudaEventRecord(e0);
      for (int j = 0; j < kNumB; ++j)
        cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, o.n, rows_dense, o.k, &one, d_b[j], t, o.k, d_a, t, o.k, &zero,
                     d_c, t, o.n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
      cudaEventRecord(e1);
      cudaEventSynchronize(e1);
      float dense_ms = 0;
      cudaEventElapsedTime(&dense_ms, e0, e1);
      if (i >= o.warmup) times.push_back(dense_ms);
    }
    const double dense = bench::percentile(times, 0.5);
    rows_out->push_back({"cublas-dense-same-rows", o.dtype, o.experts, o.n, o.k, 0, 0, 0, "", int64_t(rows_dense),
                         kNumB == 2, false, dense, 2.0 * rows_dense * double(N) * double(K) * kNumB / dense / 1e9, -1});
    cublasDestroy(handle);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  for (void* ptr : {static_cast<void*>(d_a), static_cast<void*>(d_b[0]), static_cast<void*>(d_b[1]),
                    static_cast<void*>(d_c), static_cast<void*>(d_tile_expert), static_cast<void*>(d_tile_rows),
                    static_cast<void*>(d_error), static_cast<void*>(d_slot_m_tile)})
    cudaFree(ptr);
  return true;
}

// The compiled variants: (dtype) x {plain 128x256 tiles, 3 or 4 stages; gated 128x128 tiles, 4 stages}, the
// 4-stage ones also as block pairs sharing the weight tile, and both kinds with the TMA-store epilogue (3 stages).
template <class Elem>
bool run_dtype(const Options& o, std::vector<Row>* rows) {
  if (o.epilogue == "tma")  // 3 stages: the staging buffer takes the fourth stage's smem
    return o.gated ? run_variant<Elem, 128, 2, 3, 1, true>(o, rows) : run_variant<Elem, 256, 1, 3, 1, true>(o, rows);
  if (o.gated) return o.cluster == 2 ? run_variant<Elem, 128, 2, 4, 2>(o, rows) : run_variant<Elem, 128, 2, 4, 1>(o, rows);
  if (o.stages == 3) return run_variant<Elem, 256, 1, 3, 1>(o, rows);
  return o.cluster == 2 ? run_variant<Elem, 256, 1, 4, 2>(o, rows) : run_variant<Elem, 256, 1, 4, 1>(o, rows);
}

bool run_one(const Options& o, std::vector<Row>* rows) {
  if (o.k % 64 != 0 || o.n % 64 != 0 || o.experts < 1 || o.rows < 1) {
    std::fprintf(stderr, "gemm-lab: N and K must be multiples of 64, experts and rows positive\n");
    return false;
  }
  if (act_code(o.act) < -1) {
    std::fprintf(stderr, "gemm-lab: unknown activation '%s' (relu | gelu | silu | none)\n", o.act.c_str());
    return false;
  }
  if (o.dtype == "bf16") return run_dtype<__nv_bfloat16>(o, rows);
  if (o.dtype == "fp16") return run_dtype<__half>(o, rows);
  std::fprintf(stderr, "gemm-lab: unknown dtype '%s' (bf16 | fp16)\n", o.dtype.c_str());
  return false;
}

int run(int argc, char** argv) {
  Options o;
  CLI::App app{"gemm-lab: the warp-specialized grouped expert GEMM against cuBLAS dense, checked and timed"};
  app.add_option("-d,--dtype", o.dtype, "bf16 | fp16")->capture_default_str();
  app.add_option("--experts", o.experts, "experts (groups)")->capture_default_str();
  app.add_option("--rows", o.rows, "routed rows over all experts (T * k)")->capture_default_str();
  app.add_option("-N", o.n, "output columns per expert (multiple of 64)")->capture_default_str();
  app.add_option("-K", o.k, "reduction length (multiple of 64)")->capture_default_str();
  app.add_flag("--gated", o.gated, "two weights: act(A B0) * (A B1), 128x128 tiles");
  app.add_option("--act", o.act, "relu | gelu | silu | none")->capture_default_str();
  app.add_option("--stages", o.stages, "ring stages of the plain kernel: 3 or 4")->capture_default_str();
  app.add_option("--cluster", o.cluster, "1, or 2: block pairs share each weight tile (TMA multicast; 4 stages)")
      ->capture_default_str();
  app.add_option("--epilogue", o.epilogue, "direct (pairs to global) | tma (staged, TMA store; 3 stages, one block)")
      ->capture_default_str();
  app.add_flag("--n-major", o.n_major, "consecutive tiles share a weight tile instead of a row tile");
  app.add_flag("--skew", o.skew, "half the rows on the first eighth of the experts");
  app.add_option("-w,--warmup", o.warmup, "warm-up launches")->capture_default_str();
  app.add_option("-n,--iters", o.iters, "timed launches (median reported)")->capture_default_str();
  app.add_option("-c,--check", o.check, "1: check against fp64 on sampled outputs")->capture_default_str();
  app.add_flag("--quick", o.quick, "small shapes, every variant and dtype, checked (a test)");
  app.add_option("--json", o.json, "write the rows here (bench/results format)");
  CLI11_PARSE(app, argc, argv);
  if (o.stages != 3 && o.stages != 4) {
    std::fprintf(stderr, "gemm-lab: --stages must be 3 or 4\n");
    return 2;
  }
  if ((o.cluster != 1 && o.cluster != 2) || (o.cluster == 2 && o.stages != 4)) {
    std::fprintf(stderr, "gemm-lab: --cluster must be 1 or 2 (2 with 4 stages)\n");
    return 2;
  }
  if (o.epilogue != "direct" && o.epilogue != "tma") {
    std::fprintf(stderr, "gemm-lab: --epilogue must be direct or tma\n");
    return 2;
  }
  if (o.epilogue == "tma" && o.cluster != 1) {
    std::fprintf(stderr, "gemm-lab: --epilogue tma runs with one block (--cluster 1)\n");
    return 2;
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "gemm-lab: no CUDA GPU visible\n");
    return 2;
  }
  std::vector<Row> rows;
  bool ok = true;
  if (o.quick) {
    for (const char* dt : {"bf16", "fp16"})
      for (int variant = 0; variant < 7; ++variant) {
        Options q = o;
        q.dtype = dt;
        q.experts = 5;
        q.rows = 1000;  // tiles with 128 and with fewer valid rows
        q.n = variant == 1 ? 320 : 512;  // 320: a last column tile of 64 valid columns
        q.k = 256;
        q.gated = variant == 2 || variant == 4 || variant == 6;
        q.cluster = variant == 3 || variant == 4 ? 2 : 1;  // 1000 rows over 5 experts: odd tile counts, padded slots
        q.epilogue = variant >= 5 ? "tma" : "direct";
        q.act = q.gated ? "silu" : "gelu";
        q.stages = variant == 1 || variant >= 5 ? 3 : 4;
        q.n_major = variant == 1;
        q.warmup = 1;
        q.iters = 2;
        q.check = true;
        ok = run_one(q, &rows) && ok;
      }
  } else {
    ok = run_one(o, &rows);
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("# gemm-lab on %s\n# %-24s %5s %6s %6s %6s %6s %3s %4s %3s %6s %6s %9s %8s %6s\n", prop.name,
              "impl", "dtype", "E", "rows", "N", "K", "S", "BN", "CL", "epi", "gated", "ms", "TFLOP/s", "#wrong");
  for (const Row& r : rows)
    std::printf("  %-24s %5s %6d %6lld %6d %6d %3d %4d %3d %6s %6d %9.4f %8.1f %6s\n", r.impl.c_str(),
                r.dtype.c_str(), r.experts, (long long)r.rows, r.n, r.k, r.stages, r.bn, r.cluster, r.epilogue.c_str(),
                int(r.gated), r.ms, r.tflops, r.wrong < 0 ? "-" : std::to_string(r.wrong).c_str());
  long long wrong = 0;
  for (const Row& r : rows) wrong += std::max(0LL, r.wrong);
  if (!o.json.empty()) {
    std::ofstream f(o.json);
    f << "{\n  \"tool\": \"gemm-lab\",\n  \"command\": \"gemm-lab";
    for (int i = 1; i < argc; ++i) f << " " << bench::json_escape(argv[i]);
    f << "\",\n  \"commit\": \"" << bench::json_escape(bench::git_commit()) << "\",\n  \"date\": \"" << bench::now_utc()
      << "\",\n  \"gpu\": \"" << bench::json_escape(prop.name) << "\",\n  \"gpus\": 1,\n  \"rows\": [\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      f << "    {\"impl\": \"" << r.impl << "\", \"dtype\": \"" << r.dtype << "\", \"E\": " << r.experts
        << ", \"rows\": " << r.rows << ", \"N\": " << r.n << ", \"K\": " << r.k << ", \"stages\": " << r.stages
        << ", \"bn\": " << r.bn << ", \"cluster\": " << r.cluster << ", \"epilogue\": \"" << r.epilogue
        << "\", \"gated\": " << (r.gated ? "true" : "false")
        << ", \"n_major\": " << (r.n_major ? "true" : "false") << ", \"ranks\": 1, \"ms\": " << r.ms
        << ", \"tflops\": " << r.tflops << ", \"launches_per_forward\": 1, \"wrong\": "
        << (r.wrong < 0 ? std::string("null") : std::to_string(r.wrong)) << "}" << (i + 1 < rows.size() ? ",\n" : "\n");
    }
    f << "  ]\n}\n";
  }
  return ok && wrong == 0 ? 0 : 1;
}

}  // namespace
}  // namespace onemoe

int main(int argc, char** argv) { return onemoe::run(argc, argv); }
