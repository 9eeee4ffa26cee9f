#include "reference/expert_ffn.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/fp8.h"
#include "reference/linalg.h"
#include "reference/parallel.h"

namespace onemoe::reference {
namespace {

// Rows per work item. An item reads its expert's weights once, so larger is cheaper on memory;
// smaller spreads a few busy experts over more threads.
constexpr int64_t kRowsPerItem = 64;

struct WorkItem {
  int expert;
  int64_t begin, end;  // range in the expert's list of kept slots (routed) or of tokens (shared)
};

// One FFN's tensors: a routed expert (biases when expert_bias) or a shared expert (never biases).
struct Ffn {
  const double* w1;  // [inter, H]
  const double* w3;  // [inter, H], gated only
  const double* w2;  // [H, inter]
  const double* b1;  // [inter] or null
  const double* b3;  // [inter] or null
  const double* b2;  // [H] or null
  int64_t inter;
};

Ffn routed_ffn(const RefWeights& w, const RefConfig& config, int e) {
  const int64_t hidden = config.hidden, inter = config.intermediate;
  const size_t stride = static_cast<size_t>(hidden) * inter;
  return {w.w1 + e * stride,
          w.w3 ? w.w3 + e * stride : nullptr,
          w.w2 + e * stride,
          w.b1 ? w.b1 + e * inter : nullptr,
          w.b3 ? w.b3 + e * inter : nullptr,
          w.b2 ? w.b2 + e * hidden : nullptr,
          inter};
}

Ffn shared_ffn(const RefWeights& w, const RefConfig& config, int s) {
  const int64_t inter = config.shared_intermediate;
  const size_t stride = static_cast<size_t>(config.hidden) * inter;
  return {w.shared_w1 + s * stride,
          w.shared_w3 ? w.shared_w3 + s * stride : nullptr,
          w.shared_w2 + s * stride,
          nullptr,
          nullptr,
          nullptr,
          inter};
}

// One row of GEMM1 output -> GEMM2 input, in place on gate[inter]: biases, the unit, then (fp8) requantization.
void hidden_unit(const RefConfig& config, const Ffn& f, double* gate, const double* up) {
  for (int64_t i = 0; i < f.inter; ++i) {
    const double u = f.b1 ? gate[i] + f.b1[i] : gate[i];
    if (config.gated) {
      gate[i] = gated_unit(config, u, f.b3 ? up[i] + f.b3[i] : up[i]);
    } else {
      gate[i] = activate(config.activation, u);
    }
  }
  if (config.quant == RefQuant::kFP8E4M3) quantize_row_e4m3(gate, f.inter, gate);
}

// The GEMM1 inputs: the rows themselves, or (fp8) their quantized copies in *storage.
std::vector<const double*> gemm1_inputs(const double* const* rows, int64_t m, const RefConfig& config,
                                        std::vector<double>* storage) {
  std::vector<const double*> in(rows, rows + m);
  if (config.quant != RefQuant::kFP8E4M3) return in;
  const int64_t hidden = config.hidden;
  storage->resize(m * hidden);
  for (int64_t r = 0; r < m; ++r) {
    quantize_row_e4m3(rows[r], hidden, storage->data() + r * hidden);
    in[r] = storage->data() + r * hidden;
  }
  return in;
}

// y[m,H] = FFN of m rows, as GEMMs.
void ffn_rows(const double* const* rows, int64_t m, const Ffn& f, const RefConfig& config, double* y) {
  const int64_t hidden = config.hidden, inter = f.inter;
  std::vector<double> quantized;
  const std::vector<const double*> in = gemm1_inputs(rows, m, config, &quantized);
  std::vector<double> h(m * inter), up;
  gemm_nt(in.data(), m, f.w1, inter, hidden, h.data());
  if (config.gated) {
    up.resize(m * inter);
    gemm_nt(in.data(), m, f.w3, inter, hidden, up.data());
  }
  std::vector<const double*> h_rows(m);
  for (int64_t r = 0; r < m; ++r) {
    hidden_unit(config, f, h.data() + r * inter, config.gated ? up.data() + r * inter : nullptr);
    h_rows[r] = h.data() + r * inter;
  }
  gemm_nt(h_rows.data(), m, f.w2, hidden, inter, y);
  if (f.b2) {
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t c = 0; c < hidden; ++c) y[r * hidden + c] += f.b2[c];
    }
  }
}

// y[H] = FFN of one row, as dot products (the plain definition).
void ffn_row(const double* x_row, const Ffn& f, const RefConfig& config, double* y) {
  const int64_t hidden = config.hidden, inter = f.inter;
  std::vector<double> quantized;
  const double* v = gemm1_inputs(&x_row, 1, config, &quantized)[0];
  std::vector<double> h(inter), up(config.gated ? inter : 0);
  for (int64_t i = 0; i < inter; ++i) {
    h[i] = dot(v, f.w1 + i * hidden, hidden);
    if (config.gated) up[i] = dot(v, f.w3 + i * hidden, hidden);
  }
  hidden_unit(config, f, h.data(), up.data());
  for (int64_t c = 0; c < hidden; ++c) {
    y[c] = dot(h.data(), f.w2 + c * inter, inter);
    if (f.b2) y[c] += f.b2[c];
  }
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

}  // namespace

double activate(RefActivation activation, double v) {
  switch (activation) {
    case RefActivation::kReLU:
      return v > 0.0 ? v : 0.0;
    case RefActivation::kGELU:
      return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    case RefActivation::kSiLU:
      return v / (1.0 + std::exp(-v));
    case RefActivation::kClampedSwiGLU:
      break;  // gated only: validate() rejects it for the plain FFN
  }
  return v;  // unreachable: validate() rejects other values
}

double gated_unit(const RefConfig& config, double gate, double up) {
  if (config.activation != RefActivation::kClampedSwiGLU) return activate(config.activation, gate) * up;
  const double limit = config.swiglu_limit;
  const double g = std::min(gate, limit);
  const double p = std::clamp(up, -limit, limit);
  return g * sigmoid(config.swiglu_alpha * g) * (p + 1.0);
}

void expert_ffn_row(const double* x_row, int expert, const RefWeights& weights, const RefConfig& config, double* y) {
  ffn_row(x_row, routed_ffn(weights, config, expert), config, y);
}

void shared_expert_row(const double* x_row, int shared, const RefWeights& weights, const RefConfig& config, double* y) {
  ffn_row(x_row, shared_ffn(weights, config, shared), config, y);
}

double shared_gate_value(const double* x_row, int shared, const RefWeights& weights, const RefConfig& config) {
  if (!config.shared_expert_gate) return 1.0;
  return sigmoid(dot(x_row, weights.shared_gate + static_cast<size_t>(shared) * config.hidden, config.hidden));
}

void apply_experts(const double* const* x_rows, int64_t num_tokens, const RefWeights& weights, const RefConfig& config,
                   RefOutput* out) {
  const int k = config.top_k, num_shared = config.num_shared_experts;
  const int64_t hidden = config.hidden;

  // Kept slots (t*k + s) of each expert, in token order.
  std::vector<std::vector<int64_t>> slots_of(config.num_experts);
  for (int64_t slot = 0; slot < num_tokens * k; ++slot) {
    if (!out->dropped[slot]) slots_of[out->topk_ids[slot]].push_back(slot);
  }
  std::vector<WorkItem> items;
  for (int e = 0; e < config.num_experts; ++e) {
    const int64_t n = static_cast<int64_t>(slots_of[e].size());
    for (int64_t b = 0; b < n; b += kRowsPerItem) items.push_back({e, b, std::min(n, b + kRowsPerItem)});
  }
  const size_t num_routed_items = items.size();
  for (int s = 0; s < num_shared; ++s) {  // shared expert s on every token
    for (int64_t b = 0; b < num_tokens; b += kRowsPerItem)
      items.push_back({s, b, std::min(num_tokens, b + kRowsPerItem)});
  }

  // y of every kept slot, [T*k, H]; dropped slots stay 0 and are skipped by the combine anyway.
  // y_shared [S, T, H] and each shared expert's gate per token, [S, T].
  std::vector<double> y(num_tokens * k * hidden, 0.0), y_shared(num_shared * num_tokens * hidden);
  std::vector<double> gate(num_shared * num_tokens);
  parallel_for(static_cast<int64_t>(items.size()), [&](int64_t i) {
    const WorkItem& item = items[i];
    const int64_t m = item.end - item.begin;
    std::vector<const double*> rows(m);
    if (static_cast<size_t>(i) >= num_routed_items) {
      const int s = item.expert;
      for (int64_t r = 0; r < m; ++r) {
        rows[r] = x_rows[item.begin + r];
        gate[s * num_tokens + item.begin + r] = shared_gate_value(rows[r], s, weights, config);
      }
      ffn_rows(rows.data(), m, shared_ffn(weights, config, s), config,
               y_shared.data() + (s * num_tokens + item.begin) * hidden);
      return;
    }
    for (int64_t r = 0; r < m; ++r) rows[r] = x_rows[slots_of[item.expert][item.begin + r] / k];
    std::vector<double> y_item(m * hidden);
    ffn_rows(rows.data(), m, routed_ffn(weights, config, item.expert), config, y_item.data());
    for (int64_t r = 0; r < m; ++r) {
      std::copy_n(y_item.data() + r * hidden, hidden, y.data() + slots_of[item.expert][item.begin + r] * hidden);
    }
  });

  // Combine: ascending expert id is the order of the slots within a token; the shared experts follow in order.
  out->out.assign(num_tokens * hidden, 0.0);
  for (int64_t t = 0; t < num_tokens; ++t) {
    double* o = out->out.data() + t * hidden;
    for (int s = 0; s < k; ++s) {
      const int64_t slot = t * k + s;
      if (out->dropped[slot]) continue;
      const double w = out->topk_weights[slot];
      const double* ys = y.data() + slot * hidden;
      for (int64_t c = 0; c < hidden; ++c) o[c] += w * ys[c];
    }
    for (int s = 0; s < num_shared; ++s) {
      const double g = gate[s * num_tokens + t];
      const double* ys = y_shared.data() + (s * num_tokens + t) * hidden;
      for (int64_t c = 0; c < hidden; ++c) o[c] += g * ys[c];
    }
  }
}

}  // namespace onemoe::reference
