// One token's routing in each RefRouting mode: which k experts, their weights (before routed_scaling_factor) and
// the margin. Each mode is written out on its own; they share only the ranking helper.
#pragma once

#include <cstdint>
#include <string>

#include "reference/moe_reference.h"

namespace onemoe::reference {

// Where one token's result goes: ids[k] ascending, weights[k] aligned with them, one margin.
struct TokenRoute {
  int32_t* ids;
  double* weights;
  double* margin;
};

// kTopK. logits[E] is overwritten with the scores.
void route_top_k(double* logits, const RefConfig& config, TokenRoute out);

// kTopKSoftmax: top-k of the logits, softmax over the k.
void route_top_k_softmax(const double* logits, const RefConfig& config, TokenRoute out);

// kGroupedTopK. logits[E] is overwritten with the scores; score_bias may be null (zero).
void route_grouped(double* logits, const double* score_bias, const RefConfig& config, TokenRoute out);

// kPreRouted: one token's given ids[k] / weights[k], sorted by ascending id. Assumes check_pre_routed passed.
void route_pre_routed(const int32_t* ids, const double* weights, const RefConfig& config, TokenRoute out);

// Why the T tokens of pre_routed are not a valid routing (an id outside [0, E), an id repeated within a token,
// a non-finite weight), naming the first bad token and slot; "" when valid.
std::string check_pre_routed(const RefPreRouted& pre_routed, int64_t num_tokens, const RefConfig& config);

}  // namespace onemoe::reference
