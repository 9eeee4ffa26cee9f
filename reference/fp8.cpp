#include "reference/fp8.h"

#include <algorithm>
#include <cmath>

namespace onemoe::reference {
namespace {

constexpr int kMinNormalExp = -6;  // 2^-6 is the smallest normal
constexpr int kMantissaBits = 3;
constexpr uint8_t kNaNCode = 0x7F;
constexpr uint8_t kMaxCode = 0x7E;  // 448

// Largest absolute value of v[0..n).
double amax(const double* v, int64_t n) {
  double m = 0.0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(v[i]));
  return m;
}

}  // namespace

uint8_t e4m3_encode(double v) {
  const uint8_t sign = std::signbit(v) ? 0x80 : 0x00;
  if (std::isnan(v)) return sign | kNaNCode;
  const double a = std::fabs(v);
  if (a >= kE4M3Max) return sign | kMaxCode;  // saturate (infinity included)
  if (a == 0.0) return sign;

  // Spacing of the e4m3 values around a: 2^(max(exp, -6) - 3) where 2^exp <= a < 2^(exp+1).
  int frexp_exp;
  std::frexp(a, &frexp_exp);  // a in [2^(frexp_exp-1), 2^frexp_exp)
  const int quantum_exp = std::max(frexp_exp - 1, kMinNormalExp) - kMantissaBits;
  const double scaled = std::ldexp(a, -quantum_exp);  // exact: only the exponent changes
  double units = std::floor(scaled);
  const double frac = scaled - units;
  if (frac > 0.5 || (frac == 0.5 && std::fmod(units, 2.0) != 0.0)) units += 1.0;
  // a = units · 2^quantum_exp, units in [0, 16]; 16 carries into the next binade.
  const double rounded = std::ldexp(units, quantum_exp);
  if (rounded > kE4M3Max) return sign | kMaxCode;  // 464 < a < 480 rounds to 480, which e4m3 lacks
  if (rounded < std::ldexp(1.0, kMinNormalExp)) return sign | static_cast<uint8_t>(units);  // subnormal: m = units
  int r_exp;
  const double r_frac = std::frexp(rounded, &r_exp);  // rounded = r_frac · 2^r_exp, r_frac in [0.5, 1)
  const int exp_field = r_exp - 1 + 7;
  const int mantissa = static_cast<int>(std::ldexp(r_frac, kMantissaBits + 1)) - 8;  // (8 + m) / 16 = r_frac
  return sign | static_cast<uint8_t>(exp_field << kMantissaBits | mantissa);
}

double e4m3_decode(uint8_t code) {
  const double sign = (code & 0x80) ? -1.0 : 1.0;
  const int exp_field = (code >> kMantissaBits) & 0xF;
  const int mantissa = code & 0x7;
  if (exp_field == 0xF && mantissa == 0x7) return std::nan("");
  if (exp_field == 0) return sign * std::ldexp(mantissa, kMinNormalExp - kMantissaBits);
  return sign * std::ldexp(8 + mantissa, exp_field - 7 - kMantissaBits);
}

void quantize_row_e4m3(const double* v, int64_t n, double* out) {
  for (int64_t g0 = 0; g0 < n; g0 += kFp8Block) {
    const int64_t len = std::min<int64_t>(kFp8Block, n - g0);
    const double group_amax = amax(v + g0, len);
    if (group_amax == 0.0) {
      std::fill_n(out + g0, len, 0.0);
      continue;
    }
    const double scale = static_cast<float>(group_amax / kE4M3Max);
    for (int64_t i = g0; i < g0 + len; ++i) out[i] = e4m3_decode(e4m3_encode(v[i] / scale)) * scale;
  }
}

int64_t blocked_scale_count(int64_t rows, int64_t cols) {
  return ((rows + kFp8Block - 1) / kFp8Block) * ((cols + kFp8Block - 1) / kFp8Block);
}

void quantize_blocked_e4m3(const double* w, int64_t num_mats, int64_t rows, int64_t cols, uint8_t* codes,
                           float* scale_inv) {
  const int64_t block_cols = (cols + kFp8Block - 1) / kFp8Block;
  for (int64_t mat = 0; mat < num_mats; ++mat) {
    const double* wm = w + mat * rows * cols;
    uint8_t* cm = codes + mat * rows * cols;
    float* sm = scale_inv + mat * blocked_scale_count(rows, cols);
    for (int64_t r0 = 0; r0 < rows; r0 += kFp8Block) {
      for (int64_t c0 = 0; c0 < cols; c0 += kFp8Block) {
        const int64_t r1 = std::min(rows, r0 + kFp8Block), c1 = std::min(cols, c0 + kFp8Block);
        double block_amax = 0.0;
        for (int64_t r = r0; r < r1; ++r) block_amax = std::max(block_amax, amax(wm + r * cols + c0, c1 - c0));
        const float scale = block_amax > 0.0 ? static_cast<float>(block_amax / kE4M3Max) : 1.0f;
        sm[(r0 / kFp8Block) * block_cols + c0 / kFp8Block] = scale;
        for (int64_t r = r0; r < r1; ++r) {
          for (int64_t c = c0; c < c1; ++c) cm[r * cols + c] = e4m3_encode(wm[r * cols + c] / scale);
        }
      }
    }
  }
}

void dequantize_blocked_e4m3(const uint8_t* codes, const float* scale_inv, int64_t num_mats, int64_t rows, int64_t cols,
                             double* w) {
  const int64_t block_cols = (cols + kFp8Block - 1) / kFp8Block;
  for (int64_t mat = 0; mat < num_mats; ++mat) {
    const uint8_t* cm = codes + mat * rows * cols;
    const float* sm = scale_inv + mat * blocked_scale_count(rows, cols);
    double* wm = w + mat * rows * cols;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        wm[r * cols + c] = e4m3_decode(cm[r * cols + c]) * sm[(r / kFp8Block) * block_cols + c / kFp8Block];
      }
    }
  }
}

}  // namespace onemoe::reference
