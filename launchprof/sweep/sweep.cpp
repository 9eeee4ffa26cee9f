#include "launchprof/sweep/sweep.h"

#include <cerrno>
#include <cstdlib>

namespace launchprof {

const char* tklqt_rule_text() {
  return "TKLQT rule: a batch is GPU-bound when its median lq (kernel start - launch call start) is at least "
         "queue_factor times the median duration of its launch calls, i.e. the typical kernel waited in the launch "
         "queue after its call returned; else CPU-bound (undefined without joined kernels); the transition is the "
         "smallest batch that is GPU-bound while every larger batch is GPU-bound too and some smaller batch is "
         "CPU-bound";
}

const char* idle_rule_text() {
  return "idle rule: a batch is CPU-bound when GPU idle / IL >= threshold (idle = IL - union of kernel, copy and set "
         "intervals; a trace without kernels counts as CPU-bound, one with IL undefined is undefined), else "
         "GPU-bound; the transition is the smallest batch that is GPU-bound while every larger batch is GPU-bound "
         "too and some smaller batch is CPU-bound";
}

const char* regime_name(Regime r) {
  switch (r) {
    case Regime::kCpuBound:
      return "cpu-bound";
    case Regime::kGpuBound:
      return "gpu-bound";
    case Regime::kUndefined:
      return "undefined";
  }
  return "?";
}

double SweepRow::queue_ratio() const {
  return all.joined > 0 && all.launch_call_p50_ns > 0
             ? static_cast<double>(all.lq_p50_ns) / static_cast<double>(all.launch_call_p50_ns)
             : 0.0;
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

namespace {

// The suffix rule over the rows whose regime is defined.
SweepDecision decide(const std::vector<SweepRow>& rows, Regime SweepRow::*regime) {
  SweepDecision d;
  std::vector<const SweepRow*> defined;
  std::string left_out;
  for (const auto& r : rows) {
    if (r.*regime == Regime::kUndefined) {
      left_out += (left_out.empty() ? "" : ", ") + std::to_string(r.batch);
    } else {
      defined.push_back(&r);
    }
  }
  const std::string note = left_out.empty() ? "" : " (undefined, left out: batch " + left_out + ")";
  if (defined.empty()) {
    d.verdict = "no batch with a defined regime" + note;
    return d;
  }
  auto cpu = [regime](const SweepRow* r) { return r->*regime == Regime::kCpuBound; };
  if (cpu(defined.back())) {
    d.verdict =
        "CPU-bound at the largest batch (" + std::to_string(defined.back()->batch) + "): no transition in range" + note;
    return d;
  }
  size_t first_gpu = defined.size() - 1;  // start of the GPU-bound suffix
  while (first_gpu > 0 && !cpu(defined[first_gpu - 1])) --first_gpu;
  if (first_gpu == 0) {
    d.verdict =
        "GPU-bound at every batch from " + std::to_string(defined.front()->batch) + ": no transition in range" + note;
    return d;
  }
  const int64_t b = defined[first_gpu]->batch;
  d.transition_batch = b;
  d.verdict =
      "CPU-bound below batch " + std::to_string(b) + ", GPU-bound from batch " + std::to_string(b) + " on" + note;
  return d;
}

}  // namespace

SweepResult decide_transitions(std::vector<SweepRow>& rows, const SweepRules& rules) {
  for (auto& r : rows) {
    const ScopeMetrics& m = r.all;
    if (m.kernels == 0)
      r.idle_regime = Regime::kCpuBound;
    else if (!m.idle_fraction_defined())
      r.idle_regime = Regime::kUndefined;
    else
      r.idle_regime = m.idle_fraction() >= rules.idle_threshold ? Regime::kCpuBound : Regime::kGpuBound;
    if (m.joined == 0 || m.launch_call_p50_ns <= 0)
      r.tklqt_regime = Regime::kUndefined;
    else
      r.tklqt_regime = r.queue_ratio() >= rules.queue_factor ? Regime::kGpuBound : Regime::kCpuBound;
  }
  SweepResult out;
  if (rows.empty()) {
    out.tklqt.verdict = out.idle.verdict = "no traces";
    return out;
  }
  out.tklqt = decide(rows, &SweepRow::tklqt_regime);
  out.idle = decide(rows, &SweepRow::idle_regime);
  for (size_t i = 1; i < rows.size(); ++i) {
    const ScopeMetrics &a = rows[i - 1].all, &b = rows[i].all;
    if (a.tklqt_ns <= 0 || b.tklqt_ns <= 0) continue;
    double f = static_cast<double>(b.tklqt_ns) / static_cast<double>(a.tklqt_ns);
    if (!out.largest_step_to || f > out.largest_step_factor) {
      out.largest_step_factor = f;
      out.largest_step_from = rows[i - 1].batch;
      out.largest_step_to = rows[i].batch;
    }
  }
  return out;
}

}  // namespace launchprof
