#include "launchprof/analyze/metrics.h"

#include <algorithm>

#include "launchprof/analyze/api_kind.h"

namespace launchprof {

const char* anchor_kind_name(AnchorKind k) {
  switch (k) {
    case AnchorKind::kOperator:
      return "first operator start";
    case AnchorKind::kLaunch:
      return "first launch call start (no operators in trace)";
    case AnchorKind::kKernel:
      return "first kernel start (no operators or launch calls in trace)";
    case AnchorKind::kNone:
      return "none (no kernels)";
  }
  return "?";
}

Anchor find_anchor(const TraceData& t, const JoinResult& join) {
  Anchor a;
  auto take = [&a](AnchorKind kind, int64_t ts) {
    if (a.kind != kind || ts < a.ts_ns) a = {kind, ts};
  };
  for (const OpRec& op : t.ops) take(AnchorKind::kOperator, op.ts_ns);
  if (a.kind != AnchorKind::kNone) return a;
  for (size_t i = 0; i < t.apis.size(); ++i)
    if (is_launch(t.apis[i].kind) && !join.api_shadowed[i]) take(AnchorKind::kLaunch, t.apis[i].ts_ns);
  if (a.kind != AnchorKind::kNone) return a;
  for (const KernelRec& k : t.kernels) take(AnchorKind::kKernel, k.ts_ns);
  return a;
}

PerKernelDerived derive_per_kernel(const TraceData& t, const JoinResult& join) {
  PerKernelDerived d;
  size_t n = t.kernels.size();
  d.timing.joined.assign(n, 0);
  d.timing.launch_start_ns.assign(n, 0);
  d.timing.launch_end_ns.assign(n, 0);
  d.gap_class.assign(n, 0);
  d.gap_ns.assign(n, 0);
  for (size_t k = 0; k < n; ++k) {
    int32_t a = join.kernel_launch[k];
    if (a < 0) continue;
    d.timing.joined[k] = 1;
    d.timing.launch_start_ns[k] = t.apis[a].ts_ns;
    d.timing.launch_end_ns[k] = t.apis[a].ts_ns + t.apis[a].dur_ns;
  }
  return d;
}

namespace {

int64_t nearest_rank(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999999);
  size_t idx = std::clamp<size_t>(rank, 1, v.size()) - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(idx), v.end());
  return v[idx];
}

// Length of the union of [start, end) spans (sorted by start), clipped to [lo, hi].
int64_t union_length(const std::vector<std::pair<int64_t, int64_t>>& spans, int64_t lo, int64_t hi) {
  int64_t total = 0, cur_start = 0, cur_end = 0;
  bool open = false;
  auto flush = [&]() {
    if (!open) return;
    int64_t s = std::max(cur_start, lo), e = std::min(cur_end, hi);
    if (e > s) total += e - s;
  };
  for (const auto& [s, e] : spans) {
    if (open && s <= cur_end) {
      cur_end = std::max(cur_end, e);
    } else {
      flush();
      cur_start = s;
      cur_end = e;
      open = true;
    }
  }
  flush();
  return total;
}

}  // namespace

ScopeMetrics compute_scope(const TraceData& t, const PerKernelDerived& d, std::vector<uint32_t> ks,
                           const Anchor& anchor, const JoinResult& join, const std::vector<uint32_t>& scope_mems) {
  ScopeMetrics m;
  m.kernels = ks.size();
  if (ks.empty()) return m;
  std::vector<int64_t> lqs, calls;
  lqs.reserve(ks.size());
  calls.reserve(ks.size());
  m.first_start_ns = INT64_MAX;
  m.last_end_ns = INT64_MIN;
  int64_t window_start = INT64_MAX;
  for (uint32_t j : ks) {
    const KernelRec& k = t.kernels[j];
    int64_t end = k.ts_ns + k.dur_ns;
    m.kernel_time_ns += k.dur_ns;
    m.first_start_ns = std::min(m.first_start_ns, k.ts_ns);
    m.last_end_ns = std::max(m.last_end_ns, end);
    window_start = std::min(window_start, k.ts_ns);
    if (k.ts_ns < anchor.ts_ns) ++m.kernels_before_anchor;
    if (end < anchor.ts_ns) ++m.kernels_ending_before_anchor;
    if (!d.timing.joined[j]) {
      ++m.orphans;
      continue;
    }
    ++m.joined;
    if (t.apis[join.kernel_launch[j]].kind == ApiKind::kGraphLaunch) ++m.graph_kernels;
    int64_t lq = k.ts_ns - d.timing.launch_start_ns[j];
    lqs.push_back(lq);
    calls.push_back(d.timing.launch_end_ns[j] - d.timing.launch_start_ns[j]);
    m.tklqt_ns += lq;
    if (lq < 0) {
      ++m.negative_lq;
      m.negative_lq_ns += lq;
    }
    int64_t after_return = k.ts_ns - d.timing.launch_end_ns[j];
    if (after_return < 0) ++m.started_before_launch_returned;
    int64_t qd = std::max<int64_t>(0, after_return);
    m.queue_delay_ns += qd;
    m.queue_delay_max_ns = std::max(m.queue_delay_max_ns, qd);
    window_start = std::min(window_start, d.timing.launch_start_ns[j]);
  }
  if (!lqs.empty()) {
    m.lq_min_ns = *std::min_element(lqs.begin(), lqs.end());
    m.lq_max_ns = *std::max_element(lqs.begin(), lqs.end());
    m.lq_p50_ns = nearest_rank(lqs, 50.0);
    m.lq_p99_ns = nearest_rank(lqs, 99.0);
    m.launch_call_p50_ns = nearest_rank(calls, 50.0);
  }

  // Busy time: the union of kernel intervals (and of those with the copies and sets), clipped to [anchor, last end].
  std::vector<std::pair<int64_t, int64_t>> spans;
  spans.reserve(ks.size() + scope_mems.size());
  for (uint32_t j : ks)
    spans.emplace_back(t.kernels[j].ts_ns, t.kernels[j].ts_ns + std::max<int64_t>(0, t.kernels[j].dur_ns));
  std::sort(spans.begin(), spans.end());
  const int64_t kernel_busy = union_length(spans, anchor.ts_ns, m.last_end_ns);
  if (!scope_mems.empty()) {  // few copies against many kernels: sort them alone, then merge
    const auto mid = static_cast<std::ptrdiff_t>(spans.size());
    for (uint32_t j : scope_mems)
      spans.emplace_back(t.mems[j].ts_ns, t.mems[j].ts_ns + std::max<int64_t>(0, t.mems[j].dur_ns));
    std::sort(spans.begin() + mid, spans.end());
    std::inplace_merge(spans.begin(), spans.begin() + mid, spans.end());
  }
  m.busy_ns = scope_mems.empty() ? kernel_busy : union_length(spans, anchor.ts_ns, m.last_end_ns);
  m.copy_busy_ns = m.busy_ns - kernel_busy;

  // A scope whose kernels all end before the anchor (a kernel recorded before its own launch call, i.e. clock skew)
  // has no inference latency: IL would be negative, and a negative idle would read as a CPU-bound GPU.
  m.il_defined = m.last_end_ns >= anchor.ts_ns;
  if (m.il_defined) {
    m.il_ns = m.last_end_ns - anchor.ts_ns;
    m.idle_ns = m.il_ns - m.busy_ns;
    m.idle_sum_ns = m.il_ns - m.kernel_time_ns;
  }
  m.queue = queue_length(ks, t.kernels, d.timing, window_start, m.last_end_ns);
  return m;
}

}  // namespace launchprof
