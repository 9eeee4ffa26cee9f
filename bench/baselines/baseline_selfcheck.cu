// baseline-selfcheck: runs both pipeline baselines on small random MoE problems (T=37, E=8, k=2, H=I=128)
// for every dtype and checks them against an fp64 CPU computation written here, and against each other.
// Exit status: 0 all PASS, 1 any FAIL, 77 no usable CUDA device.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "baselines/kernel_counter.h"
#include "baselines/pipeline_baseline.h"

using namespace onemoe;
using namespace onemoe::baselines;

namespace {

constexpr int kT = 37, kE = 8, kK = 2, kH = 128, kI = 128;

struct Case {
  DType dtype;
  Fp32Math math;
  Scoring scoring;
  bool renormalize;
  Activation act;
  bool gated;
  float capacity_factor;
};

struct Tolerance {
  double atol, rtol;  // outputs: |gpu - ref| <= atol + rtol * |ref|
  double weight_tol;  // routing weights (TF32 logits are only ~1e-3 accurate)
};

Tolerance tolerance_for(const Case& c) {
  switch (c.dtype) {
    case DType::kBF16:
      return {1e-2, 1e-2, 1e-4};
    case DType::kFP16:
      return {2e-3, 2e-3, 1e-4};
    case DType::kFP32:
      return c.math == Fp32Math::kTF32 ? Tolerance{3e-3, 3e-3, 5e-3} : Tolerance{1e-5, 1e-5, 1e-5};
  }
  return {0, 0, 0};
}

std::string case_label(const Case& c) {
  std::string s = c.dtype == DType::kBF16 ? "bf16" : c.dtype == DType::kFP16 ? "fp16" : "fp32";
  if (c.dtype == DType::kFP32) s += c.math == Fp32Math::kTF32 ? "-tf32" : "-ffma";
  s += c.gated ? " gated" : " plain";
  s += c.scoring == Scoring::kSoftmax ? " softmax" : " sigmoid";
  s += c.renormalize ? " renorm" : " no-renorm";
  s += c.act == Activation::kGELU ? " gelu" : c.act == Activation::kSiLU ? " silu" : " relu";
  s += c.capacity_factor > 0 ? " cf=" + std::to_string(c.capacity_factor).substr(0, 4) : " dropless";
  return s;
}

size_t elem_bytes(DType d) { return d == DType::kFP32 ? 4 : 2; }

double round_to(DType d, double v) {
  switch (d) {
    case DType::kBF16:
      return __bfloat162float(__float2bfloat16_rn(static_cast<float>(v)));
    case DType::kFP16:
      return __half2float(__float2half_rn(static_cast<float>(v)));
    case DType::kFP32:
      return static_cast<float>(v);
  }
  return v;
}

void encode(DType d, double v, uint8_t* dst) {
  if (d == DType::kBF16) {
    const __nv_bfloat16 b = __float2bfloat16_rn(static_cast<float>(v));
    std::memcpy(dst, &b, 2);
  } else if (d == DType::kFP16) {
    const __half h = __float2half_rn(static_cast<float>(v));
    std::memcpy(dst, &h, 2);
  } else {
    const float f = static_cast<float>(v);
    std::memcpy(dst, &f, 4);
  }
}

double decode(DType d, const uint8_t* src) {
  if (d == DType::kBF16) {
    __nv_bfloat16 b;
    std::memcpy(&b, src, 2);
    return __bfloat162float(b);
  }
  if (d == DType::kFP16) {
    __half h;
    std::memcpy(&h, src, 2);
    return __half2float(h);
  }
  float f;
  std::memcpy(&f, src, 4);
  return f;
}

// A tensor as the values the GPU sees (rounded to dtype) plus its bytes on the device.
struct Tensor {
  std::vector<double> val;
  void* dev = nullptr;
  ~Tensor() { cudaFree(dev); }
};

bool make_tensor(DType d, size_t n, double scale, std::mt19937& rng, Tensor* t) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<uint8_t> bytes(n * elem_bytes(d));
  t->val.resize(n);
  for (size_t i = 0; i < n; ++i) {
    t->val[i] = round_to(d, dist(rng) * scale);
    encode(d, t->val[i], bytes.data() + i * elem_bytes(d));
  }
  return cudaMalloc(&t->dev, bytes.size()) == cudaSuccess &&
         cudaMemcpy(t->dev, bytes.data(), bytes.size(), cudaMemcpyHostToDevice) == cudaSuccess;
}

double act_ref(Activation a, double v) {
  if (a == Activation::kReLU) return std::max(v, 0.0);
  if (a == Activation::kGELU) return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
  return v / (1.0 + std::exp(-v));
}

struct Inputs {
  Tensor x, wr, w1, w3, w2;
};

// CPU routing in fp64: ids ascending per token, weights, and the score gap at the k-th pick (near-tie test).
struct CpuRouting {
  std::vector<int> ids;
  std::vector<double> weights;
  std::vector<double> gap;
};

CpuRouting cpu_route(const Case& c, const Inputs& in) {
  CpuRouting r;
  r.ids.resize(kT * kK);
  r.weights.resize(kT * kK);
  r.gap.resize(kT);
  for (int t = 0; t < kT; ++t) {
    std::vector<double> s(kE);
    for (int e = 0; e < kE; ++e) {
      double l = 0;
      for (int h = 0; h < kH; ++h) l += in.x.val[t * kH + h] * in.wr.val[e * kH + h];
      s[e] = l;
    }
    if (c.scoring == Scoring::kSoftmax) {
      const double m = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& v : s) sum += (v = std::exp(v - m));
      for (double& v : s) v /= sum;
    } else {
      for (double& v : s) v = 1.0 / (1.0 + std::exp(-v));
    }
    std::vector<int> order(kE);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return s[a] > s[b]; });
    r.gap[t] = kK < kE ? s[order[kK - 1]] - s[order[kK]] : 1.0;
    std::vector<int> picks(order.begin(), order.begin() + kK);
    std::sort(picks.begin(), picks.end());
    double sum = 0;
    for (int p : picks) sum += s[p];
    for (int j = 0; j < kK; ++j) {
      r.ids[t * kK + j] = picks[j];
      r.weights[t * kK + j] = c.renormalize ? s[picks[j]] / sum : s[picks[j]];
    }
  }
  return r;
}

// The FFN and combine in fp64 for given routing (weight 0 = dropped), rounding what the pipeline stores.
std::vector<double> cpu_forward(const Case& c, const Inputs& in, const std::vector<int>& ids,
                                const std::vector<float>& weights) {
  std::vector<double> out(kT * kH, 0.0), hid(kI);
  for (int t = 0; t < kT; ++t) {
    for (int j = 0; j < kK; ++j) {  // ids ascend: expert order
      const double w = weights[t * kK + j];
      if (w == 0.0) continue;
      const int e = ids[t * kK + j];
      for (int i = 0; i < kI; ++i) {
        double g = 0, u = 0;
        for (int h = 0; h < kH; ++h) {
          const double xv = in.x.val[t * kH + h];
          g += xv * in.w1.val[(static_cast<size_t>(e) * kI + i) * kH + h];
          if (c.gated) u += xv * in.w3.val[(static_cast<size_t>(e) * kI + i) * kH + h];
        }
        const double a = act_ref(c.act, round_to(c.dtype, g));
        hid[i] = round_to(c.dtype, c.gated ? a * round_to(c.dtype, u) : a);
      }
      for (int h = 0; h < kH; ++h) {
        double y = 0;
        for (int i = 0; i < kI; ++i) y += hid[i] * in.w2.val[(static_cast<size_t>(e) * kH + h) * kI + i];
        out[t * kH + h] += w * round_to(c.dtype, y);
      }
    }
  }
  return out;
}

struct GpuResult {
  bool ran = false;
  std::vector<double> out;
  std::vector<int> ids;
  std::vector<float> weights;
};

// Checks one baseline's routing and output; prints one line; returns false on FAIL.
bool check_one(const Case& c, BaselineKind kind, const Inputs& in, const CpuRouting& cpu, GpuResult* result) {
  const char* name = baseline_name(kind);
  const std::string label = case_label(c);
  MoeShape shape{kT, kE, kK, kH, kI};
  MoeConfig config;
  config.dtype = c.dtype;
  config.fp32_math = c.math;
  config.scoring = c.scoring;
  config.renormalize = c.renormalize;
  config.activation = c.act;
  config.gated = c.gated;
  config.capacity_factor = c.capacity_factor;

  std::unique_ptr<PipelineBaseline> base;
  Result r = PipelineBaseline::create(kind, shape, config, &base);
  if (r.status == Status::kErrorNotSupported) {
    std::printf("SKIP %-48s %-22s not supported: %s\n", label.c_str(), name, r.message.c_str());
    return true;
  }
  const size_t out_bytes = static_cast<size_t>(kT) * kH * elem_bytes(c.dtype);
  void* d_out = nullptr;
  int32_t* d_ids = nullptr;
  float* d_w = nullptr;
  auto fail = [&](const std::string& why) {
    std::printf("FAIL %-48s %-22s %s\n", label.c_str(), name, why.c_str());
    cudaFree(d_out);
    cudaFree(d_ids);
    cudaFree(d_w);
    return false;
  };
  if (!r.ok()) return fail("create: " + r.message);
  if (cudaMalloc(&d_out, out_bytes) != cudaSuccess || cudaMalloc(&d_ids, kT * kK * sizeof(int32_t)) != cudaSuccess ||
      cudaMalloc(&d_w, kT * kK * sizeof(float)) != cudaSuccess) {
    return fail("cudaMalloc failed");
  }
  RunArgs args;
  args.num_tokens = kT;
  args.x = in.x.dev;
  args.w_router = in.wr.dev;
  args.w1 = in.w1.dev;
  args.w3 = c.gated ? in.w3.dev : nullptr;
  args.w2 = in.w2.dev;
  args.out = d_out;
  args.topk_ids = d_ids;
  args.topk_weights = d_w;

  // Run twice: the second run is counted with CUPTI and must match the first bit for bit.
  std::vector<uint8_t> first(out_bytes), second(out_bytes);
  r = base->run(args, nullptr);
  if (!r.ok()) return fail("run: " + r.message);
  if (cudaMemcpy(first.data(), d_out, out_bytes, cudaMemcpyDeviceToHost) != cudaSuccess) return fail("run 1 failed");
  if (cudaMemset(d_out, 0xff, out_bytes) != cudaSuccess || cudaDeviceSynchronize() != cudaSuccess) {
    return fail("cudaMemset failed");
  }
  KernelCounter counter;
  const Result counting = counter.start();
  r = base->run(args, nullptr);
  if (!r.ok()) return fail("run: " + r.message);
  std::string launches = "launches=n/a";
  if (counting.ok()) {
    const Result stopped = counter.stop_and_flush();
    if (stopped.ok()) {
      launches = "kernels=" + std::to_string(counter.kernels()) + " memcpys=" + std::to_string(counter.memcpys()) +
                 " memsets=" + std::to_string(counter.memsets());
    } else {
      launches = "launches=n/a (" + stopped.message + ")";
    }
  } else {
    launches = "launches=n/a (" + counting.message + ")";
  }
  const cudaError_t sync = cudaDeviceSynchronize();
  if (sync != cudaSuccess) return fail(std::string("device error: ") + cudaGetErrorString(sync));
  result->ids.resize(kT * kK);
  result->weights.resize(kT * kK);
  if (cudaMemcpy(second.data(), d_out, out_bytes, cudaMemcpyDeviceToHost) != cudaSuccess ||
      cudaMemcpy(result->ids.data(), d_ids, kT * kK * sizeof(int32_t), cudaMemcpyDeviceToHost) != cudaSuccess ||
      cudaMemcpy(result->weights.data(), d_w, kT * kK * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess) {
    return fail("copy back failed");
  }
  cudaFree(d_out);
  cudaFree(d_ids);
  cudaFree(d_w);
  d_out = nullptr;
  d_ids = nullptr;
  d_w = nullptr;
  const bool deterministic = first == second;
  result->out.resize(kT * kH);
  for (int i = 0; i < kT * kH; ++i) result->out[i] = decode(c.dtype, second.data() + i * elem_bytes(c.dtype));
  result->ran = true;

  // Routing: ids as the CPU picks them (a mismatch is allowed only at a near-tie), weights within tolerance,
  // and the drop pattern exactly what capacity gives for these ids in token order.
  const Tolerance tol = tolerance_for(c);
  int routing_wrong = 0, near_ties = 0, dropped = 0;
  const int64_t capacity =
      c.capacity_factor > 0 ? static_cast<int64_t>(std::ceil(static_cast<double>(c.capacity_factor) * (kT * kK) / kE))
                            : -1;
  std::vector<int64_t> seen(kE, 0);
  for (int t = 0; t < kT; ++t) {
    bool same_ids = true;
    for (int j = 0; j < kK; ++j) {
      const int id = result->ids[t * kK + j];
      if (id < 0 || id >= kE || (j > 0 && id <= result->ids[t * kK + j - 1])) ++routing_wrong;
      same_ids = same_ids && id == cpu.ids[t * kK + j];
    }
    if (!same_ids) {
      if (cpu.gap[t] < tol.weight_tol) {
        ++near_ties;
      } else {
        ++routing_wrong;
      }
    }
    for (int j = 0; j < kK; ++j) {
      const int id = result->ids[t * kK + j];
      if (id < 0 || id >= kE) continue;
      const bool keep = capacity < 0 || seen[id]++ < capacity;
      const float w = result->weights[t * kK + j];
      if (!keep) ++dropped;
      if (keep != (w != 0.f)) ++routing_wrong;
      if (keep && same_ids && std::fabs(w - cpu.weights[t * kK + j]) > tol.weight_tol) ++routing_wrong;
    }
  }

  // Output vs the fp64 computation on the routing the GPU chose.
  const std::vector<double> ref = cpu_forward(c, in, result->ids, result->weights);
  int wrong = 0;
  double max_err = 0;
  for (int i = 0; i < kT * kH; ++i) {
    const double err = std::fabs(result->out[i] - ref[i]);
    max_err = std::max(max_err, err);
    if (!(err <= tol.atol + tol.rtol * std::fabs(ref[i]))) ++wrong;
  }
  const bool pass = wrong == 0 && routing_wrong == 0 && deterministic;
  std::printf("%s %-48s %-22s wrong=%d/%d max_err=%.3e routing_wrong=%d near_ties=%d dropped=%d deterministic=%s %s\n",
              pass ? "PASS" : "FAIL", label.c_str(), name, wrong, kT * kH, max_err, routing_wrong, near_ties, dropped,
              deterministic ? "yes" : "NO", launches.c_str());
  return pass;
}

}  // namespace

int main() {
  int devices = 0;
  const cudaError_t err = cudaGetDeviceCount(&devices);
  if (err != cudaSuccess || devices == 0) {
    std::printf("baseline-selfcheck: no usable CUDA device (%s); nothing checked\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "device count is 0");
    return 77;
  }
  cudaDeviceProp prop{};
  const cudaError_t prop_err = cudaGetDeviceProperties(&prop, 0);
  if (prop_err != cudaSuccess) {
    std::printf("baseline-selfcheck: cudaGetDeviceProperties failed (%s)\n", cudaGetErrorString(prop_err));
    return 1;
  }
  std::printf("# baseline-selfcheck T=%d E=%d k=%d H=%d I=%d device=\"%s\" sm_%d%d\n", kT, kE, kK, kH, kI, prop.name,
              prop.major, prop.minor);

  std::vector<Case> cases;
  const std::pair<DType, Fp32Math> types[] = {{DType::kBF16, Fp32Math::kTF32},
                                              {DType::kFP16, Fp32Math::kTF32},
                                              {DType::kFP32, Fp32Math::kTF32},
                                              {DType::kFP32, Fp32Math::kFFMA}};
  for (const auto& [dtype, math] : types) {
    cases.push_back({dtype, math, Scoring::kSoftmax, true, Activation::kGELU, false, 0.0f});
    cases.push_back({dtype, math, Scoring::kSigmoid, false, Activation::kSiLU, true, 1.0f});
    cases.push_back({dtype, math, Scoring::kSoftmax, false, Activation::kReLU, true, 1.25f});
  }

  int failures = 0;
  std::mt19937 rng(20240611);
  for (const Case& c : cases) {
    Inputs in;
    const bool ok = make_tensor(c.dtype, kT * kH, 1.0, rng, &in.x) &&
                    make_tensor(c.dtype, kE * kH, 4.0 / std::sqrt(kH), rng, &in.wr) &&
                    make_tensor(c.dtype, static_cast<size_t>(kE) * kI * kH, std::sqrt(3.0 / kH), rng, &in.w1) &&
                    make_tensor(c.dtype, static_cast<size_t>(kE) * kI * kH, std::sqrt(3.0 / kH), rng, &in.w3) &&
                    make_tensor(c.dtype, static_cast<size_t>(kE) * kH * kI, std::sqrt(3.0 / kI), rng, &in.w2);
    if (!ok) {
      std::printf("FAIL %s: could not allocate or upload inputs\n", case_label(c).c_str());
      ++failures;
      continue;
    }
    const CpuRouting cpu = cpu_route(c, in);
    GpuResult loop, grouped;
    failures += check_one(c, BaselineKind::kPerExpertLoop, in, cpu, &loop) ? 0 : 1;
    failures += check_one(c, BaselineKind::kGroupedGemm, in, cpu, &grouped) ? 0 : 1;
    if (loop.ran && grouped.ran) {
      // The two pipelines must agree with each other as closely as each agrees with the reference.
      const Tolerance tol = tolerance_for(c);
      int wrong = loop.ids == grouped.ids ? 0 : 1;
      double max_diff = 0;
      for (int i = 0; i < kT * kH; ++i) {
        const double d = std::fabs(loop.out[i] - grouped.out[i]);
        max_diff = std::max(max_diff, d);
        if (!(d <= tol.atol + tol.rtol * std::fabs(loop.out[i]))) ++wrong;
      }
      std::printf("%s %-48s %-22s wrong=%d max_diff=%.3e\n", wrong == 0 ? "PASS" : "FAIL", case_label(c).c_str(),
                  "loop-vs-grouped", wrong, max_diff);
      failures += wrong == 0 ? 0 : 1;
    }
  }
  std::printf("%s: %d failure(s)\n", failures == 0 ? "PASS" : "FAIL", failures);
  return failures == 0 ? 0 : 1;
}
