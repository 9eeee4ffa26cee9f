#include "reference/router.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "reference/linalg.h"
#include "reference/parallel.h"

namespace onemoe::reference {
namespace {

// In place: logits -> scores.
void score(RefScoring scoring, double* v, int n) {
  if (scoring == RefScoring::kSigmoid) {
    for (int e = 0; e < n; ++e) v[e] = 1.0 / (1.0 + std::exp(-v[e]));
    return;
  }
  const double max_logit = *std::max_element(v, v + n);  // subtract the max so exp never overflows
  double sum = 0.0;
  for (int e = 0; e < n; ++e) sum += (v[e] = std::exp(v[e] - max_logit));
  for (int e = 0; e < n; ++e) v[e] /= sum;
}

// Top-k of one token's scores; writes ids (ascending), weights aligned with them, and the margin.
void select_top_k(const double* scores, const RefConfig& config, int32_t* ids, double* weights, double* margin) {
  const int num_experts = config.num_experts, k = config.top_k;
  std::vector<int32_t> order(num_experts);
  std::iota(order.begin(), order.end(), 0);
  auto better = [scores](int32_t a, int32_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); };
  const int ranked = std::min(num_experts, k + 1);  // the (k+1)-th best is needed for the margin
  std::partial_sort(order.begin(), order.begin() + ranked, order.end(), better);
  *margin = k == num_experts ? std::numeric_limits<double>::infinity() : scores[order[k - 1]] - scores[order[k]];

  std::sort(order.begin(), order.begin() + k);  // combine order: ascending expert id
  double sum = 0.0;
  for (int s = 0; s < k; ++s) sum += scores[order[s]];
  for (int s = 0; s < k; ++s) {
    ids[s] = order[s];
    weights[s] = config.renormalize ? scores[order[s]] / sum : scores[order[s]];
  }
}

}  // namespace

std::string route(const double* const* x_rows, int64_t num_tokens, const RefWeights& weights, const RefConfig& config,
                  RefOutput* out) {
  const int num_experts = config.num_experts, k = config.top_k;
  out->topk_ids.assign(num_tokens * k, 0);
  out->topk_weights.assign(num_tokens * k, 0.0);
  out->dropped.assign(num_tokens * k, 0);
  out->topk_margin.assign(num_tokens, 0.0);
  out->expert_counts.assign(num_experts, 0);

  std::vector<double> scores(num_tokens * num_experts);  // [T,E]: logits, then scores in place
  constexpr int64_t kChunk = 64;                         // tokens per work item
  std::atomic<int64_t> first_bad{num_tokens};
  parallel_for((num_tokens + kChunk - 1) / kChunk, [&](int64_t chunk) {
    const int64_t t0 = chunk * kChunk, t1 = std::min(num_tokens, t0 + kChunk);
    gemm_nt(x_rows + t0, t1 - t0, weights.w_router, num_experts, config.hidden, scores.data() + t0 * num_experts);
    for (int64_t t = t0; t < t1; ++t) {
      double* s = scores.data() + t * num_experts;
      if (!std::all_of(s, s + num_experts, [](double v) { return std::isfinite(v); })) {
        for (int64_t seen = first_bad.load(); t < seen && !first_bad.compare_exchange_weak(seen, t);) {
        }
        continue;
      }
      score(config.scoring, s, num_experts);
      select_top_k(s, config, &out->topk_ids[t * k], &out->topk_weights[t * k], &out->topk_margin[t]);
    }
  });
  if (first_bad.load() < num_tokens) {
    return "non-finite router logit for token " + std::to_string(first_bad.load());
  }

  // Capacity: token order, then ascending expert id within the token (the order topk_ids already has).
  const int64_t capacity = expert_capacity(config.capacity_factor, num_tokens, k, num_experts);
  std::vector<int64_t> next_row(num_experts, 0);
  for (int64_t slot = 0; slot < num_tokens * k; ++slot) {
    const int32_t e = out->topk_ids[slot];
    if (capacity >= 0 && next_row[e]++ >= capacity) {
      out->dropped[slot] = 1;
      out->topk_weights[slot] = 0.0;
    } else {
      ++out->expert_counts[e];
    }
  }
  return "";
}

}  // namespace onemoe::reference
