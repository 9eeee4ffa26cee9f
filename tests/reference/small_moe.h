// A tiny MoE whose weights the tests write by hand (owned here; RefWeights only points into it).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "reference/compare.h"
#include "reference/moe_reference.h"

namespace onemoe::reference::testing {

struct SmallMoe {
  RefConfig config;
  std::vector<double> w_router, w1, w3, w2;  // [E,H], [E,I,H], [E,I,H], [E,H,I]
  // Optional tensors: each is passed to the reference only when non-empty.
  std::vector<double> b_router, score_bias;  // [E], [E]
  std::vector<double> b1, b3, b2;            // [E,I], [E,I] (gated), [E,H]: see enable_expert_bias
  std::vector<double> shared_w1, shared_w3, shared_w2, shared_gate;  // [S,Is,H], [S,Is,H], [S,H,Is], [S,H]

  SmallMoe(int num_experts, int top_k, int hidden, int intermediate, bool gated = false) {
    config.num_experts = num_experts;
    config.top_k = top_k;
    config.hidden = hidden;
    config.intermediate = intermediate;
    config.gated = gated;
    config.activation = RefActivation::kReLU;
    w_router.assign(num_experts * hidden, 0.0);
    w1.assign(num_experts * intermediate * hidden, 0.0);
    w3.assign(gated ? w1.size() : 0, 0.0);
    w2.assign(num_experts * hidden * intermediate, 0.0);
  }

  RefWeights weights() const {
    auto opt = [](const std::vector<double>& v) { return v.empty() ? nullptr : v.data(); };
    RefWeights w{w_router.data(), w1.data(), config.gated ? w3.data() : nullptr, w2.data()};
    w.b_router = opt(b_router);
    w.score_bias = opt(score_bias);
    w.b1 = opt(b1);
    w.b3 = opt(b3);
    w.b2 = opt(b2);
    w.shared_w1 = opt(shared_w1);
    w.shared_w3 = opt(shared_w3);
    w.shared_w2 = opt(shared_w2);
    w.shared_gate = opt(shared_gate);
    return w;
  }

  // Zero biases b1, b2 (and b3 when gated), switched on in the config.
  void enable_expert_bias() {
    config.expert_bias = true;
    b1.assign(config.num_experts * config.intermediate, 0.0);
    b3.assign(config.gated ? b1.size() : 0, 0.0);
    b2.assign(config.num_experts * config.hidden, 0.0);
  }

  // num_shared zero shared experts of intermediate size `inter`, with a zero gate row each when gate is set.
  void add_shared_experts(int num_shared, int inter, bool gate) {
    config.num_shared_experts = num_shared;
    config.shared_intermediate = inter;
    config.shared_expert_gate = gate;
    shared_w1.assign(num_shared * inter * config.hidden, 0.0);
    shared_w3.assign(config.gated ? shared_w1.size() : 0, 0.0);
    shared_w2.assign(shared_w1.size(), 0.0);
    shared_gate.assign(gate ? num_shared * config.hidden : 0, 0.0);
  }

  double& router_at(int e, int h) { return w_router[e * config.hidden + h]; }
  double& w1_at(int e, int i, int h) { return w1[(e * config.intermediate + i) * config.hidden + h]; }
  double& w3_at(int e, int i, int h) { return w3[(e * config.intermediate + i) * config.hidden + h]; }
  double& w2_at(int e, int h, int i) { return w2[(e * config.hidden + h) * config.intermediate + i]; }
  double& shared_w1_at(int s, int i, int h) {
    return shared_w1[(s * config.shared_intermediate + i) * config.hidden + h];
  }
  double& shared_w2_at(int s, int h, int i) {
    return shared_w2[(s * config.hidden + h) * config.shared_intermediate + i];
  }

  // Expert e computes y = scale · act(x) when H == I (w1 = identity, w2 = scale · identity).
  void set_scaled_identity_expert(int e, double scale) {
    for (int i = 0; i < config.intermediate && i < config.hidden; ++i) {
      w1_at(e, i, i) = 1.0;
      w2_at(e, i, i) = scale;
    }
  }

  RefOutput forward(const std::vector<double>& x) const {
    return moe_forward(x.data(), static_cast<int64_t>(x.size()) / config.hidden, weights(), config);
  }
};

// A random MoE: weights uniform in [-scale, scale] with scale = 1/√fan_in so activations stay O(1).
inline SmallMoe random_moe(int num_experts, int top_k, int hidden, int intermediate, bool gated, uint64_t seed) {
  SmallMoe moe(num_experts, top_k, hidden, intermediate, gated);
  fill_uniform(moe.w_router, seed, -1.0, 1.0);
  fill_uniform(moe.w1, seed + 1, -1.0 / std::sqrt(hidden), 1.0 / std::sqrt(hidden));
  fill_uniform(moe.w3, seed + 2, -1.0 / std::sqrt(hidden), 1.0 / std::sqrt(hidden));
  fill_uniform(moe.w2, seed + 3, -1.0 / std::sqrt(intermediate), 1.0 / std::sqrt(intermediate));
  return moe;
}

// Random values in every optional tensor the config has switched on (biases, shared experts and their gates);
// b_router and score_bias when their vectors already have room.
inline void randomize_optional(SmallMoe& moe, uint64_t seed) {
  const int hidden = moe.config.hidden, shared_inter = std::max(1, moe.config.shared_intermediate);
  for (std::vector<double>* v : {&moe.b_router, &moe.score_bias, &moe.b1, &moe.b3, &moe.b2}) {
    fill_uniform(*v, seed++, -0.5, 0.5);
  }
  fill_uniform(moe.shared_w1, seed++, -1.0 / std::sqrt(hidden), 1.0 / std::sqrt(hidden));
  fill_uniform(moe.shared_w3, seed++, -1.0 / std::sqrt(hidden), 1.0 / std::sqrt(hidden));
  fill_uniform(moe.shared_w2, seed++, -1.0 / std::sqrt(shared_inter), 1.0 / std::sqrt(shared_inter));
  fill_uniform(moe.shared_gate, seed++, -1.0, 1.0);
}

inline std::vector<double> random_x(int64_t tokens, int hidden, uint64_t seed) {
  std::vector<double> x(tokens * hidden);
  fill_uniform(x, seed, -1.0, 1.0);
  return x;
}

}  // namespace onemoe::reference::testing
