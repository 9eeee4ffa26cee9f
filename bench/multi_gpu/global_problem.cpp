#include "multi_gpu/global_problem.h"

#include <cstring>

#include "reference/compare.h"

namespace onemoe::multi_gpu {

std::vector<TokenRange> token_ranges(const std::vector<int64_t>& tokens_per_rank) {
  std::vector<TokenRange> ranges;
  int64_t first = 0;
  for (int64_t t : tokens_per_rank) {
    ranges.push_back({first, t});
    first += t;
  }
  return ranges;
}

std::vector<int> experts_of_rank(const std::vector<int>& expert_to_rank, int rank) {
  std::vector<int> experts;
  for (size_t e = 0; e < expert_to_rank.size(); ++e)
    if (expert_to_rank[e] == rank) experts.push_back(int(e));
  return experts;
}

std::vector<double> slice_rows(const std::vector<double>& tensor, int64_t row_len, int64_t first, int64_t count) {
  std::vector<double> out(size_t(count * row_len));
  if (count > 0) std::memcpy(out.data(), tensor.data() + first * row_len, sizeof(double) * out.size());
  return out;
}

std::vector<double> gather_experts(const std::vector<double>& tensor, int64_t expert_elems,
                                   const std::vector<int>& experts) {
  std::vector<double> out(experts.size() * size_t(expert_elems));
  for (size_t i = 0; i < experts.size(); ++i)
    std::memcpy(out.data() + i * expert_elems, tensor.data() + int64_t(experts[i]) * expert_elems,
                sizeof(double) * size_t(expert_elems));
  return out;
}

void apply_skew(harness::HostInputs* in, const MoeShape& s, const MoeConfig& c, const std::vector<int>& expert_to_rank,
                int skew_rank, double skew) {
  if (!(skew > 0)) return;
  // The same storage rounding the inputs were drawn with (fp32 data stays fp32 under TF32).
  const reference::CheckDType storage = c.dtype == DType::kBF16   ? reference::CheckDType::kBF16
                                        : c.dtype == DType::kFP16 ? reference::CheckDType::kFP16
                                                                  : reference::CheckDType::kFP32;
  for (double& v : in->x) v += 1.0;
  reference::round_all(storage, in->x);
  const double delta = skew / s.hidden;  // x·w gains Σ_h 1·delta = skew (plus small zero-mean terms)
  for (size_t e = 0; e < expert_to_rank.size(); ++e) {
    if (expert_to_rank[e] != skew_rank) continue;
    for (int h = 0; h < s.hidden; ++h) {
      double& w = in->w_router[e * size_t(s.hidden) + h];
      w = reference::round_to(storage, w + delta);
    }
  }
}

std::vector<int64_t> rows_per_destination(const std::vector<int32_t>& ids, const std::vector<int>& expert_to_rank,
                                          int world_size) {
  std::vector<int64_t> rows(size_t(world_size), 0);
  for (int32_t e : ids)
    if (e >= 0 && size_t(e) < expert_to_rank.size()) rows[size_t(expert_to_rank[size_t(e)])]++;
  return rows;
}

}  // namespace onemoe::multi_gpu
