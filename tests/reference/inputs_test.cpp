// round_to() on values whose rounding is known by hand, cross-checked against independent conversions,
// and the determinism of fill_uniform().
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "reference/compare.h"

namespace onemoe::reference {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// bf16 keeps 8 significant bits: spacing 2^-7 just above 1.
TEST(RoundTo, Bf16KnownValues) {
  EXPECT_EQ(round_to(CheckDType::kBF16, 1.0 + 0x1p-8), 1.0);                     // tie -> even (1.0)
  EXPECT_EQ(round_to(CheckDType::kBF16, 1.0 + 3 * 0x1p-8), 1.0 + 0x1p-6);        // tie -> even (mantissa 2)
  EXPECT_EQ(round_to(CheckDType::kBF16, 1.0 + 0x1p-8 + 0x1p-20), 1.0 + 0x1p-7);  // just above the tie
  EXPECT_EQ(round_to(CheckDType::kBF16, -(1.0 + 0x1p-8)), -1.0);
  EXPECT_EQ(round_to(CheckDType::kBF16, 3.140625), 3.140625);  // 0x4049 is exact
  const double bf16_max = (2.0 - 0x1p-7) * 0x1p127;            // 0x7F7F
  EXPECT_EQ(round_to(CheckDType::kBF16, bf16_max), bf16_max);
  EXPECT_EQ(round_to(CheckDType::kBF16, (2.0 - 0x1p-8) * 0x1p127), kInf);  // halfway to 2^128 -> inf
  EXPECT_EQ(round_to(CheckDType::kBF16, 0x1p-133), 0x1p-133);              // smallest subnormal
  EXPECT_EQ(round_to(CheckDType::kBF16, 0x1p-134), 0.0);                   // half of it: tie -> 0
  EXPECT_EQ(round_to(CheckDType::kBF16, 1.5 * 0x1p-134), 0x1p-133);
}

TEST(RoundTo, Fp16KnownValues) {
  EXPECT_EQ(round_to(CheckDType::kFP16, 65504.0), 65504.0);  // largest finite
  EXPECT_EQ(round_to(CheckDType::kFP16, 65519.0), 65504.0);  // below the halfway point 65520
  EXPECT_EQ(round_to(CheckDType::kFP16, 65520.0), kInf);     // halfway, ties to even = 65536 -> inf
  EXPECT_EQ(round_to(CheckDType::kFP16, -65520.0), -kInf);
  EXPECT_EQ(round_to(CheckDType::kFP16, 0.1), 0.0999755859375);        // 0x2E66
  EXPECT_EQ(round_to(CheckDType::kFP16, 1.0 / 3.0), 0.333251953125);   // 0x3555
  EXPECT_EQ(round_to(CheckDType::kFP16, 1.0 + 0x1p-11), 1.0);          // tie -> even
  EXPECT_EQ(round_to(CheckDType::kFP16, 0x1p-24), 0x1p-24);            // smallest subnormal
  EXPECT_EQ(round_to(CheckDType::kFP16, 0x1p-25), 0.0);                // tie -> 0
  EXPECT_EQ(round_to(CheckDType::kFP16, 3 * 0x1p-26), 0x1p-24);        // 0.75 ulp -> 1 ulp
  EXPECT_EQ(round_to(CheckDType::kFP16, 0x1p-14 - 0x1p-25), 0x1p-14);  // top subnormal rounds up to min normal
}

TEST(RoundTo, Fp32AndTf32AreFloat) {
  EXPECT_EQ(round_to(CheckDType::kFP32, 0.1), 0.100000001490116119384765625);
  EXPECT_EQ(round_to(CheckDType::kTF32, 0.1), 0.100000001490116119384765625);  // TF32 operands are stored as fp32
}

TEST(RoundTo, NonFiniteAndZeroPassThrough) {
  for (CheckDType d : {CheckDType::kBF16, CheckDType::kFP16, CheckDType::kFP32}) {
    EXPECT_TRUE(std::isnan(round_to(d, std::nan(""))));
    EXPECT_EQ(round_to(d, -kInf), -kInf);
    EXPECT_EQ(round_to(d, 0.0), 0.0);
  }
}

// Independent bf16 rounding of a float: add 0x7FFF plus the lowest kept bit, then truncate the low 16 bits.
// Valid for finite floats, which are exact doubles, so no double rounding hides in the comparison.
float bf16_by_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(RoundTo, Bf16AgreesWithBitTrickOnRandomFloats) {
  std::vector<double> v(20000);
  fill_uniform(v, 7, -1.0, 1.0);
  for (size_t i = 0; i < v.size(); ++i) {
    const float f = static_cast<float>(std::ldexp(v[i], static_cast<int>(i % 200) - 100));
    ASSERT_EQ(round_to(CheckDType::kBF16, f), static_cast<double>(bf16_by_bits(f))) << "f=" << f;
  }
}

#if defined(__FLT16_MAX__)
// The compiler's own double -> _Float16 conversion (correctly rounded) as an independent fp16 reference.
TEST(RoundTo, Fp16AgreesWithCompilerFloat16) {
  std::vector<double> v(20000);
  fill_uniform(v, 8, -1.0, 1.0);
  for (size_t i = 0; i < v.size(); ++i) {
    const double d = std::ldexp(v[i], static_cast<int>(i % 48) - 30);  // subnormals up to overflow
    ASSERT_EQ(round_to(CheckDType::kFP16, d), static_cast<double>(static_cast<_Float16>(d))) << "d=" << d;
  }
}
#endif

TEST(FillUniform, DeterministicPerSeedAndInRange) {
  std::vector<double> a(1000), b(1000), c(1000);
  fill_uniform(a, 42, -2.0, 3.0);
  fill_uniform(b, 42, -2.0, 3.0);
  fill_uniform(c, 43, -2.0, 3.0);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  double sum = 0.0;
  for (double x : a) {
    EXPECT_GE(x, -2.0);
    EXPECT_LE(x, 3.0);
    sum += x;
  }
  EXPECT_NEAR(sum / a.size(), 0.5, 0.15);  // mean of U(-2,3) is 0.5; sd of the mean is 1.44/√1000 ≈ 0.046
}

// splitmix64 seeded with 0 starts 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4 (its published test sequence);
// a value is the top 53 bits scaled to [0, 1).
TEST(FillUniform, FollowsSplitmix64) {
  std::vector<double> v(2);
  fill_uniform(v, 0, 0.0, 1.0);
  EXPECT_EQ(v[0], static_cast<double>(0xe220a8397b1dcdafull >> 11) * 0x1p-53);
  EXPECT_EQ(v[1], static_cast<double>(0x6e789e6aa1b965f4ull >> 11) * 0x1p-53);
}

// The fill runs in parallel chunks; a long fill must still be one stream (a short fill is its prefix).
TEST(FillUniform, LongFillIsOneStream) {
  std::vector<double> long_fill(3'000'001), short_fill(2'100'000);
  fill_uniform(long_fill, 9, -1.0, 1.0);
  fill_uniform(short_fill, 9, -1.0, 1.0);
  EXPECT_TRUE(std::equal(short_fill.begin(), short_fill.end(), long_fill.begin()));
  std::vector<double> rounded = long_fill;
  round_all(CheckDType::kBF16, rounded);
  EXPECT_EQ(rounded[2'999'999], round_to(CheckDType::kBF16, long_fill[2'999'999]));
}

}  // namespace
}  // namespace onemoe::reference
