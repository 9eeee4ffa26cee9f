#include "bench_common.h"

#include "build_commit.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace onemoe::bench {

void LoopProgress::tick(int i) {
  if (Clock::now() < next_report_) return;
  std::fprintf(stderr, "# progress: %d of %d timed forwards done%s\n", i, iters_, label_.c_str());
  next_report_ += std::chrono::seconds(10);
}

bool parse_dtype(const std::string& s, MoeConfig* c) {
  if (s == "bf16") c->dtype = DType::kBF16;
  else if (s == "fp16") c->dtype = DType::kFP16;
  else if (s == "tf32") { c->dtype = DType::kFP32; c->fp32_math = Fp32Math::kTF32; }
  else if (s == "fp32") { c->dtype = DType::kFP32; c->fp32_math = Fp32Math::kFFMA; }
  else return false;
  return true;
}

bool parse_activation_scoring(const std::string& activation, const std::string& scoring, MoeConfig* c) {
  if (activation == "relu") c->activation = Activation::kReLU;
  else if (activation == "gelu") c->activation = Activation::kGELU;
  else if (activation == "silu") c->activation = Activation::kSiLU;
  else return false;
  if (scoring == "softmax") c->scoring = Scoring::kSoftmax;
  else if (scoring == "sigmoid") c->scoring = Scoring::kSigmoid;
  else return false;
  return true;
}

double forward_flops(const MoeShape& s, bool gated) {
  const double rows = double(s.num_tokens) * s.top_k;
  return 2.0 * s.num_tokens * s.num_experts * s.hidden + rows * 2.0 * s.hidden * s.intermediate * (gated ? 3 : 2);
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, size_t(q * (v.size() - 1) + 0.5));
  return v[i];
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string git_commit() {
  if (const char* env = std::getenv("ONEMOE_COMMIT"); env && *env) return env;
  return ONEMOE_BUILD_COMMIT;  // the commit the build was made from, not the one of the directory it runs in
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '\n') { o += "\\n"; continue; }
    o += c;
  }
  return o;
}

std::string write_task_timeline(const std::string& prefix, const std::string& dtype, const MoeShape& shape,
                                const std::string& suffix, const std::vector<TaskSpan>& spans) {
  const std::string path = prefix + "-" + dtype + "-T" + std::to_string(shape.num_tokens) + "-E" +
                           std::to_string(shape.num_experts) + "-k" + std::to_string(shape.top_k) + suffix + ".csv";
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return "";
  std::fprintf(f, "stage,index,block,sm,start_us,end_us,mark1_us,mark2_us,mark3_us\n");
  static_assert(TaskSpan::kMarks == 3, "the header names three marks");
  for (const TaskSpan& t : spans)
    std::fprintf(f, "%s,%d,%d,%d,%.3f,%.3f,%.3f,%.3f,%.3f\n", t.stage.c_str(), t.index, t.block, t.sm, t.start_us,
                 t.end_us, t.mark_us[0], t.mark_us[1], t.mark_us[2]);
  return std::fclose(f) == 0 ? path : "";
}

}  // namespace onemoe::bench
