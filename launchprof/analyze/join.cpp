#include "launchprof/analyze/join.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "launchprof/analyze/api_kind.h"

namespace launchprof {
namespace {

// When several calls carry one correlation id (a runtime call and the driver call under it),
// prefer a launch call, then the runtime API, then the earliest.
bool preferred(const ApiRec& a, const ApiRec& b) {
  auto rank = [](const ApiRec& r) { return std::make_tuple(!is_launch(r.kind), r.is_driver, r.ts_ns); };
  return rank(a) < rank(b);
}

void join_kernels(const TraceData& t, JoinResult& r) {
  std::vector<std::pair<int64_t, int32_t>> by_corr;  // (correlation, api index), one per correlation
  by_corr.reserve(t.apis.size());
  for (size_t i = 0; i < t.apis.size(); ++i)
    if (t.apis[i].correlation != kNoId) by_corr.emplace_back(t.apis[i].correlation, static_cast<int32_t>(i));
  std::sort(by_corr.begin(), by_corr.end());
  size_t w = 0;
  for (size_t i = 0; i < by_corr.size(); ++i) {
    if (w > 0 && by_corr[w - 1].first == by_corr[i].first) {
      ++r.duplicate_correlations;
      int32_t& kept = by_corr[w - 1].second;
      int32_t other = by_corr[i].second;
      if (preferred(t.apis[other], t.apis[kept])) std::swap(kept, other);
      r.api_shadowed[other] = 1;
    } else {
      by_corr[w++] = by_corr[i];
    }
  }
  by_corr.resize(w);

  for (size_t k = 0; k < t.kernels.size(); ++k) {
    int64_t corr = t.kernels[k].correlation;
    if (corr == kNoId) {
      ++r.orphans_no_correlation;
      continue;
    }
    auto it = std::lower_bound(by_corr.begin(), by_corr.end(), std::make_pair(corr, INT32_MIN));
    if (it == by_corr.end() || it->first != corr) {
      ++r.orphans_unmatched;
      continue;
    }
    r.kernel_launch[k] = it->second;
    ++r.api_kernels[it->second];
  }
  for (size_t i = 0; i < t.apis.size(); ++i) {
    if (!is_launch(t.apis[i].kind) || r.api_shadowed[i]) continue;
    ++r.launches;
    if (t.apis[i].kind == ApiKind::kGraphLaunch) {
      ++r.graph_launches;
      r.graph_kernels += r.api_kernels[i];
    }
    if (r.api_kernels[i] == 0) ++r.launches_without_kernel;
  }
}

// Innermost operator on the call's thread whose [start, end) contains the call's start.
void join_ops_by_containment(const TraceData& t, JoinResult& r, const std::vector<int32_t>& pending) {
  std::vector<int32_t> ops(t.ops.size());
  for (size_t i = 0; i < ops.size(); ++i) ops[i] = static_cast<int32_t>(i);
  auto thread_of = [](const auto& e) { return std::make_pair(e.pid, e.tid); };
  std::sort(ops.begin(), ops.end(), [&](int32_t a, int32_t b) {
    const OpRec &x = t.ops[a], &y = t.ops[b];
    return std::make_tuple(x.pid, x.tid, x.ts_ns, -x.dur_ns) < std::make_tuple(y.pid, y.tid, y.ts_ns, -y.dur_ns);
  });
  std::vector<int32_t> calls = pending;
  std::sort(calls.begin(), calls.end(), [&](int32_t a, int32_t b) {
    const ApiRec &x = t.apis[a], &y = t.apis[b];
    return std::make_tuple(x.pid, x.tid, x.ts_ns) < std::make_tuple(y.pid, y.tid, y.ts_ns);
  });
  std::vector<int32_t> open;  // stack of operators that contain the sweep time
  size_t o = 0;
  for (size_t c = 0; c < calls.size(); ++c) {
    const ApiRec& call = t.apis[calls[c]];
    if (c == 0 || thread_of(t.apis[calls[c - 1]]) != thread_of(call)) open.clear();
    while (o < ops.size() && thread_of(t.ops[ops[o]]) < thread_of(call)) ++o;
    while (o < ops.size() && thread_of(t.ops[ops[o]]) == thread_of(call) && t.ops[ops[o]].ts_ns <= call.ts_ns) {
      const OpRec& op = t.ops[ops[o]];
      while (!open.empty() && t.ops[open.back()].ts_ns + t.ops[open.back()].dur_ns <= op.ts_ns) open.pop_back();
      open.push_back(ops[o]);
      ++o;
    }
    while (!open.empty() && t.ops[open.back()].ts_ns + t.ops[open.back()].dur_ns <= call.ts_ns) open.pop_back();
    if (!open.empty()) {
      r.api_op[calls[c]] = open.back();
      ++r.launches_op_by_containment;
    } else {
      ++r.launches_without_op;
    }
  }
}

void join_ops(const TraceData& t, JoinResult& r) {
  std::vector<std::pair<int64_t, int32_t>> by_ext;
  for (size_t i = 0; i < t.ops.size(); ++i)
    if (t.ops[i].external_id != kNoId) by_ext.emplace_back(t.ops[i].external_id, static_cast<int32_t>(i));
  // For one External id, prefer a cpu_op over an annotation, then the shortest (innermost) one.
  std::sort(by_ext.begin(), by_ext.end(), [&](const auto& a, const auto& b) {
    const OpRec &x = t.ops[a.second], &y = t.ops[b.second];
    return std::make_tuple(a.first, x.kind != OpKind::kCpuOp, x.dur_ns) <
           std::make_tuple(b.first, y.kind != OpKind::kCpuOp, y.dur_ns);
  });
  std::vector<int32_t> pending;
  for (size_t i = 0; i < t.apis.size(); ++i) {
    const ApiRec& call = t.apis[i];
    if (!is_launch(call.kind) || r.api_shadowed[i]) continue;
    if (call.external_id != kNoId) {
      auto it = std::lower_bound(by_ext.begin(), by_ext.end(), call.external_id,
                                 [](const auto& e, int64_t id) { return e.first < id; });
      if (it != by_ext.end() && it->first == call.external_id) {
        r.api_op[i] = it->second;
        ++r.launches_op_by_external_id;
        continue;
      }
    }
    pending.push_back(static_cast<int32_t>(i));
  }
  join_ops_by_containment(t, r, pending);
}

}  // namespace

JoinResult join_events(const TraceData& trace) {
  JoinResult r;
  r.kernel_launch.assign(trace.kernels.size(), -1);
  r.api_kernels.assign(trace.apis.size(), 0);
  r.api_op.assign(trace.apis.size(), -1);
  r.api_shadowed.assign(trace.apis.size(), 0);
  join_kernels(trace, r);
  join_ops(trace, r);
  return r;
}

}  // namespace launchprof
