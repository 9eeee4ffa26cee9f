#include "launchprof/analyze/analysis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "launchprof/analyze/trace_reader.h"

namespace launchprof {
namespace {

// gpu_memcpy / gpu_memset counts for one scope.
void add_mems(const TraceData& t, ScopeMetrics& m) {
  for (const MemRec& r : t.mems) {
    if (m.device != kAllDevices && r.device != m.device) continue;
    if (m.stream != kAllStreams && r.stream != m.stream) continue;
    ++(r.is_memset ? m.memset : m.memcpy);
    (r.is_memset ? m.memset_ns : m.memcpy_ns) += r.dur_ns;
  }
}

std::vector<PerKernelRow> per_kernel_rows(const TraceData& t, const JoinResult& join, const PerKernelDerived& d,
                                          const std::vector<uint32_t>& order) {
  std::vector<PerKernelRow> rows;
  rows.reserve(order.size());
  for (uint32_t j : order) {
    const KernelRec& k = t.kernels[j];
    PerKernelRow r{};
    r.name = t.names.name(k.name);
    r.device = k.device;
    r.stream = k.stream;
    r.ts_ns = t.time_base_ns + k.ts_ns;  // absolute, as in the trace
    r.dur_ns = k.dur_ns;
    r.correlation = k.correlation;
    r.joined = d.timing.joined[j];
    r.gap_class = static_cast<GapClass>(d.gap_class[j]);
    r.gap_ns = d.gap_ns[j];
    if (r.joined) {
      const ApiRec& call = t.apis[join.kernel_launch[j]];
      r.launch_name = t.names.name(call.name);
      r.launch_ts_ns = t.time_base_ns + call.ts_ns;
      r.lq_ns = k.ts_ns - call.ts_ns;
      r.queue_delay_ns = std::max<int64_t>(0, k.ts_ns - (call.ts_ns + call.dur_ns));
      int32_t op = join.api_op[join.kernel_launch[j]];
      if (op >= 0) r.op_name = t.names.name(t.ops[op].name);
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

// ProfilerStep#N ranges (PyTorch's profiler schedule) and the kernels launched in each.
std::vector<StepMetrics> step_metrics(const TraceData& t, const JoinResult& join, const PerKernelDerived& d) {
  std::vector<StepMetrics> steps;
  for (const OpRec& op : t.ops) {
    std::string_view name = t.names.name(op.name);
    if (name.rfind("ProfilerStep#", 0) != 0) continue;
    StepMetrics s;
    s.name = std::string(name);
    s.ts_ns = op.ts_ns;
    s.dur_ns = op.dur_ns;
    steps.push_back(std::move(s));
  }
  if (steps.empty()) return steps;
  std::sort(steps.begin(), steps.end(), [](const StepMetrics& a, const StepMetrics& b) { return a.ts_ns < b.ts_ns; });
  std::vector<std::vector<uint32_t>> members(steps.size());
  for (uint32_t k = 0; k < t.kernels.size(); ++k) {
    int64_t host = d.timing.joined[k] ? d.timing.launch_start_ns[k] : t.kernels[k].ts_ns;
    // The last step starting at or before `host`, if `host` is inside it.
    auto it =
        std::upper_bound(steps.begin(), steps.end(), host, [](int64_t v, const StepMetrics& s) { return v < s.ts_ns; });
    if (it == steps.begin()) continue;
    --it;
    if (host < it->ts_ns + it->dur_ns) members[it - steps.begin()].push_back(k);
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    Anchor anchor{AnchorKind::kOperator, steps[i].ts_ns};
    steps[i].metrics = compute_scope(t, d, members[i], anchor, join);
  }
  return steps;
}

std::vector<InKernelStage> in_kernel_stages(const TraceData& t) {
  std::map<uint32_t, InKernelStage> by_name;
  std::map<uint32_t, std::set<std::pair<int64_t, int64_t>>> tracks;
  for (const TaskRec& r : t.tasks) {
    InKernelStage& s = by_name[r.name];
    if (s.tasks == 0) {
      s.stage = std::string(t.names.name(r.name));
      s.first_start_ns = r.ts_ns;
      s.last_end_ns = r.ts_ns + r.dur_ns;
    }
    ++s.tasks;
    s.total_ns += r.dur_ns;
    s.first_start_ns = std::min(s.first_start_ns, r.ts_ns);
    s.last_end_ns = std::max(s.last_end_ns, r.ts_ns + r.dur_ns);
    tracks[r.name].insert({r.pid, r.tid});
  }
  std::vector<InKernelStage> out;
  for (auto& [name, s] : by_name) {
    s.tracks = tracks[name].size();
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const InKernelStage& a, const InKernelStage& b) {
    return a.first_start_ns != b.first_start_ns ? a.first_start_ns < b.first_start_ns : a.stage < b.stage;
  });
  return out;
}

}  // namespace

void apply_window(TraceData* t, int64_t from, int64_t to) {
  auto outside = [from, to](const auto& r) { return r.ts_ns < from || r.ts_ns >= to; };
  std::erase_if(t->kernels, outside);
  std::erase_if(t->apis, outside);
  std::erase_if(t->ops, outside);
  std::erase_if(t->mems, outside);
  std::erase_if(t->tasks, outside);
}

TraceAnalysis analyze_trace(const TraceData& t, const AnalyzeOptions& options) {
  TraceAnalysis a;
  a.gpu_name = t.gpu_name;
  a.counts = t.counts;
  const JoinResult join = join_events(t);
  a.anchor = find_anchor(t, join);
  a.time_base_ns = t.time_base_ns;
  a.launches = join.launches;
  a.graph_launches = join.graph_launches;
  a.graph_kernels = join.graph_kernels;
  a.launches_op_by_external_id = join.launches_op_by_external_id;
  a.launches_op_by_containment = join.launches_op_by_containment;
  a.launches_without_op = join.launches_without_op;

  PerKernelDerived derived = derive_per_kernel(t, join);

  // Kernels grouped by (device, stream), each group in start order (ties: earlier end first).
  std::vector<uint32_t> order(t.kernels.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  auto key = [&t](uint32_t i) {
    const KernelRec& k = t.kernels[i];
    return std::make_tuple(k.device, k.stream, k.ts_ns, k.dur_ns, i);
  };
  std::sort(order.begin(), order.end(), [&key](uint32_t x, uint32_t y) { return key(x) < key(y); });

  std::vector<std::vector<uint32_t>> streams;
  std::vector<std::vector<uint32_t>> devices;
  for (size_t i = 0; i < order.size(); ++i) {
    const KernelRec& k = t.kernels[order[i]];
    bool new_device = i == 0 || t.kernels[order[i - 1]].device != k.device;
    bool new_stream = new_device || t.kernels[order[i - 1]].stream != k.stream;
    if (new_device) devices.emplace_back();
    if (new_stream) streams.emplace_back();
    devices.back().push_back(order[i]);
    streams.back().push_back(order[i]);
  }

  // Copies and sets of each scope: they count as GPU busy time.
  std::map<std::pair<int32_t, int64_t>, std::vector<uint32_t>> stream_mems;
  std::map<int32_t, std::vector<uint32_t>> device_mems;
  std::vector<uint32_t> all_mems(t.mems.size());
  for (uint32_t i = 0; i < t.mems.size(); ++i) {
    all_mems[i] = i;
    stream_mems[{t.mems[i].device, t.mems[i].stream}].push_back(i);
    device_mems[t.mems[i].device].push_back(i);
  }
  auto mems_of = [](auto& map, const auto& key) -> const std::vector<uint32_t>& {
    static const std::vector<uint32_t> kNone;
    auto it = map.find(key);
    return it == map.end() ? kNone : it->second;
  };

  // Streams first: gap classes are per stream and roll up into devices and the whole trace.
  GapStats all_gaps;
  for (const auto& ks : streams) {
    GapStats g = classify_gaps(ks, t.kernels, derived.timing, &derived.gap_class, &derived.gap_ns);
    const KernelRec& k0 = t.kernels[ks[0]];
    ScopeMetrics m =
        compute_scope(t, derived, ks, a.anchor, join, mems_of(stream_mems, std::make_pair(k0.device, k0.stream)));
    m.device = t.kernels[ks[0]].device;
    m.stream = t.kernels[ks[0]].stream;
    m.gaps = g;
    add_mems(t, m);
    all_gaps.add(g);
    a.streams.push_back(std::move(m));
  }
  for (const auto& ks : devices) {
    ScopeMetrics m = compute_scope(t, derived, ks, a.anchor, join, mems_of(device_mems, t.kernels[ks[0]].device));
    m.device = t.kernels[ks[0]].device;
    for (const ScopeMetrics& s : a.streams)
      if (s.device == m.device) m.gaps.add(s.gaps);
    add_mems(t, m);
    a.devices.push_back(std::move(m));
  }
  a.all = compute_scope(t, derived, order, a.anchor, join, all_mems);
  a.all.gaps = all_gaps;
  add_mems(t, a.all);

  a.tables = top_tables(t, join, derived, options.top_n);
  FusionOptions fo = options.fusion;
  fo.top_n = options.top_n;
  a.fusion = find_fusion_candidates(t, join, derived, streams, fo);
  for (const FusionCandidate& c : a.fusion.candidates) {
    std::vector<std::string> chain;
    for (uint32_t id : c.names) chain.emplace_back(t.names.name(id));
    a.fusion_chain_names.push_back(std::move(chain));
  }

  Anomalies& an = a.anomalies;
  an.negative_lq = a.all.negative_lq;
  an.orphan_kernels = join.orphans();
  an.orphans_no_correlation = join.orphans_no_correlation;
  an.orphans_unmatched = join.orphans_unmatched;
  an.launches_without_kernel = join.launches_without_kernel;
  an.duplicate_correlations = join.duplicate_correlations;
  an.kernels_before_anchor = a.all.kernels_before_anchor;
  an.kernels_ending_before_anchor = a.all.kernels_ending_before_anchor;
  an.same_stream_overlaps = all_gaps.count[static_cast<int>(GapClass::kOverlap)];
  an.negative_durations = t.counts.negative_durations;
  an.skipped_bad_phase = t.counts.skipped_bad_phase;
  an.skipped_missing_time = t.counts.skipped_missing_time;

  if (options.per_kernel) a.per_kernel = per_kernel_rows(t, join, derived, order);
  a.steps = step_metrics(t, join, derived);
  a.in_kernel = in_kernel_stages(t);
  return a;
}

Status analyze_file(const std::string& path, const AnalyzeOptions& options, TraceAnalysis* out) {
  TraceData trace;
  Status s = read_trace_file(path, &trace);
  if (!s.ok()) return s;
  if (options.has_window) apply_window(&trace, options.window_from_ns, options.window_to_ns);
  *out = analyze_trace(trace, options);
  out->path = path;
  if (options.has_window) {
    char buf[160];
    std::snprintf(buf, sizeof(buf), "events starting in [%.3f, %.3f) us after the trace's first event",
                  options.window_from_ns / 1e3,
                  options.window_to_ns == INT64_MAX ? INFINITY : options.window_to_ns / 1e3);
    out->window = buf;
  }
  return Status::Ok();
}

}  // namespace launchprof
