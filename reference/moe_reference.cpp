#include "reference/moe_reference.h"

#include <algorithm>
#include <cmath>

#include "reference/expert_ffn.h"
#include "reference/router.h"

namespace onemoe::reference {
namespace {

RefOutput failure(std::string why) {
  RefOutput out;
  out.error = "onemoe::reference: " + std::move(why);
  return out;
}

// The whole forward on T rows given by pointer (so ranks' buffers need not be copied into one).
RefOutput forward_rows(const double* const* x_rows, int64_t num_tokens, const RefWeights& weights,
                       const RefConfig& config) {
  RefOutput out;
  if (std::string why = route(x_rows, num_tokens, weights, config, &out); !why.empty()) return failure(why);
  apply_experts(x_rows, num_tokens, weights, config, &out);
  return out;
}

}  // namespace

int64_t expert_capacity(double capacity_factor, int64_t num_tokens, int top_k, int num_experts) {
  if (!(capacity_factor > 0.0)) return -1;
  return static_cast<int64_t>(std::ceil(capacity_factor * static_cast<double>(num_tokens * top_k) / num_experts));
}

std::string validate(const RefConfig& config, const RefWeights& weights, int64_t num_tokens) {
  const auto n = [](int64_t v) { return std::to_string(v); };
  if (num_tokens < 0) return "num_tokens must be >= 0, got " + n(num_tokens);
  if (config.num_experts < 1) return "num_experts must be >= 1, got " + n(config.num_experts);
  if (config.top_k < 1 || config.top_k > config.num_experts) {
    return "top_k must be in [1, num_experts=" + n(config.num_experts) + "], got " + n(config.top_k);
  }
  if (config.hidden < 1 || config.intermediate < 1) {
    return "hidden and intermediate must be >= 1, got " + n(config.hidden) + " and " + n(config.intermediate);
  }
  if (config.scoring != RefScoring::kSoftmax && config.scoring != RefScoring::kSigmoid) return "unknown scoring";
  if (config.activation != RefActivation::kReLU && config.activation != RefActivation::kGELU &&
      config.activation != RefActivation::kSiLU) {
    return "unknown activation";
  }
  if (std::isnan(config.capacity_factor)) return "capacity_factor is NaN";
  if (!weights.w_router || !weights.w1 || !weights.w2) return "w_router, w1 and w2 must not be null";
  if (config.gated && !weights.w3) return "the gated FFN needs w3";
  if (!config.gated && weights.w3) return "w3 must be null for the plain FFN";
  return "";
}

RefOutput moe_forward(const double* x, int64_t num_tokens, const RefWeights& weights, const RefConfig& config) {
  if (std::string why = validate(config, weights, num_tokens); !why.empty()) return failure(why);
  if (num_tokens > 0 && !x) return failure("x is null");
  std::vector<const double*> rows(num_tokens);
  for (int64_t t = 0; t < num_tokens; ++t) rows[t] = x + t * config.hidden;
  return forward_rows(rows.data(), num_tokens, weights, config);
}

std::vector<RefOutput> moe_forward_ranks(const std::vector<const double*>& x_per_rank,
                                         const std::vector<int64_t>& tokens_per_rank, const RefWeights& weights,
                                         const RefConfig& config) {
  const size_t num_ranks = tokens_per_rank.size();
  auto fail = [&](std::string why) { return std::vector<RefOutput>(std::max<size_t>(num_ranks, 1), failure(why)); };
  if (num_ranks == 0) return fail("no ranks given");
  if (x_per_rank.size() != num_ranks) return fail("x_per_rank and tokens_per_rank differ in length");
  std::vector<const double*> rows;
  for (size_t r = 0; r < num_ranks; ++r) {
    const int64_t t_r = tokens_per_rank[r];
    if (t_r < 0) return fail("rank " + std::to_string(r) + " has a negative token count");
    if (t_r > 0 && !x_per_rank[r]) return fail("x of rank " + std::to_string(r) + " is null");
    for (int64_t t = 0; t < t_r; ++t) rows.push_back(x_per_rank[r] + t * config.hidden);
  }
  const int64_t total = static_cast<int64_t>(rows.size());
  if (std::string why = validate(config, weights, total); !why.empty()) return fail(why);

  RefOutput all = forward_rows(rows.data(), total, weights, config);
  if (!all.ok()) return std::vector<RefOutput>(num_ranks, all);

  // Split the global result back into each rank's token range.
  const int64_t k = config.top_k, hidden = config.hidden;
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

}  // namespace onemoe::reference
