// `launchprof sweep`: SKIP metrics against batch size, and where the workload turns GPU-bound, by two rules.
//
// The TKLQT rule (the first; also in --help and docs/launchprof-guide.md):
//   Each kernel's lq (kernel start - launch call start) is its launch call's own duration plus the time it then
//   waited in the launch queue. A batch is GPU-bound when its median lq is at least `queue_factor` (default 4)
//   times the median duration of its launch calls: the typical kernel waited in the queue for at least three
//   launch calls' time after its call returned, so the host is ahead of the GPU and TKLQT is mostly queueing.
//   Otherwise it is CPU-bound. A batch without joined kernels (or whose launch calls take no time) is undefined.
//   The median, not the mean (TKLQT / kernels), because a few kernels queued behind one long GEMM carry the mean
//   while the typical kernel still finds the GPU idle.
// The idle rule (the second, kept from before):
//   A batch is CPU-bound when GPU idle / IL >= `threshold` (default 0.5; idle = IL - union of kernel, copy and set
//   intervals), else GPU-bound. A trace without kernels counts as CPU-bound; one whose IL is undefined (every
//   kernel ends before the IL anchor) is undefined.
// For both rules the transition is the smallest batch B that is GPU-bound while every larger batch is GPU-bound too,
// and some smaller batch is CPU-bound; undefined batches are left out (and named). If every batch is GPU-bound, or
// the largest is CPU-bound, there is no transition in range.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "launchprof/analyze/analysis.h"
#include "launchprof/analyze/status.h"

namespace launchprof {

struct SweepLabel {
  int64_t batch = 0;
  std::string path;
};

// Parses "batch=<positive int>:<path>".
Status parse_sweep_label(const std::string& text, SweepLabel* out);

enum class Regime : uint8_t { kCpuBound, kGpuBound, kUndefined };
const char* regime_name(Regime r);  // "cpu-bound", "gpu-bound", "undefined"

struct SweepRow {
  int64_t batch = 0;
  std::string path;
  ScopeMetrics all;  // whole-trace metrics
  uint64_t launches_without_kernel = 0;
  Regime tklqt_regime = Regime::kUndefined;
  Regime idle_regime = Regime::kUndefined;
  // Median lq / median launch call duration (the TKLQT rule's measure); defined with tklqt_regime.
  double queue_ratio() const;
};

struct SweepDecision {
  std::optional<int64_t> transition_batch;
  std::string verdict;  // one sentence
};

struct SweepRules {
  double queue_factor = 4.0;
  double idle_threshold = 0.5;
};

struct SweepResult {
  SweepDecision tklqt;  // the TKLQT rule
  SweepDecision idle;   // the idle rule
  // The largest growth of TKLQT from one batch to the next (the step a TKLQT plot shows); none with < 2 batches.
  std::optional<int64_t> largest_step_from, largest_step_to;
  double largest_step_factor = 0.0;
};

constexpr double kDefaultIdleThreshold = 0.5;
constexpr double kDefaultQueueFactor = 4.0;
// `rows` sorted by batch; sets each row's regimes.
SweepResult decide_transitions(std::vector<SweepRow>& rows, const SweepRules& rules);
const char* tklqt_rule_text();
const char* idle_rule_text();

}  // namespace launchprof
