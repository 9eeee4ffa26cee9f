// Expert biases, the clamped SwiGLU and gpt-oss's interleaved layout, by hand and against the HF formula.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "reference/expert_ffn.h"
#include "reference/weight_layouts.h"
#include "tests/reference/small_moe.h"

namespace onemoe::reference {
namespace {

using testing::random_x;
using testing::SmallMoe;

// E=2, k=1, softmax without renormalize; x = [3, -2], router row 0 = [1/3, 0]: logits [1, 0], expert 0 with
// weight e/(e+1) = 0.7310585786300049. Expert 0: w1 = w2 = identity, b1 = [-1, 0.5] -> relu([2, -1.5]) = [2, 0];
// b2 = [10, 20] -> y = [12, 20]. The GEMM2 bias is inside the expert, so it is weighted too.
TEST(FfnVariants, BiasesOnBothGemms) {
  SmallMoe moe(2, 1, 2, 2);
  moe.config.renormalize = false;
  moe.router_at(0, 0) = 1.0 / 3.0;
  moe.set_scaled_identity_expert(0, 1.0);
  moe.enable_expert_bias();
  moe.b1 = {-1.0, 0.5, 0.0, 0.0};
  moe.b2 = {10.0, 20.0, 0.0, 0.0};
  RefOutput o = moe.forward({3.0, -2.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.topk_ids[0], 0);
  EXPECT_NEAR(o.out[0], 0.7310585786300049 * 12.0, 1e-14);
  EXPECT_NEAR(o.out[1], 0.7310585786300049 * 20.0, 1e-14);
}

// Gated SiLU with biases on both GEMM1 halves: w1 = w3 = w2 = identity, b1 = 0, b3 = [1, -1]. x = [3, -2]:
// out = SiLU(x)·(x + b3) = [SiLU(3)·4, SiLU(-2)·(-3)] = [11.430889521869199, 0.7152175321327052].
TEST(FfnVariants, GatedBiasGoesToEachHalf) {
  SmallMoe moe(1, 1, 2, 2, /*gated=*/true);
  moe.config.activation = RefActivation::kSiLU;
  moe.set_scaled_identity_expert(0, 1.0);
  moe.w3_at(0, 0, 0) = moe.w3_at(0, 1, 1) = 1.0;
  moe.enable_expert_bias();
  moe.b3 = {1.0, -1.0};
  RefOutput o = moe.forward({3.0, -2.0});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_NEAR(o.out[0], 11.430889521869199, 1e-14);
  EXPECT_NEAR(o.out[1], 0.7152175321327052, 1e-15);
}

// gpt-oss's unit, alpha 1.702, limit 7: glu = u'·sigmoid(1.702·u')·(p' + 1), u' = min(u, 7), p' = clamp(p, ±7).
// gate = x = [1, 10, -3, 0.5] (10 clamps to 7; -3 is not clamped from below), up = diag(2, 1, -3, -20)·x
// = [2, 10, 9, -10] (10 -> 7, 9 -> 7, -10 -> -7). Values from the formula in Python's float arithmetic.
TEST(FfnVariants, ClampedSwiGLUByHand) {
  SmallMoe moe(1, 1, 4, 4, /*gated=*/true);
  moe.config.activation = RefActivation::kClampedSwiGLU;
  moe.set_scaled_identity_expert(0, 1.0);
  const double up_scale[] = {2.0, 1.0, -3.0, -20.0};
  for (int i = 0; i < 4; ++i) moe.w3_at(0, i, i) = up_scale[i];
  RefOutput o = moe.forward({1.0, 10.0, -3.0, 0.5});
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_NEAR(o.out[0], 2.537387297798464, 1e-14);
  EXPECT_NEAR(o.out[1], 55.99962502642654, 1e-13);
  EXPECT_NEAR(o.out[2], -0.14457047766228776, 1e-15);
  EXPECT_NEAR(o.out[3], -2.102330619638281, 1e-14);

  // No clamp (limit +inf) and alpha 1: glu = SiLU(u)·(p + 1); u = 10, p = 10 gives SiLU(10)·11.
  moe.config.swiglu_limit = INFINITY;
  moe.config.swiglu_alpha = 1.0;
  EXPECT_NEAR(gated_unit(moe.config, 10.0, 10.0), 10.0 / (1.0 + std::exp(-10.0)) * 11.0, 1e-13);
}

// The interleaved layout by hand: E=1, H=2, I=2. gate_up [H=2][2I=4]: row h holds (gate0, up0, gate1, up1).
TEST(FfnVariants, InterleavedGateUpSplitsByColumnParity) {
  const double gate_up[] = {1, 2, 3, 4,   // h = 0
                            5, 6, 7, 8};  // h = 1
  const double gate_up_bias[] = {0.1, 0.2, 0.3, 0.4};
  const double down[] = {9, 10,    // i = 0: (h0, h1)
                         11, 12};  // i = 1
  const double down_bias[] = {0.5, 0.6};
  SplitExperts s = split_interleaved_gate_up(gate_up, gate_up_bias, down, down_bias, 1, 2, 2);
  EXPECT_EQ(s.w1, (std::vector<double>{1, 5, 3, 7}));  // [i][h]: gate i from column 2i
  EXPECT_EQ(s.w3, (std::vector<double>{2, 6, 4, 8}));  // up i from column 2i+1
  EXPECT_EQ(s.b1, (std::vector<double>{0.1, 0.3}));
  EXPECT_EQ(s.b3, (std::vector<double>{0.2, 0.4}));
  EXPECT_EQ(s.w2, (std::vector<double>{9, 11, 10, 12}));  // [h][i]
  EXPECT_EQ(s.b2, (std::vector<double>{0.5, 0.6}));
}

// A whole gpt-oss block computed here the way transformers writes it (x·W, interleaved columns, router bias,
// top-k then softmax, clamped unit, bias after the down projection, then weighted) equals the reference on the
// converted weights.
TEST(FfnVariants, GptOssBlockMatchesTheReference) {
  constexpr int kE = 4, kK = 2, kH = 6, kI = 5, kT = 20;
  std::vector<double> w_router(kE * kH), b_router(kE), gate_up(kE * kH * 2 * kI), gate_up_bias(kE * 2 * kI);
  std::vector<double> down(kE * kI * kH), down_bias(kE * kH);
  fill_uniform(w_router, 81, -1.0, 1.0);
  fill_uniform(b_router, 82, -0.5, 0.5);
  fill_uniform(gate_up, 83, -5.0, 5.0);  // large enough that the limit of 7 binds
  fill_uniform(gate_up_bias, 84, -1.0, 1.0);
  fill_uniform(down, 85, -0.5, 0.5);
  fill_uniform(down_bias, 86, -0.5, 0.5);
  const std::vector<double> x = random_x(kT, kH, 87);

  SplitExperts split =
      split_interleaved_gate_up(gate_up.data(), gate_up_bias.data(), down.data(), down_bias.data(), kE, kH, kI);
  RefConfig config;
  config.num_experts = kE;
  config.top_k = kK;
  config.hidden = kH;
  config.intermediate = kI;
  config.routing = RefRouting::kTopKSoftmax;
  config.gated = true;
  config.activation = RefActivation::kClampedSwiGLU;
  config.expert_bias = true;
  RefWeights w{w_router.data(), split.w1.data(), split.w3.data(), split.w2.data()};
  w.b_router = b_router.data();
  w.b1 = split.b1.data();
  w.b3 = split.b3.data();
  w.b2 = split.b2.data();
  RefOutput o = moe_forward(x.data(), kT, w, config);
  ASSERT_TRUE(o.ok()) << o.error;

  int clamped = 0;
  for (int t = 0; t < kT; ++t) {
    const double* xt = &x[t * kH];
    double logit[kE];
    for (int e = 0; e < kE; ++e) {
      logit[e] = b_router[e];
      for (int h = 0; h < kH; ++h) logit[e] += xt[h] * w_router[e * kH + h];
    }
    int order[kE] = {0, 1, 2, 3};
    std::sort(order, order + kE, [&](int a, int b) { return logit[a] > logit[b]; });
    const double z = std::exp(logit[order[0]]) + std::exp(logit[order[1]]);
    for (int c = 0; c < kH; ++c) {
      double want = 0.0;
      for (int s = 0; s < kK; ++s) {
        const int e = order[s];
        double y = down_bias[e * kH + c];
        for (int i = 0; i < kI; ++i) {
          double g = gate_up_bias[e * 2 * kI + 2 * i], u = gate_up_bias[e * 2 * kI + 2 * i + 1];
          for (int h = 0; h < kH; ++h) {
            g += xt[h] * gate_up[(e * kH + h) * 2 * kI + 2 * i];
            u += xt[h] * gate_up[(e * kH + h) * 2 * kI + 2 * i + 1];
          }
          clamped += g > 7.0 || std::fabs(u) > 7.0;
          g = std::min(g, 7.0);
          u = std::clamp(u, -7.0, 7.0);
          y += (u + 1.0) * (g / (1.0 + std::exp(-1.702 * g))) * down[(e * kI + i) * kH + c];
        }
        want += std::exp(logit[e]) / z * y;
      }
      EXPECT_NEAR(o.out[t * kH + c], want, 1e-12 * (1.0 + std::fabs(want))) << "t=" << t << " c=" << c;
    }
  }
  EXPECT_GT(clamped, 0);  // the limit was exercised
}

TEST(FfnVariants, InvalidCombinationsAreErrors) {
  SmallMoe plain(2, 1, 2, 2);
  plain.config.activation = RefActivation::kClampedSwiGLU;
  EXPECT_NE(plain.forward({1.0, 1.0}).error.find("gated"), std::string::npos);

  SmallMoe gated(2, 1, 2, 2, /*gated=*/true);
  gated.config.activation = RefActivation::kClampedSwiGLU;
  ASSERT_TRUE(gated.forward({1.0, 1.0}).ok());
  gated.config.swiglu_limit = 0.0;
  EXPECT_NE(gated.forward({1.0, 1.0}).error.find("swiglu_limit"), std::string::npos);
  gated.config.swiglu_limit = 7.0;

  gated.enable_expert_bias();
  ASSERT_TRUE(gated.forward({1.0, 1.0}).ok());
  gated.b3.clear();
  EXPECT_NE(gated.forward({1.0, 1.0}).error.find("b3"), std::string::npos);
  plain.config.activation = RefActivation::kReLU;
  plain.b2 = {1.0, 1.0, 1.0, 1.0};  // a bias without expert_bias
  EXPECT_NE(plain.forward({1.0, 1.0}).error.find("expert_bias"), std::string::npos);
}

}  // namespace
}  // namespace onemoe::reference
