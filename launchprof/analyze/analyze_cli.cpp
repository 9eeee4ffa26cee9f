#include "launchprof/analyze/analyze_cli.h"

#include <dirent.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "launchprof/analyze/analysis.h"
#include "launchprof/analyze/report.h"
#include "launchprof/analyze/text_format.h"

namespace launchprof {

CLI::App* add_analyze_command(CLI::App& app, AnalyzeCliOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "analyze",
      "Join operator -> launch call -> kernel in Chrome-trace / Kineto JSON (plain or .gz) and report TKLQT, AKD, IL, "
      "GPU idle, queue delay, same-stream gap classes, queue length, per device and per stream; top kernels (with min, "
      "max, std and share of GPU time), operators (CPU and GPU time), API calls, copies and sets by kind and size, "
      "ProfilerStep# rows, in-kernel tasks and fusion candidates. Exit code 2 for an unreadable, truncated or malformed "
      "trace, 64 for a usage error.");
  cmd->add_option("traces", o.traces,
                  "trace files (.json or .json.gz; gzip is detected by content), or directories of them (one trace "
                  "per rank or process: each is analysed on its own, then a summary row per trace)")
      ->required();
  cmd->add_option("--window", o.window,
                  "FROM:TO: analyse only the kernels, calls, operators and copies that start in [FROM, TO) "
                  "microseconds after the trace's first event (either side may be left empty)");
  cmd->add_option("--csv", o.csv_path, "write the per-scope rows (all, each device, each stream) as CSV");
  cmd->add_option("--json", o.json_path, "write all results as JSON in the bench/results envelope");
  cmd->add_option("--top", o.top_n, "rows in the top-k kernel, operator and fusion tables")->capture_default_str();
  cmd->add_flag("--per-kernel", o.per_kernel, "add one row per kernel to the --json output");
  cmd->add_option("--kernels-csv", o.kernels_csv_path, "write one CSV row per kernel (lq, queue delay, gap class)");
  cmd->add_option("--fusion-max-len", o.fusion_max_len, "longest kernel chain considered for fusion (2..8)")
      ->check(CLI::Range(2, 8))
      ->capture_default_str();
  cmd->add_option("--fusion-min-occurrences", o.fusion_min_occurrences,
                  "a chain must occur at least this often to be listed")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", o.quiet, "do not print the table on stdout");
  return cmd;
}

bool write_text_file(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  bool ok = f && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (f) ok = (std::fclose(f) == 0) && ok;
  if (!ok) std::fprintf(stderr, "launchprof: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
  return ok;
}

bool expand_trace_paths(const std::vector<std::string>& in, std::vector<std::string>* out) {
  auto is_trace = [](const std::string& n) {
    auto ends = [&n](const char* s) {
      size_t k = std::strlen(s);
      return n.size() >= k && n.compare(n.size() - k, k, s) == 0;
    };
    return ends(".json") || ends(".json.gz");
  };
  for (const auto& p : in) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      out->push_back(p);  // a file, or a path the reader will report
      continue;
    }
    std::vector<std::string> found;
    if (DIR* d = ::opendir(p.c_str())) {
      while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.' && is_trace(e->d_name))
          found.push_back(p + (p.back() == '/' ? "" : "/") + e->d_name);
      ::closedir(d);
    }
    if (found.empty()) {
      std::fprintf(stderr, "launchprof: error: %s: a directory without *.json or *.json.gz traces\n", p.c_str());
      return false;
    }
    std::sort(found.begin(), found.end());
    out->insert(out->end(), found.begin(), found.end());
  }
  return true;
}

namespace {

// "FROM:TO" in microseconds; false (with a message) if it is not that.
bool parse_window(const std::string& text, AnalyzeOptions* opts) {
  size_t colon = text.find(':');
  auto bad = [&text]() {
    std::fprintf(stderr, "launchprof analyze: error: --window '%s': expected FROM:TO in microseconds\n", text.c_str());
    return false;
  };
  if (colon == std::string::npos) return bad();
  std::string from = text.substr(0, colon), to = text.substr(colon + 1);
  char* end = nullptr;
  double f = from.empty() ? 0.0 : std::strtod(from.c_str(), &end);
  if (!from.empty() && *end != '\0') return bad();
  double t = to.empty() ? 0.0 : std::strtod(to.c_str(), &end);
  if (!to.empty() && *end != '\0') return bad();
  opts->has_window = true;
  opts->window_from_ns = static_cast<int64_t>(f * 1e3);
  opts->window_to_ns = to.empty() ? INT64_MAX : static_cast<int64_t>(t * 1e3);
  if (opts->window_to_ns <= opts->window_from_ns) return bad();
  return true;
}

// One row per trace when several were analysed (ranks of one job, or a directory).
void print_summary(const std::vector<TraceAnalysis>& results, std::FILE* out) {
  std::fprintf(out, "# summary of %zu traces\n%9s %10s %10s %10s %10s %6s  %s\n", results.size(), "kernels", "TKLQT",
               "lq_p50", "IL", "idle", "idle%", "trace");
  for (const auto& a : results) {
    const ScopeMetrics& m = a.all;
    bool joined = m.joined > 0;
    std::fprintf(out, "%9" PRIu64 " %10s %10s %10s %10s %6s  %s\n", m.kernels,
                 format_duration_or_dash(joined, m.tklqt_ns).c_str(), format_duration_or_dash(joined, m.lq_p50_ns).c_str(),
                 format_duration_or_dash(m.il_defined, m.il_ns).c_str(),
                 format_duration_or_dash(m.il_defined, m.idle_ns).c_str(),
                 format_fixed_or_dash(m.idle_fraction_defined(), 100.0 * m.idle_fraction(), 1).c_str(), a.path.c_str());
  }
}

}  // namespace

int run_analyze(const AnalyzeCliOptions& o, const RunInfo& run) {
  AnalyzeOptions opts;
  if (!o.window.empty() && !parse_window(o.window, &opts)) return kExitUsageError;
  std::vector<std::string> traces;
  if (!expand_trace_paths(o.traces, &traces)) return kExitTraceError;
  opts.top_n = o.top_n;
  opts.per_kernel = o.per_kernel || !o.kernels_csv_path.empty();
  opts.fusion.max_len = o.fusion_max_len;
  opts.fusion.min_occurrences = o.fusion_min_occurrences;
  std::vector<TraceAnalysis> results;
  int rc = kExitOk;
  for (const auto& path : traces) {
    TraceAnalysis a;
    Status s = analyze_file(path, opts, &a);
    if (!s.ok()) {
      std::fprintf(stderr, "launchprof analyze: error: %s\n", s.message.c_str());
      rc = kExitTraceError;
      continue;
    }
    if (!o.quiet) {
      print_text_report(a, stdout);
      std::fputc('\n', stdout);
    }
    results.push_back(std::move(a));
  }
  if (!o.quiet && results.size() > 1) print_summary(results, stdout);
  std::fflush(stdout);
  bool ok = true;
  if (!o.csv_path.empty()) ok = write_text_file(o.csv_path, csv_report(results)) && ok;
  if (!o.kernels_csv_path.empty()) ok = write_text_file(o.kernels_csv_path, kernels_csv_report(results)) && ok;
  if (!o.json_path.empty()) ok = write_text_file(o.json_path, json_report(results, run, o.per_kernel)) && ok;
  if (rc != kExitOk) return rc;
  return ok ? kExitOk : kExitOutputError;
}

}  // namespace launchprof
