#include "launchprof/sweep/sweep_cli.h"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "launchprof/analyze/analysis.h"
#include "launchprof/analyze/analyze_cli.h"
#include "launchprof/analyze/json_writer.h"
#include "launchprof/analyze/report.h"
#include "launchprof/analyze/text_format.h"
#include "launchprof/sweep/sweep.h"

#ifndef LAUNCHPROF_SOURCE_DIR
#define LAUNCHPROF_SOURCE_DIR "."
#endif

namespace launchprof {
namespace {

// A labelled trace that could not be read: left out of the rows and the rule, and named in the output.
struct SkippedTrace {
  int64_t batch = 0;
  std::string path;
  std::string reason;
};

std::string sweep_json(const std::vector<SweepRow>& rows, const std::vector<SkippedTrace>& skipped,
                       const SweepResult& d, const SweepRules& rules, const std::string& gpu, size_t gpus,
                       const RunInfo& run) {
  std::string out;
  JsonWriter w(&out);
  w.begin_object();
  write_envelope_fields(w, "launchprof sweep", run, gpu, gpus);
  // The TKLQT rule is the primary one: rule / transition_batch / verdict; the idle rule follows under its own keys.
  w.field("rule", tklqt_rule_text());
  w.field("queue_factor", rules.queue_factor);
  d.tklqt.transition_batch ? w.field("transition_batch", *d.tklqt.transition_batch) : w.null_field("transition_batch");
  w.field("verdict", d.tklqt.verdict);
  w.field("idle_rule", idle_rule_text());
  w.field("idle_threshold", rules.idle_threshold);
  d.idle.transition_batch ? w.field("transition_batch_idle", *d.idle.transition_batch)
                          : w.null_field("transition_batch_idle");
  w.field("verdict_idle", d.idle.verdict);
  w.key("largest_tklqt_step");
  if (d.largest_step_to) {
    w.begin_object();
    w.field("from_batch", *d.largest_step_from);
    w.field("to_batch", *d.largest_step_to);
    w.field("factor", d.largest_step_factor);
    w.end_object();
  } else {
    w.null();
  }
  w.key("rows");
  w.begin_array();
  for (size_t i = 0; i < rows.size(); ++i) {
    const SweepRow& r = rows[i];
    const ScopeMetrics& m = r.all;
    bool any = m.kernels > 0, joined = m.joined > 0;
    w.begin_object();
    w.field("batch", r.batch);
    w.field("trace", r.path);
    w.field("kernels", m.kernels);
    w.field("orphans", m.orphans);
    w.field("launches_without_kernel", r.launches_without_kernel);
    w.field("tklqt_us", ns_to_us(m.tklqt_ns));
    if (i > 0 && rows[i - 1].all.tklqt_ns > 0 && m.tklqt_ns > 0)
      w.field("tklqt_growth", static_cast<double>(m.tklqt_ns) / static_cast<double>(rows[i - 1].all.tklqt_ns));
    else
      w.null_field("tklqt_growth");
    w.field("negative_lq", m.negative_lq);
    joined ? w.field("lq_mean_us", m.lq_mean_ns() / 1e3) : w.null_field("lq_mean_us");
    joined ? w.field("lq_p50_us", ns_to_us(m.lq_p50_ns)) : w.null_field("lq_p50_us");
    joined ? w.field("launch_call_p50_us", ns_to_us(m.launch_call_p50_ns)) : w.null_field("launch_call_p50_us");
    r.tklqt_regime != Regime::kUndefined ? w.field("queue_ratio", r.queue_ratio()) : w.null_field("queue_ratio");
    any ? w.field("akd_us", m.akd_ns() / 1e3) : w.null_field("akd_us");
    m.il_defined ? w.field("il_ms", ns_to_ms(m.il_ns)) : w.null_field("il_ms");
    m.il_defined ? w.field("idle_ms", ns_to_ms(m.idle_ns)) : w.null_field("idle_ms");
    m.il_defined ? w.field("idle_sum_ms", ns_to_ms(m.idle_sum_ns)) : w.null_field("idle_sum_ms");
    m.idle_fraction_defined() ? w.field("idle_frac", m.idle_fraction()) : w.null_field("idle_frac");
    w.field("regime", regime_name(r.tklqt_regime));
    w.field("regime_idle", regime_name(r.idle_regime));
    w.end_object();
  }
  w.end_array();
  w.key("unreadable");
  w.begin_array();
  for (const auto& t : skipped) {
    w.begin_object();
    w.field("batch", t.batch);
    w.field("trace", t.path);
    w.field("error", t.reason);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return out;
}

// Whether `path` can be written, without leaving a file behind that was not there before.
bool can_write(const std::string& path, std::string* why) {
  bool existed = ::access(path.c_str(), F_OK) == 0;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd < 0) {
    *why = std::strerror(errno);
    return false;
  }
  ::close(fd);
  if (!existed) ::unlink(path.c_str());
  return true;
}

bool is_file(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

// The directory of the running binary, "" if /proc cannot tell.
std::string executable_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string path(buf, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// Where plot_sweep.py is: LAUNCHPROF_PLOT_SCRIPT, else a copy next to the binary (a binary carried to another
// machine, whose build's source tree is not there), else the source tree the binary was built from. Fills `tried`
// with the paths looked at, and returns "" if none is readable.
std::string plot_script_path(std::string* tried) {
  if (const char* env = std::getenv("LAUNCHPROF_PLOT_SCRIPT")) {
    *tried = std::string(env) + " (LAUNCHPROF_PLOT_SCRIPT)";
    return is_file(env) ? env : "";
  }
  std::vector<std::string> candidates;
  std::string dir = executable_dir();
  if (!dir.empty()) candidates.push_back(dir + "/plot_sweep.py");
  candidates.push_back(std::string(LAUNCHPROF_SOURCE_DIR) + "/launchprof/sweep/plot_sweep.py");
  for (const auto& c : candidates) {
    *tried += (tried->empty() ? "" : ", ") + c;
    if (is_file(c)) return c;
  }
  return "";
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int draw_png(const std::string& json_text, const std::string& json_path, const std::string& png_path) {
  std::string why;
  if (!can_write(png_path, &why)) {
    std::fprintf(stderr, "launchprof sweep: cannot write the plot %s: %s; the table%s was still written\n",
                 png_path.c_str(), why.c_str(), json_path.empty() ? "" : " and JSON");
    return kExitOutputError;
  }
  std::string tried;
  const std::string script = plot_script_path(&tried);
  if (script.empty()) {
    std::fprintf(stderr,
                 "launchprof sweep: plot_sweep.py not found (looked at %s); set LAUNCHPROF_PLOT_SCRIPT. The "
                 "table%s was still written, no plot was drawn\n",
                 tried.c_str(), json_path.empty() ? "" : " and JSON");
    return kExitPlotUnavailable;
  }
  if (std::system("python3 -c 'import matplotlib' >/dev/null 2>&1") != 0) {
    std::fprintf(stderr,
                 "launchprof sweep: --png needs python3 with matplotlib (pip install matplotlib); the table%s was "
                 "still written, no plot was drawn\n",
                 json_path.empty() ? "" : " and JSON");
    return kExitPlotUnavailable;
  }
  std::string input = json_path;
  std::string tmp;
  if (input.empty()) {
    char name[] = "/tmp/launchprof-sweep-XXXXXX";
    int fd = ::mkstemp(name);
    if (fd < 0) return kExitOutputError;
    ::close(fd);
    tmp = input = name;
    if (!write_text_file(tmp, json_text)) return kExitOutputError;
  }
  std::string cmd = "python3 " + quote(script) + " " + quote(input) + " " + quote(png_path);
  int rc = std::system(cmd.c_str());
  if (!tmp.empty()) ::unlink(tmp.c_str());
  if (rc != 0) {
    std::fprintf(stderr, "launchprof sweep: the plot script failed: %s\n", cmd.c_str());
    return kExitPlotUnavailable;
  }
  return kExitOk;
}

}  // namespace

CLI::App* add_sweep_command(CLI::App& app, SweepCliOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "sweep",
      std::string("Report TKLQT, lq, IL, GPU idle and kernel count against batch size, and name the batch at which "
                  "the workload turns from CPU-bound to GPU-bound, by two rules. ") +
          tklqt_rule_text() + ". Second, the " + idle_rule_text() + ".");
  cmd->add_option("--label", o.labels, "a labelled trace: batch=<N>:<trace.json[.gz]> (repeat, one per batch)")
      ->required();
  cmd->add_option("--json", o.json_path, "write the rows and both transitions as JSON (bench/results envelope)");
  cmd->add_option(
      "--png", o.png_path,
      "draw TKLQT and IL, the queue ratio and the idle fraction against batch (log2 x-axis, both transitions "
      "marked) with plot_sweep.py (LAUNCHPROF_PLOT_SCRIPT, else next to this binary, else launchprof/sweep/ of the "
      "source tree it was built from); needs python3 + matplotlib, else exit code 3");
  cmd->add_option("--queue-factor", o.queue_factor,
                  "TKLQT rule: median lq / median launch call duration at or above which a batch is GPU-bound")
      ->check(CLI::Range(1.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--threshold", o.threshold, "idle rule: GPU idle fraction at or above which a batch is CPU-bound")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", o.quiet, "do not print the table on stdout");
  return cmd;
}

int run_sweep(const SweepCliOptions& o, const RunInfo& run) {
  std::vector<SweepLabel> labels;
  std::set<int64_t> seen;
  for (const auto& text : o.labels) {
    SweepLabel l;
    Status s = parse_sweep_label(text, &l);
    if (s.ok() && !seen.insert(l.batch).second)
      s = Status::Error(StatusCode::kInvalidArgument, "batch " + std::to_string(l.batch) + " is given twice");
    if (!s.ok()) {
      std::fprintf(stderr, "launchprof sweep: error: %s\n", s.message.c_str());
      return kExitUsageError;
    }
    labels.push_back(l);
  }
  std::sort(labels.begin(), labels.end(), [](const auto& a, const auto& b) { return a.batch < b.batch; });

  AnalyzeOptions opts;
  std::vector<SweepRow> rows;
  std::vector<SkippedTrace> skipped;
  std::string gpu;
  std::set<int32_t> devices;
  for (const auto& l : labels) {
    TraceAnalysis a;
    Status s = analyze_file(l.path, opts, &a);
    if (!s.ok()) {
      // One bad trace must not hide the others: it is named, left out of the rule, and the exit code is 2.
      std::fprintf(stderr, "launchprof sweep: error: batch %" PRId64 " left out: %s\n", l.batch, s.message.c_str());
      skipped.push_back({l.batch, l.path, s.message});
      continue;
    }
    if (gpu.empty()) gpu = a.gpu_name;
    for (const auto& d : a.devices) devices.insert(d.device);
    SweepRow r;
    r.batch = l.batch;
    r.path = l.path;
    r.all = a.all;
    r.launches_without_kernel = a.anomalies.launches_without_kernel;
    rows.push_back(std::move(r));
  }
  if (rows.empty()) {
    std::fprintf(stderr, "launchprof sweep: error: no labelled trace could be read\n");
    return kExitTraceError;
  }
  SweepRules rules;
  rules.idle_threshold = o.threshold;
  rules.queue_factor = o.queue_factor;
  SweepResult d = decide_transitions(rows, rules);
  if (!skipped.empty()) {
    std::string left_out;
    for (const auto& t : skipped) left_out += (left_out.empty() ? "" : ", ") + std::to_string(t.batch);
    const std::string note = " (over the readable traces only; unreadable, left out: batch " + left_out + ")";
    d.tklqt.verdict += note;
    d.idle.verdict += note;
  }

  if (!o.quiet) {
    std::printf("# launchprof sweep: %zu traces; gpu: %s\n# %s (queue_factor %g)\n# %s (threshold %.2f)\n", rows.size(),
                gpu.empty() ? "(not in traces)" : gpu.c_str(), tklqt_rule_text(), o.queue_factor, idle_rule_text(),
                o.threshold);
    std::printf("%8s %9s %10s %7s %10s %10s %9s %10s %10s %6s %10s %-9s %-9s  %s\n", "batch", "kernels", "TKLQT",
                "growth", "lq_p50", "call_p50", "lq/call", "IL", "idle", "idle%", "AKD", "TKLQT", "idle", "trace");
    std::printf("%8s %9s %10s %7s %10s %10s %9s %10s %10s %6s %10s %-9s %-9s\n", "", "", "", "", "", "", "", "", "", "",
                "", "rule", "rule");
    for (size_t i = 0; i < rows.size(); ++i) {
      const SweepRow& r = rows[i];
      const ScopeMetrics& m = r.all;
      bool joined = m.joined > 0;
      bool growth = i > 0 && rows[i - 1].all.tklqt_ns > 0 && m.tklqt_ns > 0;
      std::printf(
          "%8" PRId64 " %9" PRIu64 " %10s %7s %10s %10s %9s %10s %10s %6s %10s %-9s %-9s  %s\n", r.batch, m.kernels,
          format_duration_or_dash(joined, m.tklqt_ns).c_str(),
          format_fixed_or_dash(growth, growth ? double(m.tklqt_ns) / double(rows[i - 1].all.tklqt_ns) : 0, 1).c_str(),
          format_duration_or_dash(joined, m.lq_p50_ns).c_str(),
          format_duration_or_dash(joined, m.launch_call_p50_ns).c_str(),
          format_fixed_or_dash(r.tklqt_regime != Regime::kUndefined, r.queue_ratio(), 1).c_str(),
          format_duration_or_dash(m.il_defined, m.il_ns).c_str(),
          format_duration_or_dash(m.il_defined, m.idle_ns).c_str(),
          format_fixed_or_dash(m.idle_fraction_defined(), 100.0 * m.idle_fraction(), 1).c_str(),
          format_duration_or_dash(m.kernels > 0, m.akd_ns()).c_str(), regime_name(r.tklqt_regime),
          regime_name(r.idle_regime), r.path.c_str());
    }
    for (const auto& t : skipped) std::printf("%8" PRId64 " %9s  %s\n", t.batch, "unreadable", t.path.c_str());
    std::printf("# transition, TKLQT rule: %s\n# transition, idle rule:  %s\n", d.tklqt.verdict.c_str(),
                d.idle.verdict.c_str());
    if (d.largest_step_to)
      std::printf("# largest TKLQT step: x%.1f from batch %" PRId64 " to batch %" PRId64 "\n", d.largest_step_factor,
                  *d.largest_step_from, *d.largest_step_to);
    std::fflush(stdout);
  }
  std::string json = sweep_json(rows, skipped, d, rules, gpu, devices.size(), run);
  if (!o.json_path.empty() && !write_text_file(o.json_path, json)) return kExitOutputError;
  int rc = o.png_path.empty() ? kExitOk : draw_png(json, o.json_path, o.png_path);
  // An unreadable trace outranks a missing plot: the table and JSON above are still complete for the rest.
  return skipped.empty() ? rc : kExitTraceError;
}

}  // namespace launchprof
