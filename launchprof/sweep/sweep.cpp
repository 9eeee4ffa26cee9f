#include "launchprof/sweep/sweep.h"

#include <cerrno>
#include <cstdlib>

namespace launchprof {

const char* sweep_rule_text() {
  return "a batch is CPU-bound when GPU idle / IL >= threshold (idle = IL - union of kernel intervals; a trace "
         "without kernels counts as CPU-bound), else GPU-bound; the transition is the smallest batch that is "
         "GPU-bound while every larger batch is GPU-bound too and some smaller batch is CPU-bound";
}

Status parse_sweep_label(const std::string& text, SweepLabel* out) {
  auto bad = [&text](const std::string& why) {
    return Status::Error(StatusCode::kInvalidArgument,
                         "--label '" + text + "': " + why + " (expected batch=<positive integer>:<trace path>)");
  };
  const std::string prefix = "batch=";
  if (text.rfind(prefix, 0) != 0) return bad("must start with batch=");
  size_t colon = text.find(':', prefix.size());
  if (colon == std::string::npos) return bad("no ':' before the trace path");
  std::string num = text.substr(prefix.size(), colon - prefix.size());
  if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) return bad("batch is not an integer");
  errno = 0;
  long long b = std::strtoll(num.c_str(), nullptr, 10);
  if (errno != 0 || b <= 0) return bad("batch must be a positive integer");
  out->batch = b;
  out->path = text.substr(colon + 1);
  if (out->path.empty()) return bad("empty trace path");
  return Status::Ok();
}

SweepDecision decide_transition(std::vector<SweepRow>& rows, double threshold) {
  SweepDecision d;
  for (auto& r : rows) r.cpu_bound = r.all.kernels == 0 || r.all.il_ns <= 0 || r.all.idle_fraction() >= threshold;
  if (rows.empty()) {
    d.verdict = "no traces";
    return d;
  }
  if (rows.back().cpu_bound) {
    d.verdict = "CPU-bound at the largest batch (" + std::to_string(rows.back().batch) + "): no transition in range";
    return d;
  }
  size_t first_gpu = rows.size() - 1;  // start of the GPU-bound suffix
  while (first_gpu > 0 && !rows[first_gpu - 1].cpu_bound) --first_gpu;
  if (first_gpu == 0) {
    d.verdict = "GPU-bound at every batch from " + std::to_string(rows.front().batch) + ": no transition in range";
    return d;
  }
  d.transition_batch = rows[first_gpu].batch;
  d.verdict = "CPU-bound below batch " + std::to_string(rows[first_gpu].batch) + ", GPU-bound from batch " +
              std::to_string(rows[first_gpu].batch) + " on";
  return d;
}

}  // namespace launchprof
