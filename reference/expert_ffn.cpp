#include "reference/expert_ffn.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/linalg.h"
#include "reference/parallel.h"

namespace onemoe::reference {
namespace {

// Rows per work item. An item reads its expert's weights once, so larger is cheaper on memory;
// smaller spreads a few busy experts over more threads.
constexpr int64_t kRowsPerItem = 64;

struct WorkItem {
  int expert;
  int64_t begin, end;  // range in the expert's list of kept slots
};

// h[m,I] = act(rows·w1ᵀ) (⊙ rows·w3ᵀ when gated); y[m,H] = h·w2ᵀ.
void expert_ffn_rows(const double* const* rows, int64_t m, int expert, const RefWeights& weights,
                     const RefConfig& config, double* y) {
  const int64_t hidden = config.hidden, inter = config.intermediate;
  const size_t expert_stride = static_cast<size_t>(hidden) * inter;
  std::vector<double> h(m * inter);
  gemm_nt(rows, m, weights.w1 + expert * expert_stride, inter, hidden, h.data());
  for (double& v : h) v = activate(config.activation, v);
  if (config.gated) {
    std::vector<double> up(m * inter);
    gemm_nt(rows, m, weights.w3 + expert * expert_stride, inter, hidden, up.data());
    for (int64_t i = 0; i < m * inter; ++i) h[i] *= up[i];
  }
  std::vector<const double*> h_rows(m);
  for (int64_t r = 0; r < m; ++r) h_rows[r] = h.data() + r * inter;
  gemm_nt(h_rows.data(), m, weights.w2 + expert * expert_stride, hidden, inter, y);
}

}  // namespace

double activate(RefActivation activation, double v) {
  switch (activation) {
    case RefActivation::kReLU:
      return v > 0.0 ? v : 0.0;
    case RefActivation::kGELU:
      return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    case RefActivation::kSiLU:
      return v / (1.0 + std::exp(-v));
  }
  return v;  // unreachable: validate() rejects other values
}

void expert_ffn_row(const double* x_row, int expert, const RefWeights& weights, const RefConfig& config, double* y) {
  const int64_t hidden = config.hidden, inter = config.intermediate;
  const size_t expert_stride = static_cast<size_t>(hidden) * inter;
  std::vector<double> h(inter);
  for (int64_t i = 0; i < inter; ++i) {
    const size_t row = expert * expert_stride + i * hidden;
    h[i] = activate(config.activation, dot(x_row, weights.w1 + row, hidden));
    if (config.gated) h[i] *= dot(x_row, weights.w3 + row, hidden);
  }
  for (int64_t c = 0; c < hidden; ++c) y[c] = dot(h.data(), weights.w2 + expert * expert_stride + c * inter, inter);
}

void apply_experts(const double* const* x_rows, int64_t num_tokens, const RefWeights& weights, const RefConfig& config,
                   RefOutput* out) {
  const int k = config.top_k;
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

  // y of every kept slot, [T*k, H]; dropped slots stay 0 and are skipped by the combine anyway.
  std::vector<double> y(num_tokens * k * hidden, 0.0);
  parallel_for(static_cast<int64_t>(items.size()), [&](int64_t i) {
    const WorkItem& item = items[i];
    const int64_t m = item.end - item.begin;
    std::vector<const double*> rows(m);
    for (int64_t r = 0; r < m; ++r) rows[r] = x_rows[slots_of[item.expert][item.begin + r] / k];
    std::vector<double> y_item(m * hidden);
    expert_ffn_rows(rows.data(), m, item.expert, weights, config, y_item.data());
    for (int64_t r = 0; r < m; ++r) {
      std::copy_n(y_item.data() + r * hidden, hidden, y.data() + slots_of[item.expert][item.begin + r] * hidden);
    }
  });

  // Combine: ascending expert id is the order of the slots within a token.
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
  }
}

}  // namespace onemoe::reference
