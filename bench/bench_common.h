// Small helpers shared by the single- and multi-GPU paths of onemoe-bench: dtype labels, FLOP count,
// percentiles and the JSON envelope's fields (commit, date, escaping).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "onemoe/onemoe.h"

namespace onemoe::bench {

// "bf16" | "fp16" | "tf32" | "fp32" (exact FFMA) into config's dtype and fp32 math. False when unknown.
bool parse_dtype(const std::string& label, MoeConfig* config);

// activation relu | gelu | silu and scoring softmax | sigmoid into config. False when either is unknown.
bool parse_activation_scoring(const std::string& activation, const std::string& scoring, MoeConfig* config);

// FLOPs of one forward: router GEMM plus the expert GEMMs of all T*k routed rows.
double forward_flops(const MoeShape& shape, bool gated);

// The q-quantile (0..1) of v, nearest rank. v must not be empty.
double percentile(std::vector<double> v, double q);

// Long timed loops (stress runs) report progress on stderr every 10 s, so a run cut short still says how far it
// got: call tick(i) before forward i.
class LoopProgress {
 public:
  LoopProgress(int iters, std::string label) : iters_(iters), label_(std::move(label)) {}
  void tick(int i);

 private:
  using Clock = std::chrono::steady_clock;
  int iters_;
  std::string label_;
  Clock::time_point next_report_ = Clock::now() + std::chrono::seconds(10);
};

std::string now_utc();
// ONEMOE_COMMIT when set, else the commit the build was made from ("-dirty" if tracked files differed).
std::string git_commit();
std::string json_escape(const std::string& s);

// Writes a forward's task timeline as CSV (stage,index,block,sm,start_us,end_us) to
// "<prefix>-<dtype>-T<T>-E<E>-k<k><suffix>.csv"; returns the path, or "" when the file cannot be written.
std::string write_task_timeline(const std::string& prefix, const std::string& dtype, const MoeShape& shape,
                                const std::string& suffix, const std::vector<TaskSpan>& spans);

}  // namespace onemoe::bench
