#include "trace_link.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <unordered_map>
#include <utility>

#include "api_names.h"

namespace launchprof::record {
namespace {

using ThreadKey = std::pair<uint32_t, uint32_t>;  // (pid, tid)

struct Window {
  uint64_t start_ns;
  uint64_t end_ns;
};

bool in_windows(const std::vector<Window>& windows, uint64_t t) {
  for (const Window& w : windows) {
    if (t >= w.start_ns && t <= w.end_ns) return true;
  }
  return false;
}

bool overlaps_windows(const std::vector<Window>& windows, uint64_t start, uint64_t end) {
  for (const Window& w : windows) {
    if (start <= w.end_ns && end >= w.start_ns) return true;
  }
  return false;
}

// Capture windows from cudaProfilerStart/Stop pairs, in time order. A start with no stop runs to the end.
std::vector<Window> profiler_windows(const TraceModel& model) {
  std::vector<std::pair<uint64_t, int>> marks;  // (time, +1 start / -1 stop)
  for (const ApiCall& c : model.api_calls) {
    const std::string& name = model.strings.at(c.name_idx);
    if (is_profiler_start_api(name)) marks.emplace_back(c.start_ns, +1);
    if (is_profiler_stop_api(name)) marks.emplace_back(c.end_ns, -1);
  }
  std::sort(marks.begin(), marks.end());
  std::vector<Window> windows;
  bool open = false;
  uint64_t open_at = 0;
  for (auto [t, kind] : marks) {
    if (kind > 0 && !open) {
      open = true;
      open_at = t;
    } else if (kind < 0 && open) {
      windows.push_back({open_at, t});
      open = false;
    }
  }
  if (open) windows.push_back({open_at, UINT64_MAX});
  return windows;
}

// A call made inside a runtime call on the same thread (the runtime's own driver calls, or a runtime call the runtime
// makes internally, if CUPTI reports one) gets that runtime call as parent: the outer call is what the program made.
void link_nesting(const TraceModel& model, LinkedTrace& out) {
  std::map<ThreadKey, std::vector<int32_t>> by_thread;
  for (size_t i = 0; i < model.api_calls.size(); ++i) {
    by_thread[{model.api_calls[i].pid, model.api_calls[i].tid}].push_back(static_cast<int32_t>(i));
  }
  for (auto& [key, idx] : by_thread) {
    std::sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) {
      const ApiCall& ca = model.api_calls[a];
      const ApiCall& cb = model.api_calls[b];
      if (ca.start_ns != cb.start_ns) return ca.start_ns < cb.start_ns;
      if (ca.end_ns != cb.end_ns) return ca.end_ns > cb.end_ns;  // the enclosing call first
      return ca.domain == ApiDomain::kRuntime && cb.domain != ApiDomain::kRuntime;
    });
    std::vector<int32_t> open_runtime;  // stack of runtime calls that may still enclose later calls
    for (int32_t i : idx) {
      const ApiCall& c = model.api_calls[i];
      while (!open_runtime.empty() && model.api_calls[open_runtime.back()].end_ns < c.start_ns) open_runtime.pop_back();
      if (!open_runtime.empty() && model.api_calls[open_runtime.back()].end_ns >= c.end_ns) {
        out.api_parent[i] = open_runtime.back();
      }
      if (c.domain == ApiDomain::kRuntime) open_runtime.push_back(i);
    }
  }
}

// Each API call gets the innermost NVTX range of its thread that is open at the call's start.
void link_ranges(const TraceModel& model, LinkedTrace& out) {
  std::map<ThreadKey, std::vector<int32_t>> ranges_by_thread;
  for (size_t i = 0; i < model.ranges.size(); ++i) {
    ranges_by_thread[{model.ranges[i].pid, model.ranges[i].tid}].push_back(static_cast<int32_t>(i));
  }
  if (ranges_by_thread.empty()) return;
  std::map<ThreadKey, std::vector<int32_t>> calls_by_thread;
  for (size_t i = 0; i < model.api_calls.size(); ++i) {
    calls_by_thread[{model.api_calls[i].pid, model.api_calls[i].tid}].push_back(static_cast<int32_t>(i));
  }
  for (auto& [key, calls] : calls_by_thread) {
    auto it = ranges_by_thread.find(key);
    if (it == ranges_by_thread.end()) continue;
    std::vector<int32_t>& ranges = it->second;
    std::sort(ranges.begin(), ranges.end(), [&](int32_t a, int32_t b) {
      const Range& ra = model.ranges[a];
      const Range& rb = model.ranges[b];
      return ra.start_ns != rb.start_ns ? ra.start_ns < rb.start_ns : ra.end_ns > rb.end_ns;
    });
    std::sort(calls.begin(), calls.end(),
              [&](int32_t a, int32_t b) { return model.api_calls[a].start_ns < model.api_calls[b].start_ns; });
    std::vector<int32_t> open;  // ranges started and not known to be over; innermost last
    size_t next = 0;
    for (int32_t ci : calls) {
      uint64_t t = model.api_calls[ci].start_ns;
      while (next < ranges.size() && model.ranges[ranges[next]].start_ns <= t) open.push_back(ranges[next++]);
      while (!open.empty() && model.ranges[open.back()].end_ns < t) open.pop_back();
      if (!open.empty()) out.api_range[ci] = open.back();
    }
  }
}

void link_ops(const TraceModel& model, LinkedTrace& out) {
  std::unordered_map<uint32_t, int32_t> runtime_by_corr;
  std::unordered_map<uint32_t, int32_t> driver_by_corr;
  for (size_t i = 0; i < model.api_calls.size(); ++i) {
    const ApiCall& c = model.api_calls[i];
    auto& table = c.domain == ApiDomain::kRuntime ? runtime_by_corr : driver_by_corr;
    table.emplace(c.correlation, static_cast<int32_t>(i));
  }
  auto lookup = [](const std::unordered_map<uint32_t, int32_t>& table, uint32_t corr) {
    auto it = table.find(corr);
    return it == table.end() ? -1 : it->second;
  };
  std::unordered_map<int32_t, int32_t> first_op;  // launch call -> its earliest op
  for (size_t i = 0; i < model.gpu_ops.size(); ++i) {
    const GpuOp& op = model.gpu_ops[i];
    int32_t launch = -1;
    if (op.runtime_correlation != 0) launch = lookup(runtime_by_corr, op.runtime_correlation);
    if (launch < 0) launch = lookup(runtime_by_corr, op.correlation);
    if (launch < 0) launch = lookup(driver_by_corr, op.correlation);
    while (launch >= 0 && out.api_parent[launch] >= 0) launch = out.api_parent[launch];
    out.op_launch[i] = launch;
    if (launch < 0) continue;
    out.api_num_ops[launch] += 1;
    auto [it, inserted] = first_op.emplace(launch, static_cast<int32_t>(i));
    if (!inserted && op.start_ns < model.gpu_ops[it->second].start_ns) it->second = static_cast<int32_t>(i);
  }
  for (auto [launch, op] : first_op) out.op_first[op] = 1;
}

}  // namespace

LinkedTrace link_trace(const TraceModel& model, const LinkOptions& options) {
  LinkedTrace out;
  const size_t num_api = model.api_calls.size();
  out.api_parent.assign(num_api, -1);
  out.api_range.assign(num_api, -1);
  out.api_num_ops.assign(num_api, 0);
  out.api_kept.assign(num_api, 1);
  out.op_launch.assign(model.gpu_ops.size(), -1);
  out.op_first.assign(model.gpu_ops.size(), 0);
  out.op_kept.assign(model.gpu_ops.size(), 1);
  out.range_kept.assign(model.ranges.size(), 1);
  out.sync_kept.assign(model.syncs.size(), 1);

  link_nesting(model, out);
  link_ranges(model, out);
  link_ops(model, out);
  for (size_t i = 0; i < num_api; ++i) {
    if (out.api_parent[i] >= 0) out.api_kept[i] = 0;
  }

  if (options.capture_profiler_range) {
    std::vector<Window> windows = profiler_windows(model);
    if (windows.empty()) {
      out.capture_range_missing = true;
    } else {
      for (size_t i = 0; i < num_api; ++i) {
        if (!in_windows(windows, model.api_calls[i].start_ns)) out.api_kept[i] = 0;
      }
      for (size_t i = 0; i < model.gpu_ops.size(); ++i) {
        int32_t launch = out.op_launch[i];
        out.op_kept[i] = launch >= 0 ? out.api_kept[launch] : in_windows(windows, model.gpu_ops[i].start_ns);
        if (launch >= 0 && !out.op_kept[i]) out.op_first[i] = 0;
      }
      for (size_t i = 0; i < model.ranges.size(); ++i) {
        out.range_kept[i] = overlaps_windows(windows, model.ranges[i].start_ns, model.ranges[i].end_ns);
      }
      for (size_t i = 0; i < model.syncs.size(); ++i) {
        out.sync_kept[i] = in_windows(windows, model.syncs[i].start_ns);
      }
    }
  }

  uint64_t base = UINT64_MAX;
  auto consider = [&](uint64_t t) {
    if (t != 0 && t < base) base = t;
  };
  for (size_t i = 0; i < num_api; ++i) {
    if (out.api_kept[i]) consider(model.api_calls[i].start_ns);
  }
  for (size_t i = 0; i < model.gpu_ops.size(); ++i) {
    if (out.op_kept[i]) consider(model.gpu_ops[i].start_ns);
  }
  for (size_t i = 0; i < model.ranges.size(); ++i) {
    if (out.range_kept[i]) consider(model.ranges[i].start_ns);
  }
  for (size_t i = 0; i < model.syncs.size(); ++i) {
    if (out.sync_kept[i]) consider(model.syncs[i].start_ns);
  }
  out.base_ns = base == UINT64_MAX ? 0 : base;
  return out;
}

TraceSummary summarize(const TraceModel& model, const LinkedTrace& linked) {
  TraceSummary s;
  for (size_t i = 0; i < model.api_calls.size(); ++i) {
    if (linked.api_parent[i] >= 0) {
      s.nested_calls += 1;
      continue;
    }
    if (!linked.api_kept[i]) continue;
    s.api_calls += 1;
    if (is_kernel_launch_api(model.strings.at(model.api_calls[i].name_idx))) {
      s.kernel_launch_calls += 1;
      if (linked.api_num_ops[i] == 0) s.launches_without_op += 1;
    }
  }
  for (size_t i = 0; i < model.gpu_ops.size(); ++i) {
    if (!linked.op_kept[i]) continue;
    const GpuOp& op = model.gpu_ops[i];
    const int32_t launch = linked.op_launch[i];
    if (op.kind != GpuOpKind::kKernel) {
      (op.kind == GpuOpKind::kMemcpy ? s.memcpys : s.memsets) += 1;
      if (launch < 0) s.orphan_other_ops += 1;
      continue;
    }
    s.kernels += 1;
    s.kernel_time_ns += static_cast<int64_t>(op.end_ns) - static_cast<int64_t>(op.start_ns);
    if (op.graph_id != 0) s.graph_kernels += 1;
    if (launch < 0) {
      s.orphan_kernels += 1;
      continue;
    }
    const int64_t lq = static_cast<int64_t>(op.start_ns) - static_cast<int64_t>(model.api_calls[launch].start_ns);
    s.lq_terms += 1;
    s.tklqt_ns += lq;
    if (lq < 0) s.negative_lq += 1;
  }
  for (size_t i = 0; i < model.ranges.size(); ++i) s.ranges += linked.range_kept[i];
  for (size_t i = 0; i < model.syncs.size(); ++i) s.syncs += linked.sync_kept[i];
  return s;
}

std::string format_summary(const TraceModel& model, const LinkedTrace& linked, const TraceSummary& s) {
  char buf[1024];
  std::string out;
  std::snprintf(buf, sizeof(buf),
                "launchprof: pid %u: %" PRIu64 " kernels (%" PRIu64 " from graphs), %" PRIu64 " memcpy, %" PRIu64
                " memset, %" PRIu64 " kernel launch calls, %" PRIu64 " NVTX ranges, %" PRIu64 " syncs\n",
                model.pid, s.kernels, s.graph_kernels, s.memcpys, s.memsets, s.kernel_launch_calls, s.ranges, s.syncs);
  out += buf;
  std::snprintf(buf, sizeof(buf),
                "launchprof: TKLQT %.3f us over %" PRIu64 " kernels (mean lq %.3f us), kernel time %.3f us\n",
                s.tklqt_ns / 1e3, s.lq_terms, s.lq_terms ? s.tklqt_ns / 1e3 / s.lq_terms : 0.0, s.kernel_time_ns / 1e3);
  out += buf;
  std::snprintf(buf, sizeof(buf),
                "launchprof: orphan kernels %" PRIu64 ", orphan memcpy/memset %" PRIu64
                ", launches with no kernel %" PRIu64 ", negative lq %" PRIu64 ", dropped records %" PRIu64
                ", ops without timestamps %" PRIu64 "\n",
                s.orphan_kernels, s.orphan_other_ops, s.launches_without_op, s.negative_lq,
                model.counts.dropped_records, model.counts.ops_without_timestamps);
  out += buf;
  if (model.counts.unclosed_ranges || model.counts.unmatched_range_ends) {
    std::snprintf(buf, sizeof(buf),
                  "launchprof: NVTX ranges never closed %" PRIu64 ", ends with no start %" PRIu64 "\n",
                  model.counts.unclosed_ranges, model.counts.unmatched_range_ends);
    out += buf;
  }
  if (linked.capture_range_missing) {
    out += "launchprof: warning: capture range asked for but no cudaProfilerStart seen; the whole run is kept\n";
  }
  if (model.counts.dropped_records) {
    out += "launchprof: warning: CUPTI dropped records; raise LAUNCHPROF_BUFFER_MB\n";
  }
  if (model.counts.api_calls_lost) {
    snprintf(buf, sizeof(buf), "launchprof: warning: %" PRIu64 " API calls lost (a thread's call log was full)\n",
             model.counts.api_calls_lost);
    out += buf;
  }
  return out;
}

}  // namespace launchprof::record
