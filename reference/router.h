// Routing stage of the reference: router GEMM, the routing mode (reference/routing_modes.h), the routed scaling
// factor, and capacity dropping.
#pragma once

#include <cstdint>
#include <string>

#include "reference/moe_reference.h"

namespace onemoe::reference {

// Fills topk_ids, topk_weights, dropped, topk_margin and expert_counts of *out for the T tokens x_rows[0..T).
// pre_routed is read only under kPreRouted. Returns "" or why routing failed (a non-finite router logit, a bad
// pre-routed id or weight). Assumes validate() passed.
std::string route(const double* const* x_rows, int64_t num_tokens, const RefWeights& weights, const RefConfig& config,
                  const RefPreRouted& pre_routed, RefOutput* out);

}  // namespace onemoe::reference
