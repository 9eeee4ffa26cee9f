// `launchprof analyze`: command-line options and the run.
#pragma once

#include <string>
#include <vector>

#include "launchprof/analyze/run_info.h"

namespace CLI {
class App;
}

namespace launchprof {

struct AnalyzeCliOptions {
  std::vector<std::string> traces;
  std::string csv_path;
  std::string json_path;
  std::string kernels_csv_path;
  size_t top_n = 10;
  bool per_kernel = false;
  bool quiet = false;
  int fusion_max_len = 8;
  uint64_t fusion_min_occurrences = 2;
  std::string window;  // "FROM:TO" in us after the trace's first event; either side may be empty
};

// Expands a directory to the traces in it (*.json, *.json.gz, sorted by name); a file stays as it is.
// Returns false (and says why on stderr) for a directory with no trace.
bool expand_trace_paths(const std::vector<std::string>& in, std::vector<std::string>* out);

// Exit codes of analyze and sweep.
constexpr int kExitOk = 0;
constexpr int kExitOutputError = 1;  // could not write an output file
constexpr int kExitTraceError = 2;   // unreadable, truncated or malformed trace, or no traceEvents
constexpr int kExitUsageError = 64;  // a wrong command line (sysexits' EX_USAGE): bad option, value or subcommand

CLI::App* add_analyze_command(CLI::App& app, AnalyzeCliOptions& options);
int run_analyze(const AnalyzeCliOptions& options, const RunInfo& run);

// Writes `text` to `path`; on failure prints why and returns false.
bool write_text_file(const std::string& path, const std::string& text);

}  // namespace launchprof
