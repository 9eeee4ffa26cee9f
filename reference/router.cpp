#include "reference/router.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "reference/linalg.h"
#include "reference/parallel.h"
#include "reference/routing_modes.h"

namespace onemoe::reference {

namespace {

// Router GEMM (+ b_router), then the routing mode per token, then routed_scaling_factor. "" or why not.
std::string route_by_router(const double* const* x_rows, int64_t num_tokens, const RefWeights& weights,
                            const RefConfig& config, RefOutput* out) {
  const int num_experts = config.num_experts, k = config.top_k;
  std::vector<double> logits(num_tokens * num_experts);  // [T,E]: logits, then scores in place
  constexpr int64_t kChunk = 64;                         // tokens per work item
  std::atomic<int64_t> first_bad{num_tokens};
  parallel_for((num_tokens + kChunk - 1) / kChunk, [&](int64_t chunk) {
    const int64_t t0 = chunk * kChunk, t1 = std::min(num_tokens, t0 + kChunk);
    gemm_nt(x_rows + t0, t1 - t0, weights.w_router, num_experts, config.hidden, logits.data() + t0 * num_experts);
    for (int64_t t = t0; t < t1; ++t) {
      double* l = logits.data() + t * num_experts;
      if (weights.b_router) {
        for (int e = 0; e < num_experts; ++e) l[e] += weights.b_router[e];
      }
      if (!std::all_of(l, l + num_experts, [](double v) { return std::isfinite(v); })) {
        for (int64_t seen = first_bad.load(); t < seen && !first_bad.compare_exchange_weak(seen, t);) {
        }
        continue;
      }
      const TokenRoute route{&out->topk_ids[t * k], &out->topk_weights[t * k], &out->topk_margin[t]};
      switch (config.routing) {
        case RefRouting::kTopK:
          route_top_k(l, config, route);
          break;
        case RefRouting::kTopKSoftmax:
          route_top_k_softmax(l, config, route);
          break;
        case RefRouting::kGroupedTopK:
          route_grouped(l, weights.score_bias, config, route);
          break;
        case RefRouting::kPreRouted:
          break;  // handled by the caller
      }
      if (config.routed_scaling_factor != 1.0) {
        for (int s = 0; s < k; ++s) route.weights[s] *= config.routed_scaling_factor;
      }
    }
  });
  if (first_bad.load() < num_tokens) {
    return "non-finite router logit for token " + std::to_string(first_bad.load());
  }
  return "";
}

// Capacity: token order, then ascending expert id within the token (the order topk_ids already has).
void apply_capacity(int64_t num_tokens, const RefConfig& config, RefOutput* out) {
  const int num_experts = config.num_experts, k = config.top_k;
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
}

}  // namespace

std::string route(const double* const* x_rows, int64_t num_tokens, const RefWeights& weights, const RefConfig& config,
                  const RefPreRouted& pre_routed, RefOutput* out) {
  const int num_experts = config.num_experts, k = config.top_k;
  out->topk_ids.assign(num_tokens * k, 0);
  out->topk_weights.assign(num_tokens * k, 0.0);
  out->dropped.assign(num_tokens * k, 0);
  out->topk_margin.assign(num_tokens, 0.0);
  out->expert_counts.assign(num_experts, 0);

  if (config.routing == RefRouting::kPreRouted) {
    if (std::string why = check_pre_routed(pre_routed, num_tokens, config); !why.empty()) return why;
    for (int64_t t = 0; t < num_tokens; ++t) {
      route_pre_routed(pre_routed.topk_ids + t * k, pre_routed.topk_weights + t * k, config,
                       {&out->topk_ids[t * k], &out->topk_weights[t * k], &out->topk_margin[t]});
    }
  } else if (std::string why = route_by_router(x_rows, num_tokens, weights, config, out); !why.empty()) {
    return why;
  }
  apply_capacity(num_tokens, config, out);
  return "";
}

}  // namespace onemoe::reference
