// `launchprof sweep`: SKIP metrics against batch size, and where the workload turns GPU-bound.
//
// The rule (also in --help and docs/launchprof.md):
//   A batch is CPU-bound when the GPU is idle for at least `threshold` (default 0.5) of IL, i.e.
//   idle_frac = (IL - union of kernel intervals) / IL >= threshold; otherwise it is GPU-bound.
//   A batch with no kernels counts as CPU-bound. The transition is the smallest batch B that is
//   GPU-bound while every larger batch is GPU-bound too, and some smaller batch is CPU-bound.
//   If every batch is GPU-bound, or the largest batch is CPU-bound, there is no transition in range.
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

struct SweepRow {
  int64_t batch = 0;
  std::string path;
  ScopeMetrics all;  // whole-trace metrics
  uint64_t launches_without_kernel = 0;
  bool cpu_bound = false;
};

struct SweepDecision {
  std::optional<int64_t> transition_batch;
  std::string verdict;  // one sentence
};

constexpr double kDefaultIdleThreshold = 0.5;
// `rows` sorted by batch.
SweepDecision decide_transition(std::vector<SweepRow>& rows, double threshold);
const char* sweep_rule_text();

}  // namespace launchprof
