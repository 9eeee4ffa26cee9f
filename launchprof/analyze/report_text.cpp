#include <cinttypes>
#include <string>

#include "launchprof/analyze/report.h"

namespace launchprof {
namespace {

std::string shorten(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n - 3) + "..."; }

void scope_row(std::FILE* out, const ScopeMetrics& m) {
  std::fprintf(out, "%-22s %9" PRIu64 " %7" PRIu64 " %12.3f %9.3f %9.3f %9.3f %7" PRIu64 " %9.3f %10.3f %10.3f %6.1f %9.3f %5u %7.2f\n",
               scope_label(m).c_str(), m.kernels, m.orphans, ns_to_us(m.tklqt_ns), m.lq_mean_ns() / 1e3,
               ns_to_us(m.lq_p50_ns), ns_to_us(m.lq_p99_ns), m.negative_lq, m.akd_ns() / 1e3, ns_to_ms(m.il_ns),
               ns_to_ms(m.idle_ns), 100.0 * m.idle_fraction(),
               m.joined ? static_cast<double>(m.queue_delay_ns) / m.joined / 1e3 : 0.0, m.queue.max, m.queue.mean);
}

void gap_row(std::FILE* out, const ScopeMetrics& m) {
  const GapStats& g = m.gaps;
  auto cell = [&](GapClass c) {
    int i = static_cast<int>(c);
    std::fprintf(out, " %9" PRIu64 " %12.3f", g.count[i], ns_to_us(g.gap_ns[i]));
  };
  std::fprintf(out, "%-22s", scope_label(m).c_str());
  cell(GapClass::kHostWait);
  cell(GapClass::kKernelWait);
  cell(GapClass::kOther);
  std::fprintf(out, " %9" PRIu64 "\n", g.count[static_cast<int>(GapClass::kOverlap)]);
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
  std::fprintf(out, "# times: lq = kernel start - launch call start; idle = IL - union of kernel intervals\n\n");

  std::fprintf(out, "%-22s %9s %7s %12s %9s %9s %9s %7s %9s %10s %10s %6s %9s %5s %7s\n", "scope", "kernels", "orphan",
               "TKLQT", "lq_mean", "lq_p50", "lq_p99", "neg_lq", "AKD", "IL", "idle", "idle", "qdelay", "queue", "queue");
  std::fprintf(out, "%-22s %9s %7s %12s %9s %9s %9s %7s %9s %10s %10s %6s %9s %5s %7s\n", "", "", "", "us", "us", "us",
               "us", "", "us", "ms", "ms", "%", "mean_us", "max", "mean");
  scope_row(out, a.all);
  if (a.devices.size() > 1 || a.streams.size() > 1) {
    for (const auto& d : a.devices) scope_row(out, d);
  }
  for (const auto& s : a.streams) scope_row(out, s);

  std::fprintf(out, "\nsame-stream gaps before each kernel (count, summed gap)\n");
  std::fprintf(out, "%-22s %9s %12s %9s %12s %9s %12s %9s\n", "scope", "host-wait", "us", "kern-wait", "us", "other",
               "us", "overlap");
  gap_row(out, a.all);
  for (const auto& s : a.streams) gap_row(out, s);

  std::fprintf(out, "\ntop kernels by count\n%9s %12s %10s %10s  %s\n", "count", "total_us", "mean_us", "lq_mean_us",
               "name");
  for (const auto& k : a.tables.by_count)
    std::fprintf(out, "%9" PRIu64 " %12.3f %10.3f %10.3f  %s\n", k.count, ns_to_us(k.total_ns),
                 ns_to_us(k.total_ns) / k.count, k.joined ? ns_to_us(k.lq_ns) / k.joined : 0.0,
                 shorten(k.name, 100).c_str());
  std::fprintf(out, "\ntop kernels by total time\n%9s %12s %10s %10s  %s\n", "count", "total_us", "mean_us",
               "lq_mean_us", "name");
  for (const auto& k : a.tables.by_time)
    std::fprintf(out, "%9" PRIu64 " %12.3f %10.3f %10.3f  %s\n", k.count, ns_to_us(k.total_ns),
                 ns_to_us(k.total_ns) / k.count, k.joined ? ns_to_us(k.lq_ns) / k.joined : 0.0,
                 shorten(k.name, 100).c_str());
  std::fprintf(out, "\ntop operators by kernels launched\n%9s %9s %12s  %s\n", "launches", "kernels", "TKLQT_us",
               "operator");
  for (const auto& o : a.tables.ops_by_kernels)
    std::fprintf(out, "%9" PRIu64 " %9" PRIu64 " %12.3f  %s\n", o.launches, o.kernels, ns_to_us(o.lq_ns),
                 shorten(o.name, 100).c_str());

  const FusionResult& f = a.fusion;
  std::fprintf(out,
               "\nfusion candidates: score = chain occurrences / first-kernel occurrences; %" PRIu64
               " sequences after splitting at %" PRIu64 " host sync calls; %" PRIu64 " distinct chains%s\n",
               f.sequences, f.sync_calls, f.distinct_chains, f.table_full ? " (TABLE FULL: partial counts)" : "");
  std::fprintf(out, "%6s %8s %8s %2s %9s %12s  %s\n", "score", "occur", "first", "L", "launches", "lq_removable",
               "chain");
  for (size_t i = 0; i < f.candidates.size(); ++i) {
    const auto& cand = f.candidates[i];
    std::string chain;
    for (const auto& n : a.fusion_chain_names[i]) chain += (chain.empty() ? "" : " -> ") + shorten(n, 40);
    std::fprintf(out, "%6.3f %8" PRIu64 " %8" PRIu64 " %2zu %9" PRIu64 " %12.3f  %s\n", cand.score, cand.occurrences,
                 cand.first_kernel_occurrences, cand.names.size(), cand.launches_removable(),
                 ns_to_us(cand.lq_removable_ns), chain.c_str());
  }

  const Anomalies& an = a.anomalies;
  std::fprintf(out,
               "\nanomalies (reported, never clamped): negative lq %" PRIu64 " (sum %.3f us, included in TKLQT); "
               "orphan kernels %" PRIu64 " (no correlation %" PRIu64 ", no matching call %" PRIu64
               "); launches without kernel %" PRIu64 "; duplicate correlations %" PRIu64 "; kernels before IL anchor %" PRIu64
               "; same-stream overlaps %" PRIu64 "; negative durations %" PRIu64 "; events skipped: bad phase %" PRIu64
               ", missing ts/dur %" PRIu64 "\n",
               an.negative_lq, ns_to_us(a.all.negative_lq_ns), an.orphan_kernels, an.orphans_no_correlation,
               an.orphans_unmatched, an.launches_without_kernel, an.duplicate_correlations, an.kernels_before_anchor,
               an.same_stream_overlaps, an.negative_durations, an.skipped_bad_phase, an.skipped_missing_time);
}

}  // namespace launchprof
