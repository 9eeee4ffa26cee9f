// Expert stage of the reference: each kept (token, expert) row through its expert's FFN, the shared experts on every
// token, then the weighted combine in a fixed order.
#pragma once

#include <cstdint>

#include "reference/moe_reference.h"

namespace onemoe::reference {

// act(v) for one value: kReLU, kGELU, kSiLU. (kClampedSwiGLU is a gated unit: see gated_unit.)
double activate(RefActivation activation, double v);

// The gated FFN's unit on one GEMM1 output pair (gate = u, up = p, biases already added):
// act(u)·p, or for kClampedSwiGLU u'·sigmoid(alpha·u')·(p' + 1) with u' = min(u, limit), p' = clamp(p, ±limit).
double gated_unit(const RefConfig& config, double gate, double up);

// y[H] = y_e(x_row): one row through routed expert e's FFN, computed directly (the slow, plain definition).
void expert_ffn_row(const double* x_row, int expert, const RefWeights& weights, const RefConfig& config, double* y);

// y[H] = y_s(x_row) for shared expert s, without its gate; same plain definition.
void shared_expert_row(const double* x_row, int shared, const RefWeights& weights, const RefConfig& config, double* y);

// g_s(x_row): sigmoid(x_row·shared_gate[s]) when shared_expert_gate, else 1. x_row is not quantized.
double shared_gate_value(const double* x_row, int shared, const RefWeights& weights, const RefConfig& config);

// Fills out->out [T,H] from the routing already in *out: tokens are grouped by expert so each expert's
// weights are read once per group, then combined per token in ascending expert id, then the shared experts in
// order s = 0..S-1.
void apply_experts(const double* const* x_rows, int64_t num_tokens, const RefWeights& weights, const RefConfig& config,
                   RefOutput* out);

}  // namespace onemoe::reference
