#include "multi_gpu/rank_stats.h"

#include <algorithm>

#include "bench_common.h"

namespace onemoe::multi_gpu {
namespace {

constexpr size_t kHeader = 11;  // ok, wrong, checked, 5 traffic fields, launches, bitwise, rows_to known

}  // namespace

size_t packed_size(int world_size, int iters) { return kHeader + size_t(world_size) + size_t(iters); }

std::vector<double> pack(const RankStats& s, int world_size, int iters) {
  std::vector<double> v(packed_size(world_size, iters), 0.0);
  v[0] = s.ok ? 1 : 0;
  v[1] = double(s.wrong);
  v[2] = double(s.checked_tokens);
  v[3] = double(s.traffic.rows_to_peers);
  v[4] = double(s.traffic.rows_returned);
  v[5] = double(s.traffic.rows_local);
  v[6] = double(s.traffic.payload_bytes);
  v[7] = double(s.traffic.control_bytes);
  v[8] = double(s.launches);
  v[9] = double(s.bitwise_mismatch);
  v[10] = s.rows_to.size() == size_t(world_size) ? 1 : 0;
  for (int d = 0; d < world_size && v[10] != 0; ++d) v[kHeader + d] = double(s.rows_to[size_t(d)]);
  for (int i = 0; i < iters && size_t(i) < s.times_ms.size(); ++i) v[kHeader + world_size + i] = s.times_ms[size_t(i)];
  return v;
}

RankStats unpack(const double* v, int world_size, int iters) {
  RankStats s;
  s.ok = v[0] != 0;
  s.wrong = int64_t(v[1]);
  s.checked_tokens = int64_t(v[2]);
  s.traffic = Traffic{uint64_t(v[3]), uint64_t(v[4]), uint64_t(v[5]), uint64_t(v[6]), uint64_t(v[7])};
  s.launches = int64_t(v[8]);
  s.bitwise_mismatch = int64_t(v[9]);
  if (v[10] != 0)
    for (int d = 0; d < world_size; ++d) s.rows_to.push_back(int64_t(v[kHeader + d]));
  for (int i = 0; i < iters; ++i) s.times_ms.push_back(v[kHeader + world_size + i]);
  return s;
}

RowSummary summarize(const std::vector<RankStats>& ranks, const std::vector<int64_t>& tokens_per_rank,
                     int64_t launches_divisor) {
  RowSummary row;
  const size_t world = ranks.size();
  row.all_ok = world > 0 && std::all_of(ranks.begin(), ranks.end(), [](const RankStats& s) { return s.ok; });
  if (!row.all_ok) return row;

  const size_t iters = ranks[0].times_ms.size();
  std::vector<double> per_iter(iters, 0.0);
  for (const RankStats& s : ranks)
    for (size_t i = 0; i < iters; ++i) per_iter[i] = std::max(per_iter[i], s.times_ms[i]);
  if (iters > 0) {
    row.ms = bench::percentile(per_iter, 0.5);
    row.p99_ms = bench::percentile(per_iter, 0.99);
  }

  bool checked = true, compared = true, counted = true, routed = true;
  int64_t wrong = 0, mismatch = 0, launches = 0;
  uint64_t payload = 0, total = 0;
  for (size_t r = 0; r < world; ++r) {
    const RankStats& s = ranks[r];
    checked = checked && s.wrong >= 0;
    wrong += std::max<int64_t>(s.wrong, 0);
    // A rank without tokens has nothing to compare.
    if (s.bitwise_mismatch >= 0) mismatch += s.bitwise_mismatch;
    else if (r < tokens_per_rank.size() && tokens_per_rank[r] > 0) compared = false;
    counted = counted && s.launches >= 0;
    launches = std::max(launches, s.launches);
    routed = routed && s.rows_to.size() == world;
    const uint64_t sent = s.traffic.payload_bytes + s.traffic.control_bytes;
    row.bytes_sent.push_back(sent);
    row.max_bytes_sent = std::max(row.max_bytes_sent, sent);
    payload += s.traffic.payload_bytes;
    total += sent;
  }
  if (checked) row.wrong = wrong;
  if (compared) row.bitwise_mismatch = mismatch;
  if (counted) row.launches = launches_divisor > 1 ? (launches + launches_divisor - 1) / launches_divisor : launches;
  row.payload_efficiency = total > 0 ? double(payload) / double(total) : 1.0;
  if (routed) {
    bool match = true;
    for (size_t r = 0; r < world; ++r) {
      uint64_t out = 0, back = 0;
      for (size_t d = 0; d < world; ++d)
        if (d != r) {
          out += uint64_t(ranks[r].rows_to[d]);   // my rows to d
          back += uint64_t(ranks[d].rows_to[r]);  // d's rows computed here, sent back to d
        }
      match = match && ranks[r].traffic.rows_to_peers == out && ranks[r].traffic.rows_returned == back;
    }
    row.traffic_matches_routing = match;
  }
  return row;
}

}  // namespace onemoe::multi_gpu
