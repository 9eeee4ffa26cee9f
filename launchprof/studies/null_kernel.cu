// launchprof-null-kernel: the launch floor. Launches an empty kernel N times and measures, with CUPTI activity
// records, lq = kernel start - launch call start for each launch (SKIP's launch plus queuing time).
//   isolated: launch, wait, repeat: no queue, the pure launch path (compare with SKIP Table V);
//   burst:    N launches back to back, then one wait: what a launch-bound program sees (queuing included).
// --coverage launches through every launch API (launch_apis.h) inside NVTX ranges and checks, API by API, that each
// launch call was joined to its kernels. --no-cupti runs the same loops with no collector (for the overhead study
// and for running under `launchprof record`, which brings its own).
#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "api_names.h"
#include "cupti_collector.h"
#include "envelope.h"
#include "launch_apis.h"
#include "output_file.h"
#include "trace_link.h"
#include "trace_writer.h"

namespace lp = launchprof::record;
namespace ls = launchprof::studies;

namespace {

// SKIP paper (Characterizing and Optimizing LLM Inference Workloads on CPU-GPU Coupled Architectures), Table V.
constexpr const char* kSkipTableV = "SKIP Table V null-kernel launch: A100 2.26 us, H100 PCIe 2.37 us, GH200 2.77 us";

#define CUDA_CHECK(call)                                                                            \
  do {                                                                                              \
    cudaError_t err_ = (call);                                                                      \
    if (err_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(err_)); \
      std::exit(1);                                                                                 \
    }                                                                                               \
  } while (0)

struct Options {
  int n = 10000;
  int warmup = 200;
  int repeat = 1;
  int device = 0;
  int coverage_calls = 5;
  bool isolated = true;
  bool burst = true;
  bool coverage = false;
  bool cupti = true;
  std::string json;
  std::string trace;
  std::string commit = "unknown";
  std::string command;
};

void usage() {
  std::puts(
      "usage: launchprof-null-kernel [--n N] [--warmup W] [--mode isolated|burst|both|none] [--repeat R]\n"
      "                              [--coverage] [--no-cupti] [--device D] [--json PATH] [--trace PATH]\n"
      "                              [--commit SHA]\n"
      "  --repeat R   run the burst loop R times and report each loop's wall time and the median\n"
      "  --coverage   launch through every launch API and check each was joined to its kernels (exit 1 if not)\n"
      "  --no-cupti   no in-process collector (use under `launchprof record`, or as the overhead baseline)\n"
      "  --json PATH  write the results in the bench/results envelope\n"
      "  --trace PATH write the Chrome trace of the whole run (keep N small)");
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 0; i < argc; ++i) o.command += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--n") {
      o.n = std::atoi(value());
    } else if (a == "--warmup") {
      o.warmup = std::atoi(value());
    } else if (a == "--repeat") {
      o.repeat = std::max(1, std::atoi(value()));
    } else if (a == "--device") {
      o.device = std::atoi(value());
    } else if (a == "--mode") {
      std::string m = value();
      o.isolated = m == "isolated" || m == "both";
      o.burst = m == "burst" || m == "both";
      if (!o.isolated && !o.burst && m != "none") {
        std::fprintf(stderr, "unknown mode %s\n", m.c_str());
        return false;
      }
    } else if (a == "--coverage") {
      o.coverage = true;
    } else if (a == "--no-cupti") {
      o.cupti = false;
    } else if (a == "--json") {
      o.json = value();
    } else if (a == "--trace") {
      o.trace = value();
    } else if (a == "--commit") {
      o.commit = value();
    } else if (a == "-h" || a == "--help") {
      usage();
      std::exit(0);
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      usage();
      return false;
    }
  }
  return o.n > 0;
}

struct Stats {
  size_t n = 0;
  double median = 0, p99 = 0, min = 0, max = 0, mean = 0;
};

// Nearest-rank percentiles over the samples (microseconds).
Stats stats_of(std::vector<double> v) {
  Stats s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto rank = [&](double p) {
    size_t k = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];
  };
  s.median = rank(50);
  s.p99 = rank(99);
  s.min = v.front();
  s.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

struct Window {
  std::string mode;
  uint64_t start_ns;
  uint64_t end_ns;
  std::vector<double> loop_ms;  // wall time of each timed loop
};

struct ModeResult {
  std::string mode;
  size_t kernels = 0;
  size_t negative_lq = 0;
  std::set<std::string> launch_names;
  Stats lq, call, gap, dur;
  std::vector<double> loop_ms;
};

double median_of(std::vector<double> v) { return v.empty() ? 0.0 : stats_of(std::move(v)).median; }

ModeResult analyze_window(const lp::TraceModel& m, const lp::LinkedTrace& linked, const Window& w) {
  ModeResult r;
  r.mode = w.mode;
  r.loop_ms = w.loop_ms;
  std::vector<double> lq, call, gap, dur;
  for (size_t i = 0; i < m.gpu_ops.size(); ++i) {
    const lp::GpuOp& op = m.gpu_ops[i];
    const int32_t launch = linked.op_launch[i];
    if (op.kind != lp::GpuOpKind::kKernel || launch < 0) continue;
    if (m.strings.at(op.name_idx).find("null_kernel") == std::string::npos) continue;
    const lp::ApiCall& c = m.api_calls[launch];
    if (c.start_ns < w.start_ns || c.start_ns > w.end_ns) continue;
    const double to_us = 1e-3;
    const int64_t lq_ns = static_cast<int64_t>(op.start_ns) - static_cast<int64_t>(c.start_ns);
    lq.push_back(lq_ns * to_us);
    call.push_back((static_cast<int64_t>(c.end_ns) - static_cast<int64_t>(c.start_ns)) * to_us);
    gap.push_back((static_cast<int64_t>(op.start_ns) - static_cast<int64_t>(c.end_ns)) * to_us);
    dur.push_back((static_cast<int64_t>(op.end_ns) - static_cast<int64_t>(op.start_ns)) * to_us);
    r.negative_lq += lq_ns < 0;
    r.launch_names.insert(m.strings.at(c.name_idx));
  }
  r.kernels = lq.size();
  r.lq = stats_of(lq);
  r.call = stats_of(call);
  r.gap = stats_of(gap);
  r.dur = stats_of(dur);
  return r;
}

// Points NVTX at the libcupti this program uses, so that NVTX ranges become CUPTI marker records.
void route_nvtx_to_cupti() {
  const std::string cupti = lp::loaded_cupti_path();
  if (!cupti.empty()) setenv("NVTX_INJECTION64_PATH", cupti.c_str(), 0);
}

Window run_loop(const std::string& mode, int n, bool sync_each, cudaStream_t stream, int repeat) {
  Window w{mode, lp::collector_now_ns(), 0, {}};
  for (int r = 0; r < repeat; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      ls::launch_null(stream);
      if (sync_each) CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    CUDA_CHECK(cudaStreamSynchronize(stream));
    auto t1 = std::chrono::steady_clock::now();
    w.loop_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  CUDA_CHECK(cudaGetLastError());
  w.end_ns = lp::collector_now_ns();
  return w;
}

void run_coverage(cudaStream_t stream, int calls, void* d_buf, void* h_buf) {
  const auto& apis = ls::launch_apis();
  CUDA_CHECK(cudaStreamSynchronize(stream));
  for (const ls::LaunchApi& api : apis) {
    const std::string range = std::string("launch:") + api.name;
    for (int k = 0; k < calls; ++k) {
      nvtxRangePushA(range.c_str());
      cudaError_t err = api.launch(stream);
      nvtxRangePop();
      if (err != cudaSuccess) std::fprintf(stderr, "coverage: %s failed: %s\n", api.name, cudaGetErrorString(err));
    }
    CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  for (int k = 0; k < calls; ++k) {
    nvtxRangePushA("op:cudaMemsetAsync");
    CUDA_CHECK(cudaMemsetAsync(d_buf, 0, 4096, stream));
    nvtxRangePop();
    nvtxRangePushA("op:cudaMemcpyAsync");
    CUDA_CHECK(cudaMemcpyAsync(d_buf, h_buf, 4096, cudaMemcpyHostToDevice, stream));
    nvtxRangePop();
  }
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

// For each "launch:<api>" / "op:<api>" range: the launch calls inside it and the GPU ops joined to them.
bool check_coverage(const lp::TraceModel& m, const lp::LinkedTrace& linked, int calls) {
  struct Tally {
    size_t calls = 0;
    size_t ops = 0;
    std::set<std::string> traced;
  };
  std::map<std::string, Tally> by_range;
  for (size_t i = 0; i < m.api_calls.size(); ++i) {
    const int32_t r = linked.api_range[i];
    if (r < 0 || !linked.api_kept[i]) continue;
    const std::string& range = m.strings.at(m.ranges[r].name_idx);
    if (range.rfind("launch:", 0) != 0 && range.rfind("op:", 0) != 0) continue;
    if (linked.api_num_ops[i] == 0 && range.rfind("launch:", 0) == 0 &&
        !lp::is_kernel_launch_api(m.strings.at(m.api_calls[i].name_idx))) {
      continue;  // e.g. cudaGetLastError after <<<>>>
    }
    Tally& t = by_range[range];
    t.calls += linked.api_num_ops[i] > 0;
    t.ops += linked.api_num_ops[i];
    t.traced.insert(m.strings.at(m.api_calls[i].name_idx));
  }
  bool ok = true;
  std::printf("# coverage: %d calls per API, each inside an NVTX range; a launch call must be joined to its ops\n",
              calls);
  std::printf("# %-36s %-44s %8s %8s %8s %s\n", "range", "traced as", "calls", "ops", "expected", "check");
  auto check = [&](const std::string& range, size_t expected_ops) {
    const Tally& t = by_range[range];
    std::string traced;
    for (const std::string& s : t.traced) traced += (traced.empty() ? "" : ",") + s;
    const bool pass = t.calls == static_cast<size_t>(calls) && t.ops == expected_ops;
    ok = ok && pass;
    std::printf("  %-36s %-44s %8zu %8zu %8zu %s\n", range.c_str(), traced.empty() ? "-" : traced.c_str(), t.calls,
                t.ops, expected_ops, pass ? "ok" : "MISSING");
  };
  for (const ls::LaunchApi& api : ls::launch_apis()) {
    check(std::string("launch:") + api.name, static_cast<size_t>(calls) * api.kernels_per_call);
  }
  check("op:cudaMemsetAsync", calls);
  check("op:cudaMemcpyAsync", calls);
  if (m.ranges.empty()) std::printf("# no NVTX ranges recorded: is NVTX_INJECTION64_PATH overridden?\n");
  return ok;
}

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.3f", v);
  return buf;
}

std::string mode_row(const ModeResult& r, int n) {
  std::string row = "{\"impl\": \"null-kernel-" + r.mode + "\", \"mode\": \"" + r.mode +
                    "\", \"n\": " + std::to_string(n) + ", \"kernels\": " + std::to_string(r.kernels);
  auto field = [&](const char* k, double v) { row += std::string(", \"") + k + "\": " + fmt(v); };
  if (r.kernels > 0) {
    field("lq_median_us", r.lq.median);
    field("lq_p99_us", r.lq.p99);
    field("lq_min_us", r.lq.min);
    field("lq_mean_us", r.lq.mean);
    field("call_median_us", r.call.median);
    field("call_p99_us", r.call.p99);
    field("start_after_call_end_median_us", r.gap.median);
    field("kernel_dur_median_us", r.dur.median);
    row += ", \"negative_lq\": " + std::to_string(r.negative_lq);
    std::string names;
    for (const std::string& s : r.launch_names) names += (names.empty() ? "" : ",") + s;
    row += ", \"launch_api\": \"" + names + "\"";
  }
  if (!r.loop_ms.empty()) {
    field("loop_ms", median_of(r.loop_ms));
    row += ", \"loop_ms_each\": [";
    for (size_t i = 0; i < r.loop_ms.size(); ++i) row += (i ? ", " : "") + fmt(r.loop_ms[i]);
    row += "]";
    field("us_per_launch", median_of(r.loop_ms) * 1e3 / n);
  }
  row += ", \"wrong\": null}";
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) return 2;
  if (o.cupti && std::getenv("CUDA_INJECTION64_PATH") != nullptr) {
    std::fprintf(stderr, "# CUDA_INJECTION64_PATH is set: another collector is injected, running with --no-cupti\n");
    o.cupti = false;
  }
  if (o.cupti) {
    route_nvtx_to_cupti();
    auto st = lp::collector_start(lp::collector_options_from_env());
    if (!st.ok) {
      std::fprintf(stderr, "collector: %s\n", st.message.c_str());
      return 1;
    }
  }
  CUDA_CHECK(cudaSetDevice(o.device));
  CUDA_CHECK(cudaFree(nullptr));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, o.device));
  int runtime_version = 0, driver_version = 0;
  cudaRuntimeGetVersion(&runtime_version);
  cudaDriverGetVersion(&driver_version);
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  void* d_buf = nullptr;
  void* h_buf = nullptr;
  CUDA_CHECK(cudaMalloc(&d_buf, 4096));
  CUDA_CHECK(cudaMallocHost(&h_buf, 4096));

  std::printf("# launchprof-null-kernel: device %d %s (sm_%d%d, %d SMs), runtime %d, driver %d, collector %s, n=%d\n",
              o.device, prop.name, prop.major, prop.minor, prop.multiProcessorCount, runtime_version, driver_version,
              o.cupti ? "in-process CUPTI" : "none", o.n);

  for (int i = 0; i < o.warmup; ++i) ls::launch_null(stream);
  CUDA_CHECK(cudaStreamSynchronize(stream));

  std::vector<Window> windows;
  if (o.isolated) windows.push_back(run_loop("isolated", o.n, true, stream, 1));
  if (o.burst) windows.push_back(run_loop("burst", o.n, false, stream, o.repeat));
  if (o.coverage) run_coverage(stream, o.coverage_calls, d_buf, h_buf);

  bool ok = true;
  std::vector<std::string> rows;
  if (o.cupti) {
    lp::collector_stop();
    lp::TraceModel model = lp::collector_take();
    lp::LinkedTrace linked = lp::link_trace(model, {});
    lp::TraceSummary summary = lp::summarize(model, linked);
    std::printf("# %-9s %8s %12s %10s %10s %10s %12s %12s %12s %10s  %s\n", "mode", "kernels", "lq_median_us",
                "lq_p99_us", "lq_min_us", "lq_mean_us", "call_med_us", "after_end_us", "dur_med_us", "loop_ms",
                "launch api");
    for (const Window& w : windows) {
      ModeResult r = analyze_window(model, linked, w);
      std::string names;
      for (const std::string& s : r.launch_names) names += (names.empty() ? "" : ",") + s;
      std::printf("  %-9s %8zu %12.3f %10.3f %10.3f %10.3f %12.3f %12.3f %12.3f %10.3f  %s\n", r.mode.c_str(),
                  r.kernels, r.lq.median, r.lq.p99, r.lq.min, r.lq.mean, r.call.median, r.gap.median, r.dur.median,
                  median_of(r.loop_ms), names.c_str());
      if (r.kernels != static_cast<size_t>(o.n) * w.loop_ms.size()) {
        std::printf("# %s: %zu of %zu launches joined to a kernel (dropped records: %llu)\n", r.mode.c_str(), r.kernels,
                    static_cast<size_t>(o.n) * w.loop_ms.size(),
                    static_cast<unsigned long long>(model.counts.dropped_records));
      }
      if (r.mode == "isolated" && r.kernels > 0) {
        std::printf("# %s; this run (isolated, median): %.2f us on %s\n", kSkipTableV, r.lq.median, prop.name);
      }
      rows.push_back(mode_row(r, o.n));
    }
    if (o.coverage) ok = check_coverage(model, linked, o.coverage_calls);
    std::fputs(lp::format_summary(model, linked, summary).c_str(), stdout);
    if (!o.trace.empty()) {
      std::string error;
      auto sink = lp::FileSink::open(o.trace, &error);
      lp::WriterOptions wo;
      wo.trace_name = o.trace;
      if (!sink || !lp::write_chrome_trace(model, linked, summary, wo, *sink).ok || !sink->close(&error)) {
        std::fprintf(stderr, "cannot write trace %s: %s\n", o.trace.c_str(), error.c_str());
        ok = false;
      }
    }
  } else {
    std::printf("# %-9s %10s %12s  (no collector: wall time only)\n", "mode", "loop_ms", "us_per_launch");
    for (const Window& w : windows) {
      ModeResult r;
      r.mode = w.mode;
      r.loop_ms = w.loop_ms;
      std::printf("  %-9s %10.3f %12.3f\n", w.mode.c_str(), median_of(w.loop_ms), median_of(w.loop_ms) * 1e3 / o.n);
      rows.push_back(mode_row(r, o.n));
    }
  }
  if (!o.json.empty()) {
    std::string cmd = o.command;
    if (!ls::write_envelope(o.json, "launchprof-null-kernel", cmd, o.commit, prop.name, 1, rows)) {
      std::fprintf(stderr, "cannot write %s\n", o.json.c_str());
      ok = false;
    }
  }
  cudaFree(d_buf);
  cudaFreeHost(h_buf);
  cudaStreamDestroy(stream);
  return ok ? 0 : 1;
}
