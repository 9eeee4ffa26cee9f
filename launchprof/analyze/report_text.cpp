#include <cinttypes>
#include <string>
#include <vector>

#include "launchprof/analyze/report.h"
#include "launchprof/analyze/text_format.h"

namespace launchprof {
namespace {

constexpr size_t kNameWidth = 90;  // kernel and operator names in the top-k tables
constexpr size_t kChainNameWidth = 48;

std::string dur(bool defined, double ns) { return format_duration_or_dash(defined, ns); }
std::string dur(int64_t ns) { return format_duration_ns(static_cast<double>(ns)); }

void scope_row(std::FILE* out, const ScopeMetrics& m) {
  bool joined = m.joined > 0, any = m.kernels > 0;
  std::fprintf(out, "%-22s %9" PRIu64 " %7" PRIu64 " %10s %10s %10s %10s %7" PRIu64 " %10s %10s %10s %6s %10s %5u %7s\n",
               scope_label(m).c_str(), m.kernels, m.orphans, dur(joined, m.tklqt_ns).c_str(),
               dur(joined, m.lq_mean_ns()).c_str(), dur(joined, m.lq_p50_ns).c_str(), dur(joined, m.lq_p99_ns).c_str(),
               m.negative_lq, dur(any, m.akd_ns()).c_str(), dur(m.il_defined, m.il_ns).c_str(),
               dur(m.il_defined, m.idle_ns).c_str(),
               format_fixed_or_dash(m.idle_fraction_defined(), 100.0 * m.idle_fraction(), 1).c_str(),
               dur(joined, joined ? static_cast<double>(m.queue_delay_ns) / m.joined : 0.0).c_str(), m.queue.max,
               format_fixed_or_dash(joined, m.queue.mean, 2).c_str());
}

void gap_row(std::FILE* out, const ScopeMetrics& m) {
  const GapStats& g = m.gaps;
  auto cell = [&](GapClass c) {
    int i = static_cast<int>(c);
    std::fprintf(out, " %9" PRIu64 " %10s", g.count[i], dur(g.gap_ns[i]).c_str());
  };
  std::fprintf(out, "%-22s", scope_label(m).c_str());
  cell(GapClass::kHostWait);
  cell(GapClass::kKernelWait);
  cell(GapClass::kOther);
  std::fprintf(out, " %9" PRIu64 "\n", g.count[static_cast<int>(GapClass::kOverlap)]);
}

void kernel_table(std::FILE* out, const char* title, const std::vector<KernelStat>& ks, int64_t gpu_ns) {
  std::vector<std::string> names;
  for (const auto& k : ks) names.push_back(k.name);
  names = distinct_short_names(names, kNameWidth);
  std::fprintf(out, "\n%s\n%9s %10s %6s %10s %10s %10s %10s %10s  %s\n", title, "count", "total", "%gpu", "mean", "min",
               "max", "std", "lq_mean", "name");
  for (size_t i = 0; i < ks.size(); ++i) {
    const auto& k = ks[i];
    std::fprintf(out, "%9" PRIu64 " %10s %6s %10s %10s %10s %10s %10s  %s\n", k.count, dur(k.total_ns).c_str(),
                 format_fixed_or_dash(gpu_ns > 0, 100.0 * k.total_ns / gpu_ns, 1).c_str(),
                 dur(true, static_cast<double>(k.total_ns) / k.count).c_str(), dur(k.min_ns).c_str(),
                 dur(k.max_ns).c_str(), dur(true, k.std_ns).c_str(),
                 dur(k.joined > 0, k.joined ? static_cast<double>(k.lq_ns) / k.joined : 0.0).c_str(),
                 names[i].c_str());
  }
}

void op_table(std::FILE* out, const char* title, const std::vector<OpStat>& ops) {
  std::vector<std::string> names;
  for (const auto& o : ops) names.push_back(o.name);
  names = distinct_short_names(names, kNameWidth);
  std::fprintf(out, "\n%s\n%9s %10s %9s %9s %10s %10s  %s\n", title, "calls", "cpu_time", "launches", "kernels",
               "gpu_time", "TKLQT", "operator");
  for (size_t i = 0; i < ops.size(); ++i) {
    const auto& o = ops[i];
    std::fprintf(out, "%9" PRIu64 " %10s %9" PRIu64 " %9" PRIu64 " %10s %10s  %s\n", o.calls, dur(o.cpu_ns).c_str(),
                 o.launches, o.kernels, dur(o.gpu_ns).c_str(), dur(o.lq_ns).c_str(), names[i].c_str());
  }
}

}  // namespace

std::string scope_label(const ScopeMetrics& m) {
  if (m.device == kAllDevices) return "all";
  std::string s = "dev " + std::to_string(m.device);
  if (m.stream != kAllStreams) s += " stream " + std::to_string(m.stream);
  return s;
}

void print_text_report(const TraceAnalysis& a, std::FILE* out) {
  const ReadCounts& c = a.counts;
  std::fprintf(out, "# launchprof analyze %s\n", a.path.c_str());
  if (!a.window.empty()) std::fprintf(out, "# window: %s\n", a.window.c_str());
  std::fprintf(out,
               "# %" PRIu64 " events in %.1f MB of JSON: kernel %" PRIu64 ", cuda_runtime %" PRIu64 ", cuda_driver %" PRIu64
               ", memcpy %" PRIu64 ", memset %" PRIu64 ", cpu_op %" PRIu64 ", user_annotation %" PRIu64 ", flows %" PRIu64
               ", other %" PRIu64 "\n",
               c.events, c.input_bytes / 1e6, c.kernels, c.runtime, c.driver, c.memcpy, c.memset, c.cpu_ops,
               c.user_annotations, c.flows, c.other);
  std::fprintf(out, "# gpu: %s; IL anchor: %s\n", a.gpu_name.empty() ? "(not in trace)" : a.gpu_name.c_str(),
               anchor_kind_name(a.anchor.kind));
  std::fprintf(out,
               "# join: %" PRIu64 " launch calls (%" PRIu64 " graph launches, %" PRIu64 " graph kernels); operator of a "
               "launch by External id %" PRIu64 ", by containment %" PRIu64 ", none %" PRIu64 "\n",
               a.launches, a.graph_launches, a.graph_kernels, a.launches_op_by_external_id,
               a.launches_op_by_containment, a.launches_without_op);
  std::fprintf(out,
               "# lq = kernel start - launch call start; TKLQT = sum of lq; idle = IL - union of kernel, copy and set "
               "intervals; '-' = undefined\n\n");

  std::fprintf(out, "%-22s %9s %7s %10s %10s %10s %10s %7s %10s %10s %10s %6s %10s %5s %7s\n", "scope", "kernels",
               "orphan", "TKLQT", "lq_mean", "lq_p50", "lq_p99", "neg_lq", "AKD", "IL", "idle", "idle%", "qdelay",
               "queue", "queue");
  std::fprintf(out, "%-22s %9s %7s %10s %10s %10s %10s %7s %10s %10s %10s %6s %10s %5s %7s\n", "", "", "", "", "", "",
               "", "", "", "", "", "", "mean", "max", "mean");
  scope_row(out, a.all);
  if (a.devices.size() > 1 || a.streams.size() > 1) {
    for (const auto& d : a.devices) scope_row(out, d);
  }
  for (const auto& s : a.streams) scope_row(out, s);

  std::fprintf(out, "\nsame-stream gaps before each kernel (count, summed gap)\n");
  std::fprintf(out, "%-22s %9s %10s %9s %10s %9s %10s %9s\n", "scope", "host-wait", "time", "kern-wait", "time",
               "other", "time", "overlap");
  gap_row(out, a.all);
  for (const auto& s : a.streams) gap_row(out, s);

  kernel_table(out, "top kernels by count", a.tables.by_count, a.tables.kernel_time_ns);
  kernel_table(out, "top kernels by total time", a.tables.by_time, a.tables.kernel_time_ns);
  op_table(out, "top operators by kernels launched (cpu_time: summed durations, nested operators included)",
           a.tables.ops_by_kernels);
  op_table(out, "top operators by GPU time of the kernels they launched", a.tables.ops_by_gpu_time);

  std::fprintf(out, "\nAPI calls by total time\n%9s %10s %10s %10s %10s %9s  %s\n", "calls", "total", "mean", "min",
               "max", "kernels", "call");
  for (const auto& api : a.tables.apis_by_time)
    std::fprintf(out, "%9" PRIu64 " %10s %10s %10s %10s %9" PRIu64 "  %s%s\n", api.calls, dur(api.total_ns).c_str(),
                 dur(true, static_cast<double>(api.total_ns) / api.calls).c_str(), dur(api.min_ns).c_str(),
                 dur(api.max_ns).c_str(), api.kernels, api.name.c_str(), api.is_driver ? " (driver)" : "");

  if (!a.tables.mems.empty()) {
    std::fprintf(out, "\ncopies and sets by kind and size (GPU busy time, not idle)\n%9s %12s %10s  %-10s %s\n",
                 "count", "bytes", "time", "size", "kind");
    for (const auto& m : a.tables.mems)
      std::fprintf(out, "%9" PRIu64 " %12" PRId64 " %10s  %-10s %s\n", m.count, m.bytes, dur(m.total_ns).c_str(),
                   m.size.c_str(), m.kind.c_str());
  }

  if (!a.in_kernel.empty()) {
    std::fprintf(out, "\ninside the kernel (launchprof timeline: %" PRIu64 " tasks, %" PRIu64 " marks)\n%-10s %9s %7s %10s %10s %10s\n",
                 a.counts.in_kernel_tasks, a.counts.in_kernel_marks, "stage", "tasks", "tracks", "task_time",
                 "first", "last_end");
    int64_t origin = a.in_kernel.front().first_start_ns;
    for (const auto& s : a.in_kernel)
      std::fprintf(out, "%-10s %9" PRIu64 " %7" PRIu64 " %10s %10s %10s\n", s.stage.c_str(), s.tasks, s.tracks,
                   dur(s.total_ns).c_str(), dur(s.first_start_ns - origin).c_str(),
                   dur(s.last_end_ns - origin).c_str());
  }

  if (!a.steps.empty()) {
    std::fprintf(out, "\nper step (%s)\n%-20s %9s %10s %10s %10s %10s %6s\n", "ProfilerStep# ranges", "step",
                 "kernels", "TKLQT", "lq_p50", "IL", "idle", "idle%");
    for (const auto& s : a.steps) {
      const ScopeMetrics& m = s.metrics;
      bool joined = m.joined > 0;
      std::fprintf(out, "%-20s %9" PRIu64 " %10s %10s %10s %10s %6s\n", s.name.c_str(), m.kernels,
                   dur(joined, m.tklqt_ns).c_str(), dur(joined, m.lq_p50_ns).c_str(),
                   dur(m.il_defined, m.il_ns).c_str(), dur(m.il_defined, m.idle_ns).c_str(),
                   format_fixed_or_dash(m.idle_fraction_defined(), 100.0 * m.idle_fraction(), 1).c_str());
    }
  }

  const FusionResult& f = a.fusion;
  std::fprintf(out,
               "\nfusion candidates: score = chain occurrences / first-kernel occurrences; windows do not overlap "
               "(each kernel counts in one listed chain at most); %" PRIu64 " sequences after splitting at %" PRIu64
               " host sync calls; %" PRIu64 " distinct chains%s%s\n",
               f.sequences, f.sync_calls, f.distinct_chains, f.table_full ? " (TABLE FULL: partial counts)" : "",
               f.selection_cut ? " (selection stopped at its work bound)" : "");
  std::fprintf(out, "%6s %8s %8s %8s %2s %9s %12s  %s\n", "score", "windows", "chain", "first", "L", "launches",
               "lq_removable", "chain");
  std::vector<std::string> all_names;
  for (const auto& chain : a.fusion_chain_names) all_names.insert(all_names.end(), chain.begin(), chain.end());
  std::vector<std::string> short_names = distinct_short_names(all_names, kChainNameWidth);
  size_t at = 0;
  for (size_t i = 0; i < f.candidates.size(); ++i) {
    const auto& cand = f.candidates[i];
    std::string chain;
    for (size_t k = 0; k < a.fusion_chain_names[i].size(); ++k)
      chain += (chain.empty() ? "" : " -> ") + short_names[at++];
    std::fprintf(out, "%6.3f %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %2zu %9" PRIu64 " %12s  %s\n", cand.score,
                 cand.occurrences, cand.chain_occurrences, cand.first_kernel_occurrences, cand.names.size(),
                 cand.launches_removable(), dur(cand.lq_removable_ns).c_str(), chain.c_str());
  }

  const Anomalies& an = a.anomalies;
  std::fprintf(out,
               "\nanomalies (reported, never clamped): negative lq %" PRIu64 " (sum %s, included in TKLQT); "
               "orphan kernels %" PRIu64 " (no correlation %" PRIu64 ", no matching call %" PRIu64
               "); launches without kernel %" PRIu64 "; duplicate correlations %" PRIu64 "; kernels before IL anchor %" PRIu64
               ", ending before it %" PRIu64 "%s; same-stream overlaps %" PRIu64 "; negative durations %" PRIu64
               "; events skipped: bad phase %" PRIu64 ", missing ts/dur %" PRIu64 "\n",
               an.negative_lq, dur(a.all.negative_lq_ns).c_str(), an.orphan_kernels, an.orphans_no_correlation,
               an.orphans_unmatched, an.launches_without_kernel, an.duplicate_correlations, an.kernels_before_anchor,
               an.kernels_ending_before_anchor,
               a.all.kernels > 0 && !a.all.il_defined ? " (every kernel ends before the anchor: IL undefined)" : "",
               an.same_stream_overlaps, an.negative_durations, an.skipped_bad_phase, an.skipped_missing_time);
}

}  // namespace launchprof
