#include "harness/moe_problem.h"

#include "reference/expert_ffn.h"
#include "reference/parallel.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

namespace onemoe::harness {
namespace {

Result cuda_result(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Result::success();
  std::ostringstream os;
  os << what << ": " << cudaGetErrorString(err);
  return Result::error(Status::kErrorCuda, os.str());
}

#define HARNESS_TRY(expr)            \
  do {                               \
    Result r_ = (expr);              \
    if (!r_.ok()) return r_;         \
  } while (0)

Result upload(DType dtype, const std::vector<double>& v, void** d_ptr) {
  if (v.empty()) return Result::success();
  const std::vector<uint8_t> bytes = encode_values(dtype, v.data(), v.size());
  HARNESS_TRY(cuda_result(cudaMalloc(d_ptr, bytes.size()), "cudaMalloc input"));
  return cuda_result(cudaMemcpy(*d_ptr, bytes.data(), bytes.size(), cudaMemcpyHostToDevice), "upload input");
}

// Uniform values of standard deviation `stddev`, rounded to what the dtype holds.
std::vector<double> random_tensor(size_t n, uint64_t seed, double stddev, reference::CheckDType dtype) {
  std::vector<double> v(n);
  const double half_width = stddev * std::sqrt(3.0);
  reference::fill_uniform(v, seed, -half_width, half_width);
  reference::round_all(dtype, v);
  return v;
}

}  // namespace

std::vector<uint8_t> encode_values(DType dtype, const double* v, size_t n) {
  const size_t size = dtype_size(dtype);
  std::vector<uint8_t> bytes(n * size);
  // In chunks on every core: E=128's weights are ~1 G values, seconds of one core per bench row. Each chunk
  // writes its own bytes, so the result does not depend on the thread count.
  constexpr size_t kChunk = size_t(1) << 20;
  reference::parallel_for(int64_t((n + kChunk - 1) / kChunk), [&](int64_t chunk) {
    const size_t end = std::min(n, size_t(chunk + 1) * kChunk);
    for (size_t i = size_t(chunk) * kChunk; i < end; ++i) {
      const float f = float(v[i]);
      uint8_t* out = bytes.data() + size * i;
      if (dtype == DType::kBF16) {
        const __nv_bfloat16 b = __float2bfloat16_rn(f);
        std::memcpy(out, &b, 2);
      } else if (dtype == DType::kFP16) {
        const __half h = __float2half_rn(f);
        std::memcpy(out, &h, 2);
      } else {
        std::memcpy(out, &f, 4);
      }
    }
  });
  return bytes;
}

float decode_value(DType dtype, const uint8_t* p) {
  if (dtype == DType::kBF16) {
    __nv_bfloat16 b;
    std::memcpy(&b, p, 2);
    return __bfloat162float(b);
  }
  if (dtype == DType::kFP16) {
    __half h;
    std::memcpy(&h, p, 2);
    return __half2float(h);
  }
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

reference::CheckDType check_dtype(const MoeConfig& c) {
  switch (c.dtype) {
    case DType::kBF16: return reference::CheckDType::kBF16;
    case DType::kFP16: return reference::CheckDType::kFP16;
    case DType::kFP32: return c.fp32_math == Fp32Math::kTF32 ? reference::CheckDType::kTF32 : reference::CheckDType::kFP32;
  }
  return reference::CheckDType::kFP32;
}

reference::RefConfig reference_config(const MoeShape& s, const MoeConfig& c) {
  reference::RefConfig r;
  r.num_experts = s.num_experts;
  r.top_k = s.top_k;
  r.hidden = s.hidden;
  r.intermediate = s.intermediate;
  r.scoring = c.scoring == Scoring::kSoftmax ? reference::RefScoring::kSoftmax : reference::RefScoring::kSigmoid;
  r.renormalize = c.renormalize;
  r.routing = c.routing == Routing::kTopKSoftmax   ? reference::RefRouting::kTopKSoftmax
              : c.routing == Routing::kGroupedTopK ? reference::RefRouting::kGroupedTopK
              : c.routing == Routing::kPreRouted   ? reference::RefRouting::kPreRouted
                                                   : reference::RefRouting::kTopK;
  r.num_groups = c.num_groups;
  r.topk_groups = c.topk_groups;
  r.group_score_topk = c.group_score_topk;
  r.routed_scaling_factor = c.routed_scaling_factor;
  r.activation = c.activation == Activation::kReLU   ? reference::RefActivation::kReLU
                 : c.activation == Activation::kGELU ? reference::RefActivation::kGELU
                                                     : reference::RefActivation::kSiLU;
  r.gated = c.gated;
  r.capacity_factor = c.capacity_factor;
  return r;
}

std::string CheckReport::summary() const {
  std::ostringstream os;
  os << (pass ? "PASS" : "FAIL") << " tokens=" << checked_tokens << " near_tie_skipped=" << skipped_near_tie_tokens
     << " near_tie_on_device_routing=" << near_tie_checked_on_device_routing
     << " routing_mismatches=" << routing_mismatches << " | " << output.summary;
  return os.str();
}

HostInputs make_inputs(const MoeShape& s, const MoeConfig& c, uint64_t seed) {
  // Input-storage rounding: fp32 data is stored as fp32 even in TF32 mode.
  const reference::CheckDType storage =
      c.dtype == DType::kBF16 ? reference::CheckDType::kBF16
      : c.dtype == DType::kFP16 ? reference::CheckDType::kFP16 : reference::CheckDType::kFP32;
  const size_t T = size_t(s.num_tokens), E = size_t(s.num_experts), H = size_t(s.hidden), I = size_t(s.intermediate);
  HostInputs in;
  // Scales keep pre-activations and outputs O(1): router logits have std ~0.3, GEMM1 outputs ~1.
  in.x = random_tensor(T * H, seed * 7 + 1, 1.0, storage);
  in.w_router = random_tensor(E * H, seed * 7 + 2, 0.3 / std::sqrt(double(H)), storage);
  in.w1 = random_tensor(E * I * H, seed * 7 + 3, 1.0 / std::sqrt(double(H)), storage);
  if (c.gated) in.w3 = random_tensor(E * I * H, seed * 7 + 4, 1.0 / std::sqrt(double(H)), storage);
  in.w2 = random_tensor(E * H * I, seed * 7 + 5, 1.0 / std::sqrt(double(I)), storage);
  return in;
}

std::vector<int64_t> evenly_spaced_tokens(int64_t num_tokens, int64_t max_check_tokens) {
  std::vector<int64_t> tokens;
  if (max_check_tokens > 0 && num_tokens > max_check_tokens) {
    for (int64_t i = 0; i < max_check_tokens; ++i) tokens.push_back(i * num_tokens / max_check_tokens);
  } else {
    for (int64_t t = 0; t < num_tokens; ++t) tokens.push_back(t);
  }
  return tokens;
}

Result check_token_rows(const HostInputs& in, const MoeShape& shape, const MoeConfig& config,
                        const std::vector<int64_t>& tokens, const float* got_rows, const int32_t* got_ids,
                        CheckReport* report, const float* got_weights) {
  const int H = shape.hidden, k = shape.top_k;
  const int64_t n = int64_t(tokens.size());
  const bool dropless = !(config.capacity_factor > 0);
  reference::RefWeights w{in.w_router.data(), in.w1.data(), config.gated ? in.w3.data() : nullptr, in.w2.data()};
  // Dropless: each token's output depends on that token alone, so the reference runs on the subset.
  std::vector<double> x_sub;
  if (dropless) {
    x_sub.resize(size_t(n) * H);
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(&x_sub[size_t(i) * H], &in.x[size_t(tokens[i]) * H], sizeof(double) * H);
  }
  const reference::RefOutput full =
      dropless ? reference::moe_forward(x_sub.data(), n, w, reference_config(shape, config))
               : reference::moe_forward(in.x.data(), shape.num_tokens, w, reference_config(shape, config));
  if (!full.ok()) return Result::error(Status::kErrorInternal, "reference: " + full.error);
  // ref: the reference rows of `tokens`, in that order.
  reference::RefOutput picked;
  const reference::RefOutput* ref = &full;
  if (!dropless) {
    picked.out.resize(size_t(n) * H);
    picked.topk_ids.resize(size_t(n) * k);
    picked.topk_weights.resize(size_t(n) * k);
    picked.dropped.resize(size_t(n) * k);
    picked.topk_margin.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) {
      const size_t t = size_t(tokens[i]);
      std::memcpy(&picked.out[size_t(i) * H], &full.out[t * H], sizeof(double) * H);
      for (int j = 0; j < k; ++j) {
        picked.topk_ids[size_t(i) * k + j] = full.topk_ids[t * k + j];
        picked.topk_weights[size_t(i) * k + j] = full.topk_weights[t * k + j];
        picked.dropped[size_t(i) * k + j] = full.dropped[t * k + j];
      }
      picked.topk_margin[size_t(i)] = full.topk_margin[t];
    }
    picked.expert_counts = full.expert_counts;
    ref = &picked;
  }
  // Tokens whose top-k margin is within rounding may legitimately route differently: their routing is not
  // counted, and their output is compared with the reference on the device's routing where that is known
  // (dropless), else not at all.
  const std::vector<uint8_t> near_tie = reference::near_tie_tokens(*ref, 1e-3);
  report->checked_tokens = n;
  report->routing_mismatches = got_ids ? reference::count_routing_mismatches(got_ids, *ref, n, k, 1e-3) : 0;
  std::vector<uint8_t> skip = near_tie;
  std::vector<double> expected = ref->out;
  report->near_tie_checked_on_device_routing = 0;
  if (dropless && got_ids && got_weights) {
    reference::RefOutput on_device;  // the near-tie tokens, routed as the device routed them
    std::vector<const double*> rows;
    std::vector<int64_t> at;
    for (int64_t i = 0; i < n; ++i) {
      if (!near_tie[size_t(i)]) continue;
      bool valid = true;  // k distinct experts in range, as the device must always report
      for (int j = 0; j < k; ++j) {
        const int32_t e = got_ids[size_t(i) * k + j];
        valid = valid && e >= 0 && e < shape.num_experts;
        for (int j2 = 0; j2 < j; ++j2) valid = valid && got_ids[size_t(i) * k + j2] != e;
      }
      if (!valid) {
        ++report->routing_mismatches;
        continue;
      }
      rows.push_back(&x_sub[size_t(i) * H]);
      at.push_back(i);
      for (int j = 0; j < k; ++j) {
        on_device.topk_ids.push_back(got_ids[size_t(i) * k + j]);
        on_device.topk_weights.push_back(double(got_weights[size_t(i) * k + j]));
        on_device.dropped.push_back(0);
      }
    }
    if (!at.empty()) {
      reference::apply_experts(rows.data(), int64_t(at.size()), w, reference_config(shape, config), &on_device);
      for (size_t j = 0; j < at.size(); ++j) {
        std::memcpy(&expected[size_t(at[j]) * H], &on_device.out[j * H], sizeof(double) * H);
        skip[size_t(at[j])] = 0;
      }
    }
    report->near_tie_checked_on_device_routing = int64_t(at.size());
  }
  report->skipped_near_tie_tokens = 0;
  for (uint8_t b : skip) report->skipped_near_tie_tokens += b;
  report->output = reference::compare_rows(got_rows, expected.data(), n, H, skip,
                                           reference::tolerance_for(check_dtype(config)));
  report->pass = report->output.pass && report->routing_mismatches == 0;
  return Result::success();
}

Result DeviceProblem::create(const MoeShape& s, const MoeConfig& c, uint64_t seed, std::unique_ptr<DeviceProblem>* out) {
  std::unique_ptr<DeviceProblem> p(new DeviceProblem());
  p->shape_ = s;
  p->config_ = c;
  p->in_ = make_inputs(s, c, seed);
  const size_t T = size_t(s.num_tokens), H = size_t(s.hidden);

  HARNESS_TRY(upload(c.dtype, p->in_.x, &p->d_x_));
  HARNESS_TRY(upload(c.dtype, p->in_.w_router, &p->d_w_router_));
  HARNESS_TRY(upload(c.dtype, p->in_.w1, &p->d_w1_));
  HARNESS_TRY(upload(c.dtype, p->in_.w3, &p->d_w3_));
  HARNESS_TRY(upload(c.dtype, p->in_.w2, &p->d_w2_));
  HARNESS_TRY(cuda_result(cudaMalloc(&p->d_out_, T * H * dtype_size(c.dtype)), "cudaMalloc out"));
  HARNESS_TRY(cuda_result(cudaMalloc(reinterpret_cast<void**>(&p->d_topk_ids_), T * s.top_k * sizeof(int32_t)), "cudaMalloc ids"));
  HARNESS_TRY(cuda_result(cudaMalloc(reinterpret_cast<void**>(&p->d_topk_weights_), T * s.top_k * sizeof(float)), "cudaMalloc weights"));
  *out = std::move(p);
  return Result::success();
}

DeviceProblem::~DeviceProblem() {
  for (void* ptr : {d_x_, d_w_router_, d_w1_, d_w3_, d_w2_, d_out_, static_cast<void*>(d_topk_ids_),
                    static_cast<void*>(d_topk_weights_)})
    cudaFree(ptr);
}

RunArgs DeviceProblem::run_args() const {
  RunArgs a;
  a.num_tokens = shape_.num_tokens;
  a.x = d_x_;
  a.w_router = d_w_router_;
  a.w1 = d_w1_;
  a.w3 = config_.gated ? d_w3_ : nullptr;
  a.w2 = d_w2_;
  a.out = d_out_;
  a.topk_ids = d_topk_ids_;
  a.topk_weights = d_topk_weights_;
  return a;
}

Result DeviceProblem::poison_outputs(cudaStream_t stream) {
  const size_t T = size_t(shape_.num_tokens);
  HARNESS_TRY(cuda_result(cudaMemsetAsync(d_out_, 0xFF, T * shape_.hidden * dtype_size(config_.dtype), stream),
                          "poison out"));
  HARNESS_TRY(cuda_result(cudaMemsetAsync(d_topk_ids_, 0xFF, T * shape_.top_k * sizeof(int32_t), stream),
                          "poison ids"));
  return cuda_result(cudaMemsetAsync(d_topk_weights_, 0xFF, T * shape_.top_k * sizeof(float), stream),
                     "poison weights");
}

Result DeviceProblem::set_token_nan(int64_t token) {
  const size_t elem = dtype_size(config_.dtype);
  std::vector<double> nan_row(shape_.hidden, std::nan(""));
  for (int h = 0; h < shape_.hidden; ++h) in_.x[token * shape_.hidden + h] = nan_row[h];
  const std::vector<uint8_t> bytes = encode_values(config_.dtype, nan_row.data(), nan_row.size());
  return cuda_result(cudaMemcpy(static_cast<char*>(d_x_) + token * shape_.hidden * elem, bytes.data(), bytes.size(),
                                cudaMemcpyHostToDevice),
                     "upload NaN row");
}

Result DeviceProblem::redraw_x(uint64_t seed) {
  const reference::CheckDType storage = config_.dtype == DType::kBF16   ? reference::CheckDType::kBF16
                                        : config_.dtype == DType::kFP16 ? reference::CheckDType::kFP16
                                                                        : reference::CheckDType::kFP32;
  in_.x = random_tensor(in_.x.size(), seed * 7 + 1, 1.0, storage);
  const std::vector<uint8_t> bytes = encode_values(config_.dtype, in_.x.data(), in_.x.size());
  return cuda_result(cudaMemcpy(d_x_, bytes.data(), bytes.size(), cudaMemcpyHostToDevice), "upload new x");
}

Result DeviceProblem::set_w1_element(int expert, double value) {
  if (expert < 0 || expert >= shape_.num_experts)
    return Result::error(Status::kErrorInvalidArgument, "set_w1_element: expert out of range");
  const size_t at = size_t(expert) * size_t(shape_.intermediate) * size_t(shape_.hidden);
  in_.w1[at] = value;
  const std::vector<uint8_t> bytes = encode_values(config_.dtype, &value, 1);
  return cuda_result(cudaMemcpy(static_cast<char*>(d_w1_) + at * dtype_size(config_.dtype), bytes.data(), bytes.size(),
                                cudaMemcpyHostToDevice),
                     "upload w1 element");
}

Result DeviceProblem::copy_router_row(int from, int to) {
  const int64_t H = shape_.hidden;
  if (from < 0 || to < 0 || from >= shape_.num_experts || to >= shape_.num_experts)
    return Result::error(Status::kErrorInvalidArgument, "copy_router_row: expert out of range");
  std::copy_n(in_.w_router.begin() + from * H, H, in_.w_router.begin() + to * H);
  const size_t elem = dtype_size(config_.dtype);
  return cuda_result(cudaMemcpy(static_cast<char*>(d_w_router_) + to * H * elem,
                                static_cast<const char*>(d_w_router_) + from * H * elem, H * elem,
                                cudaMemcpyDeviceToDevice),
                     "copy router row");
}

Result DeviceProblem::download_output_bytes(std::vector<uint8_t>* out) const {
  out->resize(size_t(shape_.num_tokens) * shape_.hidden * dtype_size(config_.dtype));
  return cuda_result(cudaMemcpy(out->data(), d_out_, out->size(), cudaMemcpyDeviceToHost), "download out");
}

Result DeviceProblem::download_output(std::vector<float>* out) const {
  std::vector<uint8_t> bytes;
  HARNESS_TRY(download_output_bytes(&bytes));
  const size_t elem = dtype_size(config_.dtype);
  out->resize(bytes.size() / elem);
  for (size_t i = 0; i < out->size(); ++i) (*out)[i] = decode_value(config_.dtype, bytes.data() + i * elem);
  return Result::success();
}

Result DeviceProblem::download_topk_ids(std::vector<int32_t>* out) const {
  out->resize(size_t(shape_.num_tokens) * shape_.top_k);
  return cuda_result(cudaMemcpy(out->data(), d_topk_ids_, out->size() * sizeof(int32_t), cudaMemcpyDeviceToHost),
                     "download ids");
}

Result DeviceProblem::download_topk_weights(std::vector<float>* out) const {
  out->resize(size_t(shape_.num_tokens) * shape_.top_k);
  return cuda_result(cudaMemcpy(out->data(), d_topk_weights_, out->size() * sizeof(float), cudaMemcpyDeviceToHost),
                     "download weights");
}

Result DeviceProblem::check(int64_t max_check_tokens, CheckReport* report) {
  const int H = shape_.hidden, k = shape_.top_k;
  const bool subset = max_check_tokens > 0 && config_.capacity_factor <= 0;
  const std::vector<int64_t> tokens = evenly_spaced_tokens(shape_.num_tokens, subset ? max_check_tokens : 0);
  const int64_t n = int64_t(tokens.size());
  std::vector<float> out_all;
  std::vector<int32_t> ids_all;
  std::vector<float> weights_all;
  HARNESS_TRY(download_output(&out_all));
  HARNESS_TRY(download_topk_ids(&ids_all));
  HARNESS_TRY(download_topk_weights(&weights_all));
  std::vector<float> out(size_t(n) * H);
  std::vector<int32_t> ids(size_t(n) * k);
  std::vector<float> weights(size_t(n) * k);
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(&out[size_t(i) * H], &out_all[size_t(tokens[i]) * H], sizeof(float) * H);
    std::memcpy(&ids[size_t(i) * k], &ids_all[size_t(tokens[i]) * k], sizeof(int32_t) * k);
    std::memcpy(&weights[size_t(i) * k], &weights_all[size_t(tokens[i]) * k], sizeof(float) * k);
  }
  return check_token_rows(in_, shape_, config_, tokens, out.data(), ids.data(), report, weights.data());
}

}  // namespace onemoe::harness
