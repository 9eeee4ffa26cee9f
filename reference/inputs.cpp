// Test-input helpers declared in compare.h: a seeded uniform generator and rounding to device storage types.
#include <algorithm>
#include <cmath>
#include <limits>

#include "reference/compare.h"
#include "reference/fp8.h"
#include "reference/parallel.h"

namespace onemoe::reference {
namespace {

// splitmix64: draw i of a stream is mix(seed + (i+1)·gamma), so any chunk of the stream can be computed on its own.
constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr int64_t kChunk = int64_t{1} << 20;  // elements per parallel work item

// Rounds v to a binary format with mantissa_bits explicit bits and normal exponents [min_exp, max_exp],
// to nearest with ties to even, independent of the FPU rounding mode. Subnormals share min_exp's spacing.
double round_to_format(double v, int mantissa_bits, int min_exp, int max_exp) {
  if (!std::isfinite(v) || v == 0.0) return v;
  int frexp_exp;
  std::frexp(v, &frexp_exp);  // |v| in [2^(frexp_exp-1), 2^frexp_exp)
  const int ulp_exp = std::max(frexp_exp - 1, min_exp) - mantissa_bits;
  const double scaled = std::ldexp(std::fabs(v), -ulp_exp);  // exact: only the exponent changes
  double whole = std::floor(scaled);
  const double frac = scaled - whole;
  if (frac > 0.5 || (frac == 0.5 && std::fmod(whole, 2.0) != 0.0)) whole += 1.0;
  const double rounded = std::ldexp(whole, ulp_exp);
  const double max_finite = std::ldexp(2.0 - std::ldexp(1.0, -mantissa_bits), max_exp);
  return std::copysign(rounded > max_finite ? std::numeric_limits<double>::infinity() : rounded, v);
}

}  // namespace

void fill_uniform(std::vector<double>& v, uint64_t seed, double lo, double hi) {
  const int64_t n = static_cast<int64_t>(v.size());
  parallel_for((n + kChunk - 1) / kChunk, [&](int64_t chunk) {
    for (int64_t i = chunk * kChunk; i < std::min(n, (chunk + 1) * kChunk); ++i) {
      const uint64_t draw = mix(seed + static_cast<uint64_t>(i + 1) * kGamma);
      v[i] = lo + (hi - lo) * (static_cast<double>(draw >> 11) * 0x1.0p-53);  // 53 random bits in [0, 1)
    }
  });
}

double round_to(CheckDType dtype, double v) {
  switch (dtype) {
    case CheckDType::kBF16:
      return round_to_format(v, 7, -126, 127);
    case CheckDType::kFP16:
      return round_to_format(v, 10, -14, 15);
    case CheckDType::kTF32:
    case CheckDType::kFP32:
      return static_cast<double>(static_cast<float>(v));
    case CheckDType::kFP8E4M3:
      return e4m3_decode(e4m3_encode(v));
  }
  return v;
}

void round_all(CheckDType dtype, std::vector<double>& v) {
  const int64_t n = static_cast<int64_t>(v.size());
  parallel_for((n + kChunk - 1) / kChunk, [&](int64_t chunk) {
    for (int64_t i = chunk * kChunk; i < std::min(n, (chunk + 1) * kChunk); ++i) v[i] = round_to(dtype, v[i]);
  });
}

}  // namespace onemoe::reference
