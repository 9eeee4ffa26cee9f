#include <set>
#include <string>

#include "launchprof/analyze/json_writer.h"
#include "launchprof/analyze/report.h"

namespace launchprof {
namespace {

int gi(GapClass c) { return static_cast<int>(c); }

void scope_json(JsonWriter& w, const std::string& path, const ScopeMetrics& m) {
  w.begin_object();
  w.field("trace", path);
  w.field("scope", m.device == kAllDevices ? "all" : (m.stream == kAllStreams ? "device" : "stream"));
  if (m.device == kAllDevices) w.null_field("device"); else w.field("device", m.device);
  if (m.stream == kAllStreams) w.null_field("stream"); else w.field("stream", m.stream);
  w.field("kernels", m.kernels);
  w.field("joined", m.joined);
  w.field("orphans", m.orphans);
  w.field("graph_kernels", m.graph_kernels);
  w.field("tklqt_us", ns_to_us(m.tklqt_ns));
  w.field("negative_lq", m.negative_lq);
  w.field("negative_lq_us", ns_to_us(m.negative_lq_ns));
  bool any = m.kernels > 0, joined = m.joined > 0;
  // Undefined statistics (no kernels, or no joined kernels) are null, never 0.
  auto opt = [&w](const char* k, bool defined, double v) { defined ? w.field(k, v) : w.null_field(k); };
  opt("lq_mean_us", joined, m.lq_mean_ns() / 1e3);
  opt("lq_min_us", joined, ns_to_us(m.lq_min_ns));
  opt("lq_p50_us", joined, ns_to_us(m.lq_p50_ns));
  opt("lq_p99_us", joined, ns_to_us(m.lq_p99_ns));
  opt("lq_max_us", joined, ns_to_us(m.lq_max_ns));
  opt("akd_us", any, m.akd_ns() / 1e3);
  w.field("kernel_time_ms", ns_to_ms(m.kernel_time_ns));
  opt("busy_ms", m.il_defined, ns_to_ms(m.busy_ns));
  opt("il_ms", m.il_defined, ns_to_ms(m.il_ns));
  opt("idle_ms", m.il_defined, ns_to_ms(m.idle_ns));
  opt("idle_sum_ms", m.il_defined, ns_to_ms(m.idle_sum_ns));
  opt("idle_frac", m.idle_fraction_defined(), m.idle_fraction());
  w.field("kernels_before_anchor", m.kernels_before_anchor);
  w.field("kernels_ending_before_anchor", m.kernels_ending_before_anchor);
  opt("queue_delay_us", joined, ns_to_us(m.queue_delay_ns));
  opt("queue_delay_max_us", joined, ns_to_us(m.queue_delay_max_ns));
  w.field("started_before_launch_returned", m.started_before_launch_returned);
  w.key("gaps");
  w.begin_object();
  for (GapClass c : {GapClass::kHostWait, GapClass::kKernelWait, GapClass::kOther, GapClass::kOverlap}) {
    w.key(gap_class_name(c));
    w.begin_object();
    w.field("count", m.gaps.count[gi(c)]);
    w.field("us", ns_to_us(m.gaps.gap_ns[gi(c)]));
    w.end_object();
  }
  w.end_object();
  w.field("queue_max", m.queue.max);
  w.field("queue_mean", m.queue.mean);
  w.field("memcpy", m.memcpy);
  w.field("memcpy_us", ns_to_us(m.memcpy_ns));
  w.field("memset", m.memset);
  w.field("memset_us", ns_to_us(m.memset_ns));
  opt("copy_busy_ms", m.il_defined, ns_to_ms(m.copy_busy_ns));
  w.end_object();
}

void kernel_stats_json(JsonWriter& w, const char* key, const std::vector<KernelStat>& ks, int64_t gpu_ns) {
  w.key(key);
  w.begin_array();
  for (const auto& k : ks) {
    w.begin_object();
    w.field("name", k.name);
    w.field("count", k.count);
    w.field("total_us", ns_to_us(k.total_ns));
    w.field("min_us", ns_to_us(k.min_ns));
    w.field("max_us", ns_to_us(k.max_ns));
    w.field("std_us", k.std_ns / 1e3);
    gpu_ns > 0 ? w.field("gpu_time_pct", 100.0 * k.total_ns / gpu_ns) : w.null_field("gpu_time_pct");
    w.field("joined", k.joined);
    w.field("lq_us", ns_to_us(k.lq_ns));
    w.end_object();
  }
  w.end_array();
}

void trace_json(JsonWriter& w, const TraceAnalysis& a, bool per_kernel) {
  const ReadCounts& c = a.counts;
  w.begin_object();
  w.field("trace", a.path);
  a.gpu_name.empty() ? w.null_field("gpu") : w.field("gpu", a.gpu_name);
  w.key("events");
  w.begin_object();
  w.field("total", c.events);
  w.field("kernel", c.kernels);
  w.field("cuda_runtime", c.runtime);
  w.field("cuda_driver", c.driver);
  w.field("gpu_memcpy", c.memcpy);
  w.field("gpu_memset", c.memset);
  w.field("cpu_op", c.cpu_ops);
  w.field("user_annotation", c.user_annotations);
  w.field("gpu_user_annotation", c.gpu_user_annotations);
  w.field("cuda_sync", c.gpu_syncs);
  w.field("ac2g_flows", c.flows);
  w.field("other", c.other);
  w.field("json_bytes", c.input_bytes);
  w.field("stored_bytes", c.stored_bytes);
  w.end_object();
  w.key("il_anchor");
  w.begin_object();
  w.field("kind", anchor_kind_name(a.anchor.kind));
  w.field("ts_us", ns_to_us(a.time_base_ns + a.anchor.ts_ns));
  w.end_object();
  w.key("join");
  w.begin_object();
  w.field("launch_calls", a.launches);
  w.field("graph_launches", a.graph_launches);
  w.field("graph_kernels", a.graph_kernels);
  w.field("op_by_external_id", a.launches_op_by_external_id);
  w.field("op_by_containment", a.launches_op_by_containment);
  w.field("launches_without_op", a.launches_without_op);
  w.end_object();
  const Anomalies& an = a.anomalies;
  w.key("anomalies");
  w.begin_object();
  w.field("negative_lq", an.negative_lq);
  w.field("orphan_kernels", an.orphan_kernels);
  w.field("orphans_no_correlation", an.orphans_no_correlation);
  w.field("orphans_unmatched", an.orphans_unmatched);
  w.field("launches_without_kernel", an.launches_without_kernel);
  w.field("duplicate_correlations", an.duplicate_correlations);
  w.field("kernels_before_anchor", an.kernels_before_anchor);
  w.field("kernels_ending_before_anchor", an.kernels_ending_before_anchor);
  w.field("same_stream_overlaps", an.same_stream_overlaps);
  w.field("negative_durations", an.negative_durations);
  w.field("skipped_bad_phase", an.skipped_bad_phase);
  w.field("skipped_missing_time", an.skipped_missing_time);
  w.end_object();
  w.field("distinct_kernel_names", a.tables.distinct_kernel_names);
  kernel_stats_json(w, "top_kernels_by_count", a.tables.by_count, a.tables.kernel_time_ns);
  kernel_stats_json(w, "top_kernels_by_time", a.tables.by_time, a.tables.kernel_time_ns);
  auto ops_json = [&w](const char* key, const std::vector<OpStat>& ops) {
    w.key(key);
    w.begin_array();
    for (const auto& o : ops) {
      w.begin_object();
      w.field("name", o.name);
      w.field("calls", o.calls);
      w.field("cpu_time_us", ns_to_us(o.cpu_ns));
      w.field("launches", o.launches);
      w.field("kernels", o.kernels);
      w.field("gpu_time_us", ns_to_us(o.gpu_ns));
      w.field("tklqt_us", ns_to_us(o.lq_ns));
      w.end_object();
    }
    w.end_array();
  };
  ops_json("top_operators", a.tables.ops_by_kernels);
  ops_json("top_operators_by_gpu_time", a.tables.ops_by_gpu_time);
  w.key("api_calls");
  w.begin_array();
  for (const auto& api : a.tables.apis_by_time) {
    w.begin_object();
    w.field("name", api.name);
    w.field("driver", api.is_driver);
    w.field("calls", api.calls);
    w.field("total_us", ns_to_us(api.total_ns));
    w.field("min_us", ns_to_us(api.min_ns));
    w.field("max_us", ns_to_us(api.max_ns));
    w.field("kernels", api.kernels);
    w.end_object();
  }
  w.end_array();
  w.key("copies_and_sets");
  w.begin_array();
  for (const auto& m : a.tables.mems) {
    w.begin_object();
    w.field("kind", m.kind);
    w.field("size", m.size);
    w.field("count", m.count);
    w.field("bytes", static_cast<uint64_t>(m.bytes));
    w.field("total_us", ns_to_us(m.total_ns));
    w.end_object();
  }
  w.end_array();
  w.key("steps");
  w.begin_array();
  for (const auto& st : a.steps) {
    const ScopeMetrics& m = st.metrics;
    w.begin_object();
    w.field("name", st.name);
    w.field("ts_us", ns_to_us(a.time_base_ns + st.ts_ns));
    w.field("dur_us", ns_to_us(st.dur_ns));
    w.field("kernels", m.kernels);
    w.field("tklqt_us", ns_to_us(m.tklqt_ns));
    m.joined ? w.field("lq_p50_us", ns_to_us(m.lq_p50_ns)) : w.null_field("lq_p50_us");
    m.il_defined ? w.field("il_ms", ns_to_ms(m.il_ns)) : w.null_field("il_ms");
    m.il_defined ? w.field("idle_ms", ns_to_ms(m.idle_ns)) : w.null_field("idle_ms");
    w.end_object();
  }
  w.end_array();
  a.window.empty() ? w.null_field("window") : w.field("window", a.window);
  w.key("in_kernel");
  w.begin_object();
  w.field("tasks", c.in_kernel_tasks);
  w.field("marks", c.in_kernel_marks);
  w.key("stages");
  w.begin_array();
  for (const auto& s : a.in_kernel) {
    w.begin_object();
    w.field("stage", s.stage);
    w.field("tasks", s.tasks);
    w.field("tracks", s.tracks);
    w.field("task_time_us", ns_to_us(s.total_ns));
    w.field("first_start_us", ns_to_us(a.time_base_ns + s.first_start_ns));
    w.field("last_end_us", ns_to_us(a.time_base_ns + s.last_end_ns));
    w.end_object();
  }
  w.end_array();
  w.end_object();
  const FusionResult& f = a.fusion;
  w.key("fusion");
  w.begin_object();
  w.field("sequences", f.sequences);
  w.field("sync_calls", f.sync_calls);
  w.field("distinct_chains", f.distinct_chains);
  w.field("table_full", f.table_full);
  w.field("selection_cut", f.selection_cut);
  w.key("candidates");
  w.begin_array();
  for (size_t i = 0; i < f.candidates.size(); ++i) {
    const auto& cand = f.candidates[i];
    w.begin_object();
    w.field("score", cand.score);
    w.field("length", static_cast<uint64_t>(cand.names.size()));
    w.field("occurrences", cand.occurrences);
    w.field("chain_occurrences", cand.chain_occurrences);
    w.field("first_kernel_occurrences", cand.first_kernel_occurrences);
    w.field("launches_removable", cand.launches_removable());
    w.field("lq_removable_us", ns_to_us(cand.lq_removable_ns));
    w.field("kernel_time_us", ns_to_us(cand.kernel_time_ns));
    w.key("kernels");
    w.begin_array();
    for (const auto& n : a.fusion_chain_names[i]) w.value(n);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  if (per_kernel) {
    w.key("per_kernel");
    w.begin_array();
    for (const auto& r : a.per_kernel) {
      w.begin_object();
      w.field("name", r.name);
      w.field("device", r.device);
      w.field("stream", r.stream);
      w.field("ts_us", ns_to_us(r.ts_ns));
      w.field("dur_us", ns_to_us(r.dur_ns));
      r.correlation == kNoId ? w.null_field("correlation") : w.field("correlation", r.correlation);
      if (r.joined) {
        w.field("launch", r.launch_name);
        w.field("launch_ts_us", ns_to_us(r.launch_ts_ns));
        w.field("lq_us", ns_to_us(r.lq_ns));
        w.field("queue_delay_us", ns_to_us(r.queue_delay_ns));
      } else {
        w.null_field("launch");
      }
      w.field("gap_class", gap_class_name(r.gap_class));
      w.field("gap_us", ns_to_us(r.gap_ns));
      r.op_name.empty() ? w.null_field("operator") : w.field("operator", r.op_name);
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
}

}  // namespace

void write_envelope_fields(JsonWriter& w, const char* tool, const RunInfo& run, const std::string& gpu, size_t gpus) {
  w.field("tool", tool);
  w.field("command", run.command);
  w.field("commit", run.commit);
  w.field("date", run.date);
  gpu.empty() ? w.null_field("gpu") : w.field("gpu", gpu);
  w.field("gpus", static_cast<uint64_t>(gpus));
}

std::string json_report(const std::vector<TraceAnalysis>& analyses, const RunInfo& run, bool per_kernel) {
  std::string out;
  JsonWriter w(&out);
  std::string gpu;
  std::set<int32_t> devices;
  for (const auto& a : analyses) {
    if (gpu.empty()) gpu = a.gpu_name;
    for (const auto& d : a.devices) devices.insert(d.device);
  }
  w.begin_object();
  write_envelope_fields(w, "launchprof analyze", run, gpu, devices.size());
  w.key("rows");
  w.begin_array();
  for (const auto& a : analyses) {
    scope_json(w, a.path, a.all);
    for (const auto& d : a.devices) scope_json(w, a.path, d);
    for (const auto& s : a.streams) scope_json(w, a.path, s);
  }
  w.end_array();
  w.key("traces");
  w.begin_array();
  for (const auto& a : analyses) trace_json(w, a, per_kernel);
  w.end_array();
  w.end_object();
  return out;
}

}  // namespace launchprof
