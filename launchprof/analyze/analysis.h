// One trace in, every launchprof analyze result out: the join, per-scope SKIP metrics, top-k tables,
// fusion candidates and the anomaly counts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launchprof/analyze/event_model.h"
#include "launchprof/analyze/fusion.h"
#include "launchprof/analyze/join.h"
#include "launchprof/analyze/kernel_stats.h"
#include "launchprof/analyze/metrics.h"
#include "launchprof/analyze/status.h"

namespace launchprof {

struct AnalyzeOptions {
  size_t top_n = 10;
  bool per_kernel = false;
  FusionOptions fusion;
  // Time window in ns from the trace's first timestamped event: only kernels, calls, operators, copies and sets
  // that start inside [window_from_ns, window_to_ns) are analysed.
  bool has_window = false;
  int64_t window_from_ns = 0, window_to_ns = INT64_MAX;
};

// One ProfilerStep#N range and the kernels launched inside it (by launch call start; an orphan by its own start),
// with IL anchored at the step's start.
struct StepMetrics {
  std::string name;
  int64_t ts_ns = 0, dur_ns = 0;  // relative to time_base_ns
  ScopeMetrics metrics;
};

struct PerKernelRow {
  std::string name;
  int32_t device;
  int64_t stream;
  int64_t ts_ns, dur_ns;  // ts_ns absolute (trace time)
  int64_t correlation;  // kNoId if absent
  bool joined;
  std::string launch_name;
  int64_t launch_ts_ns, lq_ns, queue_delay_ns;  // meaningful only if joined; launch_ts_ns absolute
  GapClass gap_class;
  int64_t gap_ns;
  std::string op_name;
};

// Counts the analysis reports rather than hides.
struct Anomalies {
  uint64_t negative_lq = 0;
  uint64_t orphan_kernels = 0;
  uint64_t orphans_no_correlation = 0;
  uint64_t orphans_unmatched = 0;
  uint64_t launches_without_kernel = 0;
  uint64_t duplicate_correlations = 0;
  uint64_t kernels_before_anchor = 0;
  uint64_t kernels_ending_before_anchor = 0;  // IL is undefined for a scope where every kernel does
  uint64_t same_stream_overlaps = 0;
  uint64_t negative_durations = 0;
  uint64_t skipped_bad_phase = 0;
  uint64_t skipped_missing_time = 0;
};

// In-kernel tasks of one stage (launchprof timeline): how many, on how many tracks, and their summed time.
struct InKernelStage {
  std::string stage;
  uint64_t tasks = 0;
  uint64_t tracks = 0;
  int64_t total_ns = 0, first_start_ns = 0, last_end_ns = 0;  // times relative to time_base_ns
};

struct TraceAnalysis {
  std::string path;
  std::string gpu_name;
  ReadCounts counts;
  Anchor anchor;             // ts_ns relative to time_base_ns, like every record
  int64_t time_base_ns = 0;  // absolute trace time of offset 0
  // Join summary.
  uint64_t launches = 0, graph_launches = 0, graph_kernels = 0;
  uint64_t launches_op_by_external_id = 0, launches_op_by_containment = 0, launches_without_op = 0;
  Anomalies anomalies;

  ScopeMetrics all;
  std::vector<ScopeMetrics> devices;  // by device id
  std::vector<ScopeMetrics> streams;  // by (device, stream)
  KernelTables tables;
  FusionResult fusion;
  std::vector<std::vector<std::string>> fusion_chain_names;  // kernel names of fusion.candidates[i]
  std::vector<PerKernelRow> per_kernel;  // only with AnalyzeOptions::per_kernel
  std::vector<InKernelStage> in_kernel;  // by stage, in order of first start (none without launchprof timeline)
  std::vector<StepMetrics> steps;        // ProfilerStep# ranges, in start order (none if the trace has none)
  std::string window;                    // the time window applied, in words ("" = the whole trace)
};

// Keeps only the events that start inside the window (see AnalyzeOptions).
void apply_window(TraceData* trace, int64_t from_ns, int64_t to_ns);

TraceAnalysis analyze_trace(const TraceData& trace, const AnalyzeOptions& options);
// Reads and analyses one file. Errors (I/O, truncation, malformed JSON, no traceEvents) are returned.
Status analyze_file(const std::string& path, const AnalyzeOptions& options, TraceAnalysis* out);

}  // namespace launchprof
