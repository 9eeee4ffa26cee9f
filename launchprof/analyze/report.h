// Output of launchprof analyze: a readable table (stdout), CSV of the per-scope rows, per-kernel CSV, and a
// JSON results file in the project's envelope (shared RESULTS.md).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "launchprof/analyze/analysis.h"
#include "launchprof/analyze/run_info.h"

namespace launchprof {

std::string scope_label(const ScopeMetrics& m);
void print_text_report(const TraceAnalysis& a, std::FILE* out);
std::string csv_report(const std::vector<TraceAnalysis>& analyses);
std::string kernels_csv_report(const std::vector<TraceAnalysis>& analyses);
std::string json_report(const std::vector<TraceAnalysis>& analyses, const RunInfo& run, bool per_kernel);

class JsonWriter;
// The fields every results file starts with (RESULTS.md): tool, command, commit, date, gpu, gpus.
void write_envelope_fields(JsonWriter& w, const char* tool, const RunInfo& run, const std::string& gpu, size_t gpus);

// Unit helpers shared by the writers.
inline double ns_to_us(int64_t ns) { return static_cast<double>(ns) / 1e3; }
inline double ns_to_ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

}  // namespace launchprof
