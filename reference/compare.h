// The one source of truth for how a device result is checked against the fp64 reference: tolerances per dtype,
// the element-wise comparison, the routing check, and the helpers that make the inputs both sides see identical.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reference/moe_reference.h"

namespace onemoe::reference {

// The math the device ran: bf16/fp16 storage, fp32 storage with TF32 tensor cores, fp32 with exact FFMA, or fp8
// e4m3 experts (blocked weight scales, per-token activation quantization; x and out in bf16), checked against the
// reference's RefQuant::kFP8E4M3 mode.
enum class CheckDType { kBF16, kFP16, kTF32, kFP32, kFP8E4M3 };

const char* check_dtype_name(CheckDType dtype);

// An element i is wrong when |got[i] - ref[i]| > atol * rms(ref) + rtol * |ref[i]|, or got[i] is NaN/Inf where
// ref[i] is finite. NOTE: atol is in units of rms(ref) (the root mean square of the whole reference tensor), not
// an absolute number, so one tolerance fits every shape and input scale.
// The whole tensor passes when rel_l2 = ||got - ref||₂ / ||ref||₂ <= max_rel_l2 and no element is wrong.
struct Tolerance {
  double max_rel_l2;
  double atol;  // × rms(ref)
  double rtol;
};

// max_rel_l2 is fixed by the spec: bf16/fp16 1e-2, TF32 5e-3, fp32 (FFMA) 1e-5, fp8 e4m3 1e-2. fp8 gets bf16's
// tolerance because the reference applies the same quantization (docs/reference_modes.md says why that holds).
// Per element, atol = 5 × max_rel_l2 and rtol = max_rel_l2: an element may be off by five times the allowed
// average error of a typical (rms-sized) element, plus the allowed relative error of its own magnitude.
// Rounding the output to the storage type alone costs at most 2^-9 ≈ 2e-3 of |ref| for bf16, well inside.
Tolerance tolerance_for(CheckDType dtype);

struct CompareResult {
  double rel_l2 = 0.0;    // +inf when got has a non-finite element where ref is finite
  int64_t num_wrong = 0;  // elements outside the tolerance, NaN included
  int64_t num_nan = 0;    // NaN elements in got
  int64_t first_wrong_index = -1;
  bool pass = false;
  std::string summary;  // one line: rel_l2, counts, the worst element
};

// Compares got[n] against ref[n]. A NaN in got never passes.
CompareResult compare(const float* got, const double* ref, int64_t n, Tolerance tolerance);

// As compare() on a [rows, row_len] tensor, leaving out the rows where skip_row[r] != 0 (e.g. tokens whose
// routing is a near tie, where a device and the reference may both be right and still differ).
// rms(ref) and rel_l2 are taken over the rows that are checked.
CompareResult compare_rows(const float* got, const double* ref, int64_t rows, int64_t row_len,
                           const std::vector<uint8_t>& skip_row, Tolerance tolerance);

// Rows (tokens) whose top-k margin is at most margin_threshold: routing there may legitimately differ.
std::vector<uint8_t> near_tie_tokens(const RefOutput& ref, double margin_threshold);

// Number of tokens whose margin exceeds margin_threshold but whose expert set in got_ids [T,k] differs from the
// reference's (compared as sets). Returns -1 when ref does not hold T*k ids.
int64_t count_routing_mismatches(const int32_t* got_ids, const RefOutput& ref, int64_t num_tokens, int top_k,
                                 double margin_threshold = 1e-3);

// v[i] uniform over [lo, hi] (53 random bits each) from a splitmix64 stream: the same seed gives the same values on
// every machine.
void fill_uniform(std::vector<double>& v, uint64_t seed, double lo, double hi);

// The value the device holds after storing v as dtype, rounded to nearest, ties to even:
//   kBF16: 8 significant bits, fp32 exponent range (subnormals kept), overflow to ±inf;
//   kFP16: IEEE binary16: 11 significant bits, subnormals down to 2^-24, |v| >= 65520 rounds to ±inf;
//   kTF32, kFP32: a float (TF32 is a tensor-core math mode; the stored operands are fp32);
//   kFP8E4M3: e4m3 without a scale (reference/fp8.h), saturating at ±448.
double round_to(CheckDType dtype, double v);

// round_to on every element.
void round_all(CheckDType dtype, std::vector<double>& v);

}  // namespace onemoe::reference
