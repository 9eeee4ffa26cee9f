#include "reference/routing_modes.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace onemoe::reference {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

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

// The indices 0..n-1 with the `count` best first: larger key wins, equal keys go to the lower index.
std::vector<int32_t> rank_best(const double* key, int n, int count) {
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto better = [key](int32_t a, int32_t b) { return key[a] > key[b] || (key[a] == key[b] && a < b); };
  std::partial_sort(order.begin(), order.begin() + std::min(n, count), order.end(), better);
  return order;
}

// The gap between the k-th and (k+1)-th best of `order` (ranked by key), +inf when there is no (k+1)-th.
double gap_at(const double* key, const std::vector<int32_t>& order, int k) {
  return k == static_cast<int>(order.size()) ? kInf : key[order[k - 1]] - key[order[k]];
}

// Writes the chosen ids ascending and their weights: value[id], divided by their sum (taken in ascending id order)
// when renormalize.
void write_ascending(std::vector<int32_t> chosen, const double* value, bool renormalize, TokenRoute out) {
  std::sort(chosen.begin(), chosen.end());  // combine order: ascending expert id
  double sum = 0.0;
  for (int32_t e : chosen) sum += value[e];
  for (size_t s = 0; s < chosen.size(); ++s) {
    out.ids[s] = chosen[s];
    out.weights[s] = renormalize ? value[chosen[s]] / sum : value[chosen[s]];
  }
}

}  // namespace

void route_top_k(double* logits, const RefConfig& config, TokenRoute out) {
  const int num_experts = config.num_experts, k = config.top_k;
  double* scores = logits;
  score(config.scoring, scores, num_experts);
  const std::vector<int32_t> order = rank_best(scores, num_experts, k + 1);  // the (k+1)-th gives the margin
  *out.margin = gap_at(scores, order, k);
  write_ascending({order.begin(), order.begin() + k}, scores, config.renormalize, out);
}

void route_top_k_softmax(const double* logits, const RefConfig& config, TokenRoute out) {
  const int num_experts = config.num_experts, k = config.top_k;
  const std::vector<int32_t> order = rank_best(logits, num_experts, k + 1);
  *out.margin = gap_at(logits, order, k);
  // Softmax over the k chosen logits only; the best of them is subtracted so exp never overflows.
  const double max_logit = logits[order[0]];
  std::vector<double> e_of(num_experts, 0.0);
  for (int s = 0; s < k; ++s) e_of[order[s]] = std::exp(logits[order[s]] - max_logit);
  write_ascending({order.begin(), order.begin() + k}, e_of.data(), /*renormalize=*/true, out);
}

void route_grouped(double* logits, const double* score_bias, const RefConfig& config, TokenRoute out) {
  const int num_experts = config.num_experts, k = config.top_k;
  const int num_groups = config.num_groups, group_size = num_experts / num_groups;
  double* scores = logits;
  score(config.scoring, scores, num_experts);
  std::vector<double> biased(num_experts);
  for (int e = 0; e < num_experts; ++e) biased[e] = scores[e] + (score_bias ? score_bias[e] : 0.0);

  // A group's score: the sum of its group_score_topk best biased scores, added best first.
  std::vector<double> group_score(num_groups, 0.0);
  for (int g = 0; g < num_groups; ++g) {
    const double* in_group = biased.data() + g * group_size;
    const std::vector<int32_t> best = rank_best(in_group, group_size, config.group_score_topk);
    for (int j = 0; j < config.group_score_topk; ++j) group_score[g] += in_group[best[j]];
  }
  const std::vector<int32_t> group_order = rank_best(group_score.data(), num_groups, config.topk_groups + 1);
  const double group_margin = gap_at(group_score.data(), group_order, config.topk_groups);

  // The candidates: every expert of a chosen group; the rest can never be picked. Ranked among themselves.
  std::vector<int32_t> candidates;
  std::vector<int32_t> chosen_groups(group_order.begin(), group_order.begin() + config.topk_groups);
  std::sort(chosen_groups.begin(), chosen_groups.end());
  for (int32_t g : chosen_groups) {
    for (int j = 0; j < group_size; ++j) candidates.push_back(g * group_size + j);
  }
  std::vector<double> candidate_key(candidates.size());
  for (size_t c = 0; c < candidates.size(); ++c) candidate_key[c] = biased[candidates[c]];
  const int num_candidates = static_cast<int>(candidates.size());
  const std::vector<int32_t> order = rank_best(candidate_key.data(), num_candidates, k + 1);
  // candidates are in ascending expert id, so the lower index breaking a tie is the lower expert id.
  *out.margin = std::min(group_margin, gap_at(candidate_key.data(), order, k));

  std::vector<int32_t> chosen(k);
  for (int s = 0; s < k; ++s) chosen[s] = candidates[order[s]];
  write_ascending(chosen, scores, config.renormalize, out);  // weights: the unbiased scores
}

void route_pre_routed(const int32_t* ids, const double* weights, const RefConfig& config, TokenRoute out) {
  const int k = config.top_k;
  std::vector<int> slot(k);
  std::iota(slot.begin(), slot.end(), 0);
  std::sort(slot.begin(), slot.end(), [ids](int a, int b) { return ids[a] < ids[b]; });  // ids are distinct
  for (int s = 0; s < k; ++s) {
    out.ids[s] = ids[slot[s]];
    out.weights[s] = weights[slot[s]];
  }
  *out.margin = kInf;
}

std::string check_pre_routed(const RefPreRouted& pre_routed, int64_t num_tokens, const RefConfig& config) {
  const int k = config.top_k, num_experts = config.num_experts;
  auto where = [](int64_t t, int s) { return "[token " + std::to_string(t) + ", slot " + std::to_string(s) + "]"; };
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int32_t* ids = pre_routed.topk_ids + t * k;
    const double* weights = pre_routed.topk_weights + t * k;
    for (int s = 0; s < k; ++s) {
      if (ids[s] < 0 || ids[s] >= num_experts) {
        return "pre-routed topk_ids" + where(t, s) + " = " + std::to_string(ids[s]) + " is outside [0, " +
               std::to_string(num_experts) + ")";
      }
      for (int earlier = 0; earlier < s; ++earlier) {
        if (ids[earlier] == ids[s]) {
          return "pre-routed topk_ids" + where(t, s) + " = " + std::to_string(ids[s]) + " repeats slot " +
                 std::to_string(earlier) + " of the same token";
        }
      }
      if (!std::isfinite(weights[s])) return "pre-routed topk_weights" + where(t, s) + " is not finite";
    }
  }
  return "";
}

}  // namespace onemoe::reference
