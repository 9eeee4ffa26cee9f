#include "launchprof/analyze/analyze_cli.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "launchprof/analyze/analysis.h"
#include "launchprof/analyze/report.h"

namespace launchprof {

CLI::App* add_analyze_command(CLI::App& app, AnalyzeCliOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "analyze",
      "Join operator -> launch call -> kernel in Chrome-trace / Kineto JSON (plain or .gz) and report TKLQT, AKD, IL, "
      "GPU idle, queue delay, same-stream gap classes, queue length, top kernels and fusion candidates, per device "
      "and per stream. Exit code 2 for an unreadable, truncated or malformed trace.");
  cmd->add_option("traces", o.traces, "trace files (.json or .json.gz; gzip is detected by content)")
      ->required();
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

int run_analyze(const AnalyzeCliOptions& o, const RunInfo& run) {
  AnalyzeOptions opts;
  opts.top_n = o.top_n;
  opts.per_kernel = o.per_kernel || !o.kernels_csv_path.empty();
  opts.fusion.max_len = o.fusion_max_len;
  opts.fusion.min_occurrences = o.fusion_min_occurrences;
  std::vector<TraceAnalysis> results;
  int rc = kExitOk;
  for (const auto& path : o.traces) {
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
  std::fflush(stdout);
  bool ok = true;
  if (!o.csv_path.empty()) ok = write_text_file(o.csv_path, csv_report(results)) && ok;
  if (!o.kernels_csv_path.empty()) ok = write_text_file(o.kernels_csv_path, kernels_csv_report(results)) && ok;
  if (!o.json_path.empty()) ok = write_text_file(o.json_path, json_report(results, run, o.per_kernel)) && ok;
  if (rc != kExitOk) return rc;
  return ok ? kExitOk : kExitOutputError;
}

}  // namespace launchprof
