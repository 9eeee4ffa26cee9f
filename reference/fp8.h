// fp8 e4m3 in the reference: the codec, the per-token activation quantizer and DeepSeek-V3's blocked weight scales.
//
// e4m3 (OCP FP8, "e4m3fn"): 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities; S.1111.111 is NaN.
//   exponent field 0:     ±m · 2^-9            (subnormals, m = 0..7; smallest 2^-9)
//   exponent field 1..15: ±(8 + m) · 2^(e-10)  (largest finite 0x7E = 448)
// Encoding rounds to nearest, ties to even, and saturates: any finite or infinite |v| above 448 gives ±448
// (as cvt.rn.satfinite does on the GPU). NaN gives 0x7F (0xFF when the sign bit is set).
#pragma once

#include <cstdint>

namespace onemoe::reference {

constexpr double kE4M3Max = 448.0;
// Activations are quantized per token in groups of this many consecutive channels; weights carry one scale per
// kFp8Block x kFp8Block block.
constexpr int kFp8Block = 128;

uint8_t e4m3_encode(double v);
double e4m3_decode(uint8_t code);

// Per-token activation quantization as the kernel does it, returned dequantized. v[n] is one token's row; each
// group g of kFp8Block consecutive elements (the last may be shorter) gets
//   s_g = fl32(amax_g / 448)            (the fp32 scale the kernel stores)
//   out[i] = e4m3(v[i] / s_g) · s_g     (the quotient is exact, then rounded once; out is exact in double)
// An all-zero group stays zero. out may alias v.
void quantize_row_e4m3(const double* v, int64_t n, double* out);

// Scales of a [rows, cols] matrix in DeepSeek-V3's `weight_scale_inv` layout: [ceil(rows/128)][ceil(cols/128)],
// row-major; the element (r, c) belongs to scale (r/128, c/128).
int64_t blocked_scale_count(int64_t rows, int64_t cols);

// w ≈ code · scale for num_mats consecutive [rows, cols] matrices (e.g. the E experts of w1 [E,I,H]), each with its
// own scale block of blocked_scale_count(rows, cols) floats. scale = fl32(block amax / 448); an all-zero block
// gets scale 1 and codes 0.
void quantize_blocked_e4m3(const double* w, int64_t num_mats, int64_t rows, int64_t cols, uint8_t* codes,
                           float* scale_inv);
// w[r][c] = e4m3_decode(code[r][c]) · scale_inv[r/128][c/128] (exact in double), per matrix as above.
void dequantize_blocked_e4m3(const uint8_t* codes, const float* scale_inv, int64_t num_mats, int64_t rows, int64_t cols,
                             double* w);

}  // namespace onemoe::reference
