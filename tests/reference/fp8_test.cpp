// fp8 e4m3: the codec over all 256 codes and its rounding edges, the per-token activation quantizer, the blocked
// weight scales, the reference's fp8 forward by hand, its refusals, and why its tolerance is bf16's.
#include "reference/fp8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "reference/compare.h"
#include "tests/reference/small_moe.h"

namespace onemoe::reference {
namespace {

using testing::random_moe;
using testing::random_x;
using testing::SmallMoe;

// The e4m3 value of a code, spelled out from the format's fields (sign, 4-bit exponent with bias 7, 3-bit mantissa).
double e4m3_value_by_fields(int code) {
  const int sign = code >> 7, exp_field = (code >> 3) & 15, mantissa = code & 7;
  double magnitude;
  if (exp_field == 0) {
    magnitude = mantissa / 512.0;  // m/8 · 2^-6
  } else {
    magnitude = (1.0 + mantissa / 8.0) * std::pow(2.0, exp_field - 7);
  }
  return sign ? -magnitude : magnitude;
}

TEST(Fp8, DecodesKnownCodes) {
  EXPECT_EQ(e4m3_decode(0x00), 0.0);
  EXPECT_TRUE(std::signbit(e4m3_decode(0x80)));  // -0
  EXPECT_EQ(e4m3_decode(0x01), 1.0 / 512);       // smallest subnormal 2^-9
  EXPECT_EQ(e4m3_decode(0x07), 7.0 / 512);       // largest subnormal
  EXPECT_EQ(e4m3_decode(0x08), 1.0 / 64);        // smallest normal 2^-6
  EXPECT_EQ(e4m3_decode(0x38), 1.0);
  EXPECT_EQ(e4m3_decode(0x3C), 1.5);
  EXPECT_EQ(e4m3_decode(0x7E), 448.0);
  EXPECT_EQ(e4m3_decode(0xFE), -448.0);
  EXPECT_EQ(e4m3_decode(0xC0), -2.0);
  EXPECT_TRUE(std::isnan(e4m3_decode(0x7F)));
  EXPECT_TRUE(std::isnan(e4m3_decode(0xFF)));
}

// Every code: decodes to its field value; every non-NaN code encodes back to itself; positive codes increase.
TEST(Fp8, AllCodesRoundTrip) {
  int nan_codes = 0;
  for (int code = 0; code < 256; ++code) {
    const double v = e4m3_decode(static_cast<uint8_t>(code));
    if ((code & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(v)) << code;
      ++nan_codes;
      continue;
    }
    EXPECT_EQ(v, e4m3_value_by_fields(code)) << code;
    EXPECT_EQ(e4m3_encode(v), code) << code;
    if (code > 0 && code < 0x7F) EXPECT_LT(e4m3_decode(code - 1), v) << code;
  }
  EXPECT_EQ(nan_codes, 2);
}

// Between neighbours c and c+1: the midpoint goes to the one with the even mantissa (the even code), and the next
// double either side of it goes to the nearer one. Both signs; subnormals and the binade steps included.
TEST(Fp8, RoundsToNearestTiesToEven) {
  for (int c = 0; c < 0x7E; ++c) {
    const double lo = e4m3_decode(c), hi = e4m3_decode(c + 1), mid = 0.5 * (lo + hi);
    const int even = (c % 2 == 0) ? c : c + 1;
    for (int sign : {0, 0x80}) {
      const double s = sign ? -1.0 : 1.0;
      EXPECT_EQ(e4m3_encode(s * mid), even | sign) << c;
      EXPECT_EQ(e4m3_encode(s * std::nextafter(mid, 0.0)), c | sign) << c;
      EXPECT_EQ(e4m3_encode(s * std::nextafter(mid, INFINITY)), (c + 1) | sign) << c;
    }
  }
  EXPECT_EQ(e4m3_encode(1.0625), 0x38);      // halfway 1 .. 1.125: to 1 (mantissa 0)
  EXPECT_EQ(e4m3_encode(1.1875), 0x3A);      // halfway 1.125 .. 1.25: to 1.25 (mantissa 2)
  EXPECT_EQ(e4m3_encode(1.0 / 1024), 0x00);  // half the smallest subnormal: to 0
  EXPECT_EQ(e4m3_encode(3.0 / 1024), 0x02);  // halfway 2^-9 .. 2^-8: to 2^-8
}

TEST(Fp8, SaturatesAndKeepsNaN) {
  EXPECT_EQ(e4m3_encode(448.0), 0x7E);
  EXPECT_EQ(e4m3_encode(464.0), 0x7E);  // halfway to 480 (no such value): ties to 448's even mantissa anyway
  EXPECT_EQ(e4m3_encode(470.0), 0x7E);  // would round to 480: saturates
  EXPECT_EQ(e4m3_encode(1e300), 0x7E);
  EXPECT_EQ(e4m3_encode(INFINITY), 0x7E);
  EXPECT_EQ(e4m3_encode(-INFINITY), 0xFE);
  EXPECT_EQ(e4m3_encode(-1e9), 0xFE);
  EXPECT_EQ(e4m3_encode(std::nan("")) & 0x7F, 0x7F);
  EXPECT_EQ(e4m3_encode(-0.0), 0x80);
  EXPECT_EQ(e4m3_encode(1e-300), 0x00);
}

// One row of 300 values, three groups (128, 128, 44).
// Group 0, amax 7 -> scale 7/448 = 2^-6 exactly: 100·2^-6 ties between 96 and 104 -> 96 (even) -> 1.5;
// 101·2^-6 -> 104 -> 1.625; 0.3 = 19.2·2^-6 -> 20 -> 0.3125; -7 -> -448 -> -7.
// Group 1 is all zero. Group 2, amax 1 -> scale fl32(1/448); 0.5 / scale = 223.99999 -> 224 -> 224·fl32(1/448).
TEST(Fp8, QuantizesActivationsPerTokenGroup) {
  std::vector<double> v(300, 0.0), q(300);
  v[0] = 7.0;
  v[1] = 1.5625;
  v[2] = 1.578125;
  v[3] = 0.3;
  v[4] = -7.0;
  v[256] = 1.0;
  v[257] = 0.5;
  quantize_row_e4m3(v.data(), 300, q.data());
  EXPECT_EQ(q[0], 7.0);
  EXPECT_EQ(q[1], 1.5);
  EXPECT_EQ(q[2], 1.625);
  EXPECT_EQ(q[3], 0.3125);
  EXPECT_EQ(q[4], -7.0);
  for (int i = 128; i < 256; ++i) ASSERT_EQ(q[i], 0.0) << i;
  const double scale2 = static_cast<float>(1.0 / 448.0);
  EXPECT_EQ(q[256], 448.0 * scale2);
  EXPECT_EQ(q[257], 224.0 * scale2);
  quantize_row_e4m3(v.data(), 300, v.data());  // in place gives the same
  EXPECT_EQ(v, q);
}

// Layout of weight_scale_inv: a [130, 200] matrix has scales [2][2]; w[r][c] = code · scale[r/128][c/128].
// Two matrices back to back, the second with its own scales.
TEST(Fp8, BlockedScalesIndexByRowThenColumnBlock) {
  constexpr int kRows = 130, kCols = 200;
  ASSERT_EQ(blocked_scale_count(kRows, kCols), 4);
  std::vector<uint8_t> codes(2 * kRows * kCols, 0x38);  // 1.0
  codes[0] = 0x40;                                      // 2.0
  const std::vector<float> scales = {2, 3, 5, 7, /*second matrix*/ 11, 13, 17, 19};
  std::vector<double> w(codes.size());
  dequantize_blocked_e4m3(codes.data(), scales.data(), 2, kRows, kCols, w.data());
  auto at = [&](int m, int r, int c) { return w[(m * kRows + r) * kCols + c]; };
  EXPECT_EQ(at(0, 0, 0), 4.0);
  EXPECT_EQ(at(0, 0, 127), 2.0);
  EXPECT_EQ(at(0, 0, 128), 3.0);
  EXPECT_EQ(at(0, 127, 199), 3.0);
  EXPECT_EQ(at(0, 128, 0), 5.0);
  EXPECT_EQ(at(0, 129, 199), 7.0);
  EXPECT_EQ(at(1, 0, 0), 11.0);
  EXPECT_EQ(at(1, 129, 128), 19.0);
}

// quantize_blocked_e4m3: scale = fl32(block amax / 448), the block's largest element becomes ±448, every element
// is within half an e4m3 step of its original, and an all-zero block gets scale 1.
TEST(Fp8, BlockedQuantizationOfWeights) {
  constexpr int kRows = 256, kCols = 384;
  std::vector<double> w(kRows * kCols);
  fill_uniform(w, 91, -1.0, 1.0);
  for (int r = 0; r < 128; ++r) {
    for (int c = 128; c < 256; ++c) w[r * kCols + c] *= 1e-3;  // a block of another magnitude
    for (int c = 256; c < 384; ++c) w[r * kCols + c] = 0.0;    // an all-zero block
  }
  std::vector<uint8_t> codes(w.size());
  std::vector<float> scales(blocked_scale_count(kRows, kCols));
  quantize_blocked_e4m3(w.data(), 1, kRows, kCols, codes.data(), scales.data());
  std::vector<double> back(w.size());
  dequantize_blocked_e4m3(codes.data(), scales.data(), 1, kRows, kCols, back.data());
  for (int br = 0; br < 2; ++br) {
    for (int bc = 0; bc < 3; ++bc) {
      double amax = 0.0;
      for (int r = br * 128; r < (br + 1) * 128; ++r) {
        for (int c = bc * 128; c < (bc + 1) * 128; ++c) amax = std::fmax(amax, std::fabs(w[r * kCols + c]));
      }
      const float scale = scales[br * 3 + bc];
      if (amax == 0.0) {
        EXPECT_EQ(scale, 1.0f);
        continue;
      }
      EXPECT_EQ(scale, static_cast<float>(amax / 448.0)) << br << "," << bc;
      for (int r = br * 128; r < (br + 1) * 128; ++r) {
        for (int c = bc * 128; c < (bc + 1) * 128; ++c) {
          const double orig = w[r * kCols + c], got = back[r * kCols + c];
          // Half a step: 2^-4 of the value for normals, 2^-10·scale for subnormals.
          ASSERT_LE(std::fabs(got - orig), std::fmax(std::fabs(orig) / 16.0, scale / 1024.0) * (1 + 1e-12))
              << r << "," << c;
          if (std::fabs(orig) == amax) EXPECT_EQ(codes[r * kCols + c] & 0x7F, 0x7E);
        }
      }
    }
  }
  for (int r = 0; r < 128; ++r) ASSERT_EQ(codes[r * kCols + 300], 0);
}

// fp8 forward by hand, GEMM1's input: H = I = 128, one expert, relu, w1 = w2 = identity, so out = relu(q(x)), and
// requantizing relu(q(x)) (same amax 7, same scale 2^-6) changes nothing. Values as in the activation test.
TEST(Fp8, ForwardQuantizesGemm1Input) {
  SmallMoe moe(1, 1, 128, 128);
  moe.set_scaled_identity_expert(0, 1.0);
  std::vector<double> x(128, 0.0);
  x[0] = 7.0, x[1] = 1.5625, x[2] = 1.578125, x[3] = 0.3, x[4] = -7.0;
  RefOutput exact = moe.forward(x);
  moe.config.quant = RefQuant::kFP8E4M3;
  RefOutput fp8 = moe.forward(x);
  ASSERT_TRUE(exact.ok() && fp8.ok()) << fp8.error;
  EXPECT_EQ(std::vector<double>(exact.out.begin(), exact.out.begin() + 5),
            (std::vector<double>{7.0, 1.5625, 1.578125, 0.3, 0.0}));
  EXPECT_EQ(std::vector<double>(fp8.out.begin(), fp8.out.begin() + 5),
            (std::vector<double>{7.0, 1.5, 1.625, 0.3125, 0.0}));
}

// GEMM2's input: x = [7, 1, 0...] is on the e4m3 grid of its scale 2^-6 (448 and 64), so GEMM1's input is exact.
// w1 rows [1, 1, 0...] and [0.1, 0...] give h = [8, 0.7]; requantized with scale s = fl32(8/448) = fl32(1/56):
// 8/s -> 448, 0.7/s = 39.2 -> 40. w2 = identity: out = [448·s, 40·s] = [8.000000357627869, 0.714285746216774].
TEST(Fp8, ForwardRequantizesGemm2Input) {
  SmallMoe moe(1, 1, 128, 128);
  moe.config.quant = RefQuant::kFP8E4M3;
  moe.w1_at(0, 0, 0) = moe.w1_at(0, 0, 1) = 1.0;
  moe.w1_at(0, 1, 0) = 0.1;
  for (int i = 0; i < 128; ++i) moe.w2_at(0, i, i) = 1.0;
  std::vector<double> x(128, 0.0);
  x[0] = 7.0, x[1] = 1.0;
  RefOutput o = moe.forward(x);
  ASSERT_TRUE(o.ok()) << o.error;
  const double s = static_cast<float>(1.0 / 56.0);
  EXPECT_EQ(o.out[0], 448.0 * s);
  EXPECT_EQ(o.out[1], 40.0 * s);
  EXPECT_DOUBLE_EQ(o.out[1], 0.714285746216774);
}

TEST(Fp8, RefusesShapesOffTheScaleBlock) {
  SmallMoe ok(2, 1, 128, 256);
  ok.config.quant = RefQuant::kFP8E4M3;
  EXPECT_TRUE(ok.forward(std::vector<double>(128, 0.5)).ok());
  SmallMoe bad_h(2, 1, 100, 128);
  bad_h.config.quant = RefQuant::kFP8E4M3;
  const std::string why = bad_h.forward(std::vector<double>(100, 0.5)).error;
  EXPECT_NE(why.find("multiples of 128"), std::string::npos) << why;
  EXPECT_NE(why.find("H=100"), std::string::npos) << why;
  SmallMoe bad_i(2, 1, 128, 192);
  bad_i.config.quant = RefQuant::kFP8E4M3;
  EXPECT_NE(bad_i.forward(std::vector<double>(128, 0.5)).error.find("I=192"), std::string::npos);
  SmallMoe bad_shared(2, 1, 128, 128);
  bad_shared.config.quant = RefQuant::kFP8E4M3;
  bad_shared.add_shared_experts(1, 64, false);
  EXPECT_NE(bad_shared.forward(std::vector<double>(128, 0.5)).error.find("Is=64"), std::string::npos);
}

// Why the fp8 check can use bf16's tolerance: the format's own error (fp8 reference vs the same layer without
// activation quantization) is far above it, so a kernel that skipped or misplaced a quantization fails; while a
// perturbation of GEMM1's output the size of fp8 tensor-core accumulation error (2^-14 relative, through w1) moves
// the fp8 reference by far less than it, requantization flips included.
TEST(Fp8, ToleranceSeparatesTheKernelFromTheFormat) {
  constexpr int kE = 4, kK = 2, kH = 256, kI = 256, kT = 96;
  SmallMoe moe = random_moe(kE, kK, kH, kI, /*gated=*/true, 101);
  moe.config.activation = RefActivation::kSiLU;
  for (std::vector<double>* w : {&moe.w1, &moe.w3, &moe.w2}) {  // weights as an fp8 checkpoint holds them
    const int64_t rows = w == &moe.w2 ? kH : kI, cols = w == &moe.w2 ? kI : kH;
    std::vector<uint8_t> codes(w->size());
    std::vector<float> scales(kE * blocked_scale_count(rows, cols));
    quantize_blocked_e4m3(w->data(), kE, rows, cols, codes.data(), scales.data());
    dequantize_blocked_e4m3(codes.data(), scales.data(), kE, rows, cols, w->data());
  }
  std::vector<double> x = random_x(kT, kH, 102);
  round_all(CheckDType::kBF16, x);
  moe.config.quant = RefQuant::kFP8E4M3;
  const RefOutput ref = moe.forward(x);
  moe.config.quant = RefQuant::kNone;
  const RefOutput unquantized = moe.forward(x);
  moe.config.quant = RefQuant::kFP8E4M3;
  std::vector<double> noise(moe.w1.size());
  fill_uniform(noise, 103, -1.0, 1.0);
  for (size_t i = 0; i < noise.size(); ++i) moe.w1[i] *= 1.0 + std::ldexp(noise[i], -14);
  const RefOutput perturbed = moe.forward(x);
  ASSERT_TRUE(ref.ok() && unquantized.ok() && perturbed.ok());
  ASSERT_EQ(ref.topk_ids, perturbed.topk_ids);  // the router is not touched

  auto as_float = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  const Tolerance tol = tolerance_for(CheckDType::kFP8E4M3);
  const CompareResult format = compare(as_float(unquantized.out).data(), ref.out.data(), kT * kH, tol);
  const CompareResult kernel_like = compare(as_float(perturbed.out).data(), ref.out.data(), kT * kH, tol);
  EXPECT_FALSE(format.pass) << format.summary;
  EXPECT_GT(format.rel_l2, 2.0 * tol.max_rel_l2) << format.summary;
  EXPECT_TRUE(kernel_like.pass) << kernel_like.summary;
  EXPECT_LT(kernel_like.rel_l2, 0.1 * tol.max_rel_l2) << kernel_like.summary;
  std::printf("fp8 format error (no activation quantization): %s\nfp8 with 2^-14 GEMM1 noise: %s\n",
              format.summary.c_str(), kernel_like.summary.c_str());
}

}  // namespace
}  // namespace onemoe::reference
