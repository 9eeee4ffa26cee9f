#include "launchprof/analyze/diff_cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "launchprof/analyze/analysis.h"
#include "launchprof/analyze/analyze_cli.h"
#include "launchprof/analyze/json_writer.h"
#include "launchprof/analyze/report.h"
#include "launchprof/analyze/text_format.h"

namespace launchprof {
namespace {

struct NameTotals {
  uint64_t count[2] = {0, 0};
  int64_t total_ns[2] = {0, 0};
  int64_t lq_ns[2] = {0, 0};
  uint64_t joined[2] = {0, 0};
};

// A whole-trace metric: its name, unit kind, and how to read it (nullopt-like: defined flag).
struct Metric {
  const char* name;
  bool is_time;
  std::function<bool(const ScopeMetrics&)> defined;
  std::function<double(const ScopeMetrics&)> value;  // ns for times
};

const std::vector<Metric>& metrics() {
  auto always = [](const ScopeMetrics&) { return true; };
  auto joined = [](const ScopeMetrics& m) { return m.joined > 0; };
  auto any = [](const ScopeMetrics& m) { return m.kernels > 0; };
  auto il = [](const ScopeMetrics& m) { return m.il_defined; };
  static const std::vector<Metric> kMetrics = {
      {"kernels", false, always, [](const ScopeMetrics& m) { return double(m.kernels); }},
      {"orphans", false, always, [](const ScopeMetrics& m) { return double(m.orphans); }},
      {"TKLQT", true, joined, [](const ScopeMetrics& m) { return double(m.tklqt_ns); }},
      {"lq_mean", true, joined, [](const ScopeMetrics& m) { return m.lq_mean_ns(); }},
      {"lq_p50", true, joined, [](const ScopeMetrics& m) { return double(m.lq_p50_ns); }},
      {"lq_p99", true, joined, [](const ScopeMetrics& m) { return double(m.lq_p99_ns); }},
      {"launch_call_p50", true, joined, [](const ScopeMetrics& m) { return double(m.launch_call_p50_ns); }},
      {"AKD", true, any, [](const ScopeMetrics& m) { return m.akd_ns(); }},
      {"kernel_time", true, always, [](const ScopeMetrics& m) { return double(m.kernel_time_ns); }},
      {"IL", true, il, [](const ScopeMetrics& m) { return double(m.il_ns); }},
      {"idle", true, il, [](const ScopeMetrics& m) { return double(m.idle_ns); }},
      {"idle_frac", false, [](const ScopeMetrics& m) { return m.idle_fraction_defined(); },
       [](const ScopeMetrics& m) { return m.idle_fraction(); }},
      {"queue_mean", false, joined, [](const ScopeMetrics& m) { return m.queue.mean; }},
      {"memcpy+memset", false, always, [](const ScopeMetrics& m) { return double(m.memcpy + m.memset); }},
  };
  return kMetrics;
}

std::string cell(bool defined, bool is_time, double v) {
  if (!defined) return "-";
  if (is_time) return format_duration_ns(v);
  char buf[48];
  std::snprintf(buf, sizeof(buf), v == std::floor(v) && std::fabs(v) < 1e15 ? "%.0f" : "%.4f", v);
  return buf;
}

}  // namespace

CLI::App* add_diff_command(CLI::App& app, DiffCliOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "diff",
      "Compare two traces (B against A): whole-trace TKLQT, lq, AKD, IL, idle and kernel counts with the "
      "change and the ratio, and the kernels whose time changed most, by name.");
  cmd->add_option("a", o.a, "the reference trace (.json or .json.gz)")->required();
  cmd->add_option("b", o.b, "the trace compared with it")->required();
  cmd->add_option("--json", o.json_path, "write the comparison as JSON (bench/results envelope)");
  cmd->add_option("--top", o.top_n, "kernel names listed, by the largest change of total time")->capture_default_str();
  cmd->add_flag("-q,--quiet", o.quiet, "do not print the tables on stdout");
  return cmd;
}

int run_diff(const DiffCliOptions& o, const RunInfo& run) {
  AnalyzeOptions opts;
  opts.per_kernel = true;
  TraceAnalysis t[2];
  const std::string paths[2] = {o.a, o.b};
  for (int i = 0; i < 2; ++i) {
    Status s = analyze_file(paths[i], opts, &t[i]);
    if (!s.ok()) {
      std::fprintf(stderr, "launchprof diff: error: %s\n", s.message.c_str());
      return kExitTraceError;
    }
  }
  std::map<std::string, NameTotals> names;
  for (int i = 0; i < 2; ++i)
    for (const auto& r : t[i].per_kernel) {
      NameTotals& n = names[r.name];
      ++n.count[i];
      n.total_ns[i] += r.dur_ns;
      if (r.joined) ++n.joined[i], n.lq_ns[i] += r.lq_ns;
    }
  std::vector<std::pair<std::string, NameTotals>> changed(names.begin(), names.end());
  std::sort(changed.begin(), changed.end(), [](const auto& x, const auto& y) {
    int64_t dx = std::llabs(x.second.total_ns[1] - x.second.total_ns[0]);
    int64_t dy = std::llabs(y.second.total_ns[1] - y.second.total_ns[0]);
    return dx != dy ? dx > dy : x.first < y.first;
  });
  if (changed.size() > o.top_n) changed.resize(o.top_n);

  if (!o.quiet) {
    std::printf("# launchprof diff\n# A: %s\n# B: %s\n\n%-16s %12s %12s %12s %9s\n", o.a.c_str(), o.b.c_str(), "metric",
                "A", "B", "B - A", "B / A");
    for (const Metric& m : metrics()) {
      bool da = m.defined(t[0].all), db = m.defined(t[1].all);
      double va = m.value(t[0].all), vb = m.value(t[1].all);
      std::printf("%-16s %12s %12s %12s %9s\n", m.name, cell(da, m.is_time, va).c_str(),
                  cell(db, m.is_time, vb).c_str(), cell(da && db, m.is_time, vb - va).c_str(),
                  format_fixed_or_dash(da && db && va != 0, vb / va, 3).c_str());
    }
    std::vector<std::string> raw;
    for (const auto& [name, n] : changed) raw.push_back(name);
    std::vector<std::string> shown = distinct_short_names(raw, 80);
    std::printf("\nkernels by the largest change of total time\n%9s %9s %10s %10s %10s %10s %10s  %s\n", "count A",
                "count B", "total A", "total B", "B - A", "lq_mean A", "lq_mean B", "name");
    for (size_t i = 0; i < changed.size(); ++i) {
      const NameTotals& n = changed[i].second;
      std::printf("%9" PRIu64 " %9" PRIu64 " %10s %10s %10s %10s %10s  %s\n", n.count[0], n.count[1],
                  format_duration_ns(double(n.total_ns[0])).c_str(), format_duration_ns(double(n.total_ns[1])).c_str(),
                  format_duration_ns(double(n.total_ns[1] - n.total_ns[0])).c_str(),
                  format_duration_or_dash(n.joined[0] > 0, n.joined[0] ? double(n.lq_ns[0]) / n.joined[0] : 0).c_str(),
                  format_duration_or_dash(n.joined[1] > 0, n.joined[1] ? double(n.lq_ns[1]) / n.joined[1] : 0).c_str(),
                  shown[i].c_str());
    }
    std::fflush(stdout);
  }
  if (o.json_path.empty()) return kExitOk;
  std::string out;
  JsonWriter w(&out);
  w.begin_object();
  std::set<int32_t> devices;
  for (const auto& a : t)
    for (const auto& d : a.devices) devices.insert(d.device);
  write_envelope_fields(w, "launchprof diff", run, t[0].gpu_name.empty() ? t[1].gpu_name : t[0].gpu_name,
                        devices.size());
  w.field("a", o.a);
  w.field("b", o.b);
  w.key("metrics");
  w.begin_array();
  for (const Metric& m : metrics()) {
    bool da = m.defined(t[0].all), db = m.defined(t[1].all);
    double scale = m.is_time ? 1e-3 : 1.0;  // times in us
    w.begin_object();
    w.field("metric", m.name);
    w.field("unit", m.is_time ? "us" : "");
    da ? w.field("a", m.value(t[0].all) * scale) : w.null_field("a");
    db ? w.field("b", m.value(t[1].all) * scale) : w.null_field("b");
    da&& db ? w.field("b_minus_a", (m.value(t[1].all) - m.value(t[0].all)) * scale) : w.null_field("b_minus_a");
    da&& db&& m.value(t[0].all) != 0 ? w.field("b_over_a", m.value(t[1].all) / m.value(t[0].all))
                                     : w.null_field("b_over_a");
    w.end_object();
  }
  w.end_array();
  w.key("kernels");
  w.begin_array();
  for (const auto& [name, n] : changed) {
    w.begin_object();
    w.field("name", name);
    w.field("count_a", n.count[0]);
    w.field("count_b", n.count[1]);
    w.field("total_us_a", ns_to_us(n.total_ns[0]));
    w.field("total_us_b", ns_to_us(n.total_ns[1]));
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return write_text_file(o.json_path, out) ? kExitOk : kExitOutputError;
}

}  // namespace launchprof
