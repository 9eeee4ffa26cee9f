// Expert stage of the reference: each kept (token, expert) row through its expert's FFN, then the weighted combine.
#pragma once

#include <cstdint>

#include "reference/moe_reference.h"

namespace onemoe::reference {

// act(v) for one value.
double activate(RefActivation activation, double v);

// y[H] = y_e(x_row): one row through expert e's FFN, computed directly (the slow, plain definition).
void expert_ffn_row(const double* x_row, int expert, const RefWeights& weights, const RefConfig& config, double* y);

// Fills out->out [T,H] from the routing already in *out: tokens are grouped by expert so each expert's
// weights are read once per group, then combined per token in ascending expert id.
void apply_experts(const double* const* x_rows, int64_t num_tokens, const RefWeights& weights, const RefConfig& config,
                   RefOutput* out);

}  // namespace onemoe::reference
