// A tiny MoE whose weights the tests write by hand (owned here; RefWeights only points into it).
#pragma once

#include <vector>

#include "reference/moe_reference.h"

namespace onemoe::reference::testing {

struct SmallMoe {
  RefConfig config;
  std::vector<double> w_router, w1, w3, w2;  // [E,H], [E,I,H], [E,I,H], [E,H,I]

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

  RefWeights weights() const { return {w_router.data(), w1.data(), config.gated ? w3.data() : nullptr, w2.data()}; }

  double& router_at(int e, int h) { return w_router[e * config.hidden + h]; }
  double& w1_at(int e, int i, int h) { return w1[(e * config.intermediate + i) * config.hidden + h]; }
  double& w3_at(int e, int i, int h) { return w3[(e * config.intermediate + i) * config.hidden + h]; }
  double& w2_at(int e, int h, int i) { return w2[(e * config.hidden + h) * config.intermediate + i]; }

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

}  // namespace onemoe::reference::testing
