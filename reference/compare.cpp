#include "reference/compare.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>

namespace onemoe::reference {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

const char* check_dtype_name(CheckDType dtype) {
  switch (dtype) {
    case CheckDType::kBF16:
      return "bf16";
    case CheckDType::kFP16:
      return "fp16";
    case CheckDType::kTF32:
      return "tf32";
    case CheckDType::kFP32:
      return "fp32";
    case CheckDType::kFP8E4M3:
      return "fp8";
  }
  return "?";
}

Tolerance tolerance_for(CheckDType dtype) {
  double max_rel_l2 = 1e-2;  // bf16, fp16, fp8 e4m3
  if (dtype == CheckDType::kTF32) max_rel_l2 = 5e-3;
  if (dtype == CheckDType::kFP32) max_rel_l2 = 1e-5;
  return {max_rel_l2, 5.0 * max_rel_l2, max_rel_l2};
}

CompareResult compare(const float* got, const double* ref, int64_t n, Tolerance tolerance) {
  return compare_rows(got, ref, 1, n, {}, tolerance);
}

CompareResult compare_rows(const float* got, const double* ref, int64_t rows, int64_t row_len,
                           const std::vector<uint8_t>& skip_row, Tolerance tolerance) {
  CompareResult res;
  if (!skip_row.empty() && static_cast<int64_t>(skip_row.size()) != rows) {
    res.summary = "compare_rows: skip_row has " + std::to_string(skip_row.size()) + " entries for " +
                  std::to_string(rows) + " rows";
    return res;
  }
  auto checked = [&](int64_t r) { return skip_row.empty() || !skip_row[r]; };

  double ref_sq = 0.0;
  int64_t num_checked = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (!checked(r)) continue;
    for (int64_t i = r * row_len; i < (r + 1) * row_len; ++i) {
      if (std::isfinite(ref[i])) ref_sq += ref[i] * ref[i];
    }
    num_checked += row_len;
  }
  const double rms = num_checked > 0 ? std::sqrt(ref_sq / num_checked) : 0.0;

  double err_sq = 0.0, worst_ratio = -1.0;
  bool non_finite = false;
  int64_t worst = -1;
  for (int64_t r = 0; r < rows; ++r) {
    if (!checked(r)) continue;
    for (int64_t i = r * row_len; i < (r + 1) * row_len; ++i) {
      const double g = got[i], f = ref[i];
      const double allowed = tolerance.atol * rms + tolerance.rtol * std::fabs(f);
      bool wrong;
      double ratio;  // how far outside (>1) or inside (<=1) the tolerance; inf for NaN/Inf mismatches
      if (std::isfinite(g) && std::isfinite(f)) {
        const double d = std::fabs(g - f);
        err_sq += d * d;
        wrong = d > allowed;
        ratio = allowed > 0.0 ? d / allowed : (d > 0.0 ? kInf : 0.0);
      } else {
        wrong = !(g == f);  // the same infinity on both sides is the only non-finite match; NaN never matches
        ratio = wrong ? kInf : 0.0;
        non_finite = non_finite || wrong;
        if (std::isnan(g)) ++res.num_nan;
      }
      if (wrong) {
        ++res.num_wrong;
        if (res.first_wrong_index < 0) res.first_wrong_index = i;
      }
      if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
    }
  }
  if (non_finite) {
    res.rel_l2 = kInf;
  } else if (ref_sq > 0.0) {
    res.rel_l2 = std::sqrt(err_sq / ref_sq);
  } else {
    res.rel_l2 = err_sq > 0.0 ? kInf : 0.0;
  }
  res.pass = res.rel_l2 <= tolerance.max_rel_l2 && res.num_wrong == 0 && res.num_nan == 0;

  char line[320];
  int len = std::snprintf(line, sizeof(line), "%s rel_l2=%.3e (max %.1e) wrong=%" PRId64 "/%" PRId64 " nan=%" PRId64,
                          res.pass ? "PASS" : "FAIL", res.rel_l2, tolerance.max_rel_l2, res.num_wrong, num_checked,
                          res.num_nan);
  if (worst >= 0 && len > 0 && len < static_cast<int>(sizeof(line))) {
    std::snprintf(line + len, sizeof(line) - len, " worst[%" PRId64 "] got=%.7g ref=%.7g rms(ref)=%.4g", worst,
                  static_cast<double>(got[worst]), ref[worst], rms);
  }
  res.summary = line;
  return res;
}

std::vector<uint8_t> near_tie_tokens(const RefOutput& ref, double margin_threshold) {
  std::vector<uint8_t> tie(ref.topk_margin.size());
  for (size_t t = 0; t < tie.size(); ++t) tie[t] = ref.topk_margin[t] <= margin_threshold;
  return tie;
}

int64_t count_routing_mismatches(const int32_t* got_ids, const RefOutput& ref, int64_t num_tokens, int top_k,
                                 double margin_threshold) {
  if (num_tokens < 0 || top_k < 1 || static_cast<int64_t>(ref.topk_ids.size()) != num_tokens * top_k ||
      static_cast<int64_t>(ref.topk_margin.size()) != num_tokens) {
    return -1;
  }
  int64_t mismatches = 0;
  std::vector<int32_t> got(top_k), want(top_k);
  for (int64_t t = 0; t < num_tokens; ++t) {
    if (!(ref.topk_margin[t] > margin_threshold)) continue;
    std::copy_n(got_ids + t * top_k, top_k, got.begin());
    std::copy_n(ref.topk_ids.begin() + t * top_k, top_k, want.begin());
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    mismatches += got != want;
  }
  return mismatches;
}

}  // namespace onemoe::reference
