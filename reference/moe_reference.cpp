#include "reference/moe_reference.h"

#include <algorithm>
#include <cmath>

#include "reference/expert_ffn.h"
#include "reference/fp8.h"
#include "reference/router.h"
#include "reference/routing_modes.h"

namespace onemoe::reference {
namespace {

const auto n = [](int64_t v) { return std::to_string(v); };

// The shape and router checks of validate().
std::string validate_routing(const RefConfig& config, const RefWeights& weights) {
  const int num_experts = config.num_experts, k = config.top_k;
  if (num_experts < 1) return "num_experts must be >= 1, got " + n(num_experts);
  if (k < 1 || k > num_experts) return "top_k must be in [1, num_experts=" + n(num_experts) + "], got " + n(k);
  if (config.hidden < 1 || config.intermediate < 1) {
    return "hidden and intermediate must be >= 1, got " + n(config.hidden) + " and " + n(config.intermediate);
  }
  if (config.scoring != RefScoring::kSoftmax && config.scoring != RefScoring::kSigmoid) return "unknown scoring";
  if (std::isnan(config.capacity_factor)) return "capacity_factor is NaN";
  if (!std::isfinite(config.routed_scaling_factor)) return "routed_scaling_factor must be finite";
  switch (config.routing) {
    case RefRouting::kTopK:
    case RefRouting::kTopKSoftmax:
      break;
    case RefRouting::kGroupedTopK: {
      const int groups = config.num_groups;
      if (groups < 1 || num_experts % groups != 0) {
        return "num_groups must be >= 1 and divide num_experts=" + n(num_experts) + ", got " + n(groups);
      }
      const int group_size = num_experts / groups;
      if (config.topk_groups < 1 || config.topk_groups > groups) {
        return "topk_groups must be in [1, num_groups=" + n(groups) + "], got " + n(config.topk_groups);
      }
      if (config.group_score_topk < 1 || config.group_score_topk > group_size) {
        return "group_score_topk must be in [1, experts per group=" + n(group_size) + "], got " +
               n(config.group_score_topk);
      }
      if (k > config.topk_groups * group_size) {
        return "top_k=" + n(k) + " exceeds the " + n(config.topk_groups * group_size) +
               " experts of the topk_groups chosen groups";
      }
      break;
    }
    case RefRouting::kPreRouted:
      break;
    default:
      return "unknown routing";
  }
  if (config.routing != RefRouting::kPreRouted && !weights.w_router) return "w_router must not be null";
  if (config.routing != RefRouting::kGroupedTopK && weights.score_bias) {
    return "score_bias is read only by kGroupedTopK routing (use num_groups = topk_groups = 1 for no groups)";
  }
  return "";
}

// The expert FFN, shared expert and fp8 checks of validate().
std::string validate_experts(const RefConfig& config, const RefWeights& weights) {
  const RefActivation act = config.activation;
  if (act != RefActivation::kReLU && act != RefActivation::kGELU && act != RefActivation::kSiLU &&
      act != RefActivation::kClampedSwiGLU) {
    return "unknown activation";
  }
  if (act == RefActivation::kClampedSwiGLU) {
    if (!config.gated) return "kClampedSwiGLU is a gated unit: set gated and give w3";
    if (!std::isfinite(config.swiglu_alpha)) return "swiglu_alpha must be finite";
    if (!(config.swiglu_limit > 0.0)) return "swiglu_limit must be > 0";
  }
  if (!weights.w1 || !weights.w2) return "w1 and w2 must not be null";
  if (config.gated && !weights.w3) return "the gated FFN needs w3";
  if (!config.gated && weights.w3) return "w3 must be null for the plain FFN";
  if (config.expert_bias) {
    if (!weights.b1 || !weights.b2) return "expert_bias needs b1 and b2";
    if (config.gated != (weights.b3 != nullptr)) return "expert_bias needs b3 exactly when the FFN is gated";
  } else if (weights.b1 || weights.b3 || weights.b2) {
    return "b1, b3 and b2 must be null unless expert_bias is set";
  }

  const int shared = config.num_shared_experts;
  if (shared < 0) return "num_shared_experts must be >= 0, got " + n(shared);
  if (shared > 0) {
    if (config.shared_intermediate < 1) return "shared_intermediate must be >= 1, got " + n(config.shared_intermediate);
    if (!weights.shared_w1 || !weights.shared_w2) return "shared experts need shared_w1 and shared_w2";
    if (config.gated != (weights.shared_w3 != nullptr)) return "shared_w3 is needed exactly when the FFN is gated";
    if (config.shared_expert_gate != (weights.shared_gate != nullptr)) {
      return "shared_gate is needed exactly when shared_expert_gate is set";
    }
  } else if (weights.shared_w1 || weights.shared_w3 || weights.shared_w2 || weights.shared_gate ||
             config.shared_expert_gate) {
    return "shared expert weights or shared_expert_gate given, but num_shared_experts is 0";
  }

  if (config.quant != RefQuant::kNone && config.quant != RefQuant::kFP8E4M3) return "unknown quant";
  if (config.quant == RefQuant::kFP8E4M3) {
    const auto multiple = [](int v) { return v % kFp8Block == 0; };
    if (!multiple(config.hidden) || !multiple(config.intermediate) ||
        (shared > 0 && !multiple(config.shared_intermediate))) {
      return "fp8 e4m3 needs hidden, intermediate and shared_intermediate to be multiples of " + n(kFp8Block) +
             " (the scale block), got H=" + n(config.hidden) + " I=" + n(config.intermediate) +
             (shared > 0 ? " Is=" + n(config.shared_intermediate) : std::string());
    }
  }
  return "";
}

RefOutput failure(std::string why) {
  RefOutput out;
  out.error = "onemoe::reference: " + std::move(why);
  return out;
}

// The whole forward on T rows given by pointer (so ranks' buffers need not be copied into one).
RefOutput forward_rows(const double* const* x_rows, int64_t num_tokens, const RefWeights& weights,
                       const RefConfig& config, const RefPreRouted& pre_routed) {
  RefOutput out;
  if (std::string why = route(x_rows, num_tokens, weights, config, pre_routed, &out); !why.empty()) {
    return failure(why);
  }
  apply_experts(x_rows, num_tokens, weights, config, &out);
  return out;
}

// Why pre_routed does not fit (config, T), or "".
std::string check_pre_routed_args(const RefConfig& config, int64_t num_tokens, const RefPreRouted& pre_routed,
                                  bool given) {
  if (config.routing != RefRouting::kPreRouted) {
    return given ? "topk_ids and topk_weights are given, but routing is not kPreRouted" : "";
  }
  if (!given) return "kPreRouted routing needs the caller's topk_ids and topk_weights";
  if (num_tokens > 0 && (!pre_routed.topk_ids || !pre_routed.topk_weights)) {
    return "kPreRouted routing: topk_ids and topk_weights must not be null";
  }
  return "";
}

RefOutput forward(const double* x, int64_t num_tokens, const RefWeights& weights, const RefConfig& config,
                  const RefPreRouted& pre_routed, bool pre_routed_given) {
  if (std::string why = validate(config, weights, num_tokens); !why.empty()) return failure(why);
  if (std::string why = check_pre_routed_args(config, num_tokens, pre_routed, pre_routed_given); !why.empty()) {
    return failure(why);
  }
  if (num_tokens > 0 && !x) return failure("x is null");
  std::vector<const double*> rows(num_tokens);
  for (int64_t t = 0; t < num_tokens; ++t) rows[t] = x + t * config.hidden;
  return forward_rows(rows.data(), num_tokens, weights, config, pre_routed);
}

std::vector<RefOutput> forward_ranks(const std::vector<const double*>& x_per_rank,
                                     const std::vector<int64_t>& tokens_per_rank, const RefWeights& weights,
                                     const RefConfig& config, const std::vector<RefPreRouted>* pre_routed_per_rank) {
  const size_t num_ranks = tokens_per_rank.size();
  auto fail = [&](std::string why) { return std::vector<RefOutput>(std::max<size_t>(num_ranks, 1), failure(why)); };
  if (num_ranks == 0) return fail("no ranks given");
  if (x_per_rank.size() != num_ranks) return fail("x_per_rank and tokens_per_rank differ in length");
  if (pre_routed_per_rank && pre_routed_per_rank->size() != num_ranks) {
    return fail("pre_routed_per_rank and tokens_per_rank differ in length");
  }
  std::vector<const double*> rows;
  for (size_t r = 0; r < num_ranks; ++r) {
    const int64_t t_r = tokens_per_rank[r];
    if (t_r < 0) return fail("rank " + n(r) + " has a negative token count");
    if (t_r > 0 && !x_per_rank[r]) return fail("x of rank " + n(r) + " is null");
    for (int64_t t = 0; t < t_r; ++t) rows.push_back(x_per_rank[r] + t * config.hidden);
  }
  const int64_t total = static_cast<int64_t>(rows.size());
  if (std::string why = validate(config, weights, total); !why.empty()) return fail(why);

  // Pre-routed: each rank's routes are checked on their own (so an error names the rank and its local token),
  // then concatenated in rank order like the rows.
  const int64_t k = config.top_k, hidden = config.hidden;
  std::vector<int32_t> all_ids;
  std::vector<double> all_route_weights;
  for (size_t r = 0; r < num_ranks; ++r) {
    const RefPreRouted routes = pre_routed_per_rank ? (*pre_routed_per_rank)[r] : RefPreRouted{};
    const int64_t t_r = tokens_per_rank[r];
    if (std::string why = check_pre_routed_args(config, t_r, routes, pre_routed_per_rank != nullptr); !why.empty()) {
      return fail("rank " + n(r) + ": " + why);
    }
    if (config.routing != RefRouting::kPreRouted || t_r == 0) continue;
    if (std::string why = check_pre_routed(routes, t_r, config); !why.empty()) return fail("rank " + n(r) + ": " + why);
    all_ids.insert(all_ids.end(), routes.topk_ids, routes.topk_ids + t_r * k);
    all_route_weights.insert(all_route_weights.end(), routes.topk_weights, routes.topk_weights + t_r * k);
  }
  RefOutput all = forward_rows(rows.data(), total, weights, config, {all_ids.data(), all_route_weights.data()});
  if (!all.ok()) return std::vector<RefOutput>(num_ranks, all);

  // Split the global result back into each rank's token range.
  std::vector<RefOutput> per_rank(num_ranks);
  int64_t t0 = 0;
  for (size_t r = 0; r < num_ranks; ++r) {
    const int64_t t1 = t0 + tokens_per_rank[r];
    RefOutput& o = per_rank[r];
    o.out.assign(all.out.begin() + t0 * hidden, all.out.begin() + t1 * hidden);
    o.topk_ids.assign(all.topk_ids.begin() + t0 * k, all.topk_ids.begin() + t1 * k);
    o.topk_weights.assign(all.topk_weights.begin() + t0 * k, all.topk_weights.begin() + t1 * k);
    o.dropped.assign(all.dropped.begin() + t0 * k, all.dropped.begin() + t1 * k);
    o.topk_margin.assign(all.topk_margin.begin() + t0, all.topk_margin.begin() + t1);
    o.expert_counts.assign(config.num_experts, 0);
    for (int64_t slot = t0 * k; slot < t1 * k; ++slot) {
      if (!all.dropped[slot]) ++o.expert_counts[all.topk_ids[slot]];
    }
    t0 = t1;
  }
  return per_rank;
}

}  // namespace

int64_t expert_capacity(double capacity_factor, int64_t num_tokens, int top_k, int num_experts) {
  if (!(capacity_factor > 0.0)) return -1;
  return static_cast<int64_t>(std::ceil(capacity_factor * static_cast<double>(num_tokens * top_k) / num_experts));
}

std::string validate(const RefConfig& config, const RefWeights& weights, int64_t num_tokens) {
  if (num_tokens < 0) return "num_tokens must be >= 0, got " + n(num_tokens);
  if (std::string why = validate_routing(config, weights); !why.empty()) return why;
  return validate_experts(config, weights);
}

RefOutput moe_forward(const double* x, int64_t num_tokens, const RefWeights& weights, const RefConfig& config) {
  return forward(x, num_tokens, weights, config, {}, false);
}

RefOutput moe_forward(const double* x, int64_t num_tokens, const RefWeights& weights, const RefConfig& config,
                      const RefPreRouted& pre_routed) {
  return forward(x, num_tokens, weights, config, pre_routed, true);
}

std::vector<RefOutput> moe_forward_ranks(const std::vector<const double*>& x_per_rank,
                                         const std::vector<int64_t>& tokens_per_rank, const RefWeights& weights,
                                         const RefConfig& config) {
  return forward_ranks(x_per_rank, tokens_per_rank, weights, config, nullptr);
}

std::vector<RefOutput> moe_forward_ranks(const std::vector<const double*>& x_per_rank,
                                         const std::vector<int64_t>& tokens_per_rank, const RefWeights& weights,
                                         const RefConfig& config,
                                         const std::vector<RefPreRouted>& pre_routed_per_rank) {
  return forward_ranks(x_per_rank, tokens_per_rank, weights, config, &pre_routed_per_rank);
}

}  // namespace onemoe::reference
