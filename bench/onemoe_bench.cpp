// onemoe-bench: times the fused MoE layer against the in-binary baselines, nccl-tests style.
// Output: a '#' preamble (command, devices, config), a two-line header (names, units), one row per
// (shape, dtype, implementation) with a #wrong column, and optionally the same rows as JSON.
#include <cuda_runtime_api.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "baselines/kernel_counter.h"
#include "baselines/pipeline_baseline.h"
#include "bench_common.h"
#include "harness/moe_problem.h"
#include "multi_gpu/ep_bench.h"
#include "onemoe/onemoe.h"

namespace {

using onemoe::Result;

struct Options {
  int64_t min_tokens = 16384, max_tokens = 16384;
  double factor = 2;
  std::vector<int> experts{128};
  std::vector<int> top_k{2};
  int hidden = 2048, intermediate = 2048;
  std::vector<std::string> dtypes{"bf16"};
  std::string activation = "gelu", scoring = "softmax";
  bool gated = false, no_renormalize = false;
  std::string routing = "topk";
  int num_groups = 1, topk_groups = 1;
  double routed_scaling = 1.0;
  double capacity_factor = 0;
  int warmup = 5, iters = 20;
  int check = 1;
  int count_launches = 1;
  int64_t check_tokens = 512;
  std::vector<std::string> impls{"onemoe", "baseline-torch-loop", "baseline-grouped-gemm"};
  std::string json_path;
  std::string timeline_prefix;
  uint64_t seed = 1;
};

struct Row {
  std::string impl, dtype;
  int64_t T;
  int E, k, H, I;
  double ms = NAN, p99_ms = NAN, tflops = NAN;
  double hbm_floor_ms = NAN;  // the forward's fewest bytes over the copy bandwidth measured in this run
  int64_t launches = -1;
  std::optional<int64_t> wrong;  // nullopt: the check did not run
  std::string note;
};

using onemoe::bench::forward_flops;
using onemoe::bench::git_commit;
using onemoe::bench::json_escape;
using onemoe::bench::now_utc;
using onemoe::bench::parse_dtype;
using onemoe::bench::percentile;

// Anything with a run(RunArgs, stream) that can be timed.
template <class RunFn>
Result time_forward(RunFn&& run, const Options& o, std::vector<double>* times_ms) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (int i = 0; i < o.warmup; ++i)
    if (Result r = run(); !r.ok()) return r;
  if (cudaDeviceSynchronize() != cudaSuccess) return Result::error(onemoe::Status::kErrorCuda, "warm-up failed");
  onemoe::bench::LoopProgress progress(o.iters, "");
  for (int i = 0; i < o.iters; ++i) {
    progress.tick(i);
    cudaEventRecord(start);
    if (Result r = run(); !r.ok()) return r;
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    times_ms->push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  const cudaError_t err = cudaDeviceSynchronize();
  if (err != cudaSuccess) return Result::error(onemoe::Status::kErrorCuda, cudaGetErrorString(err));
  return Result::success();
}

// run() enqueues one forward; finish() waits and reports device-side failures (outside the timed region).
template <class RunFn, class FinishFn>
Row measure(const std::string& impl, RunFn&& run, FinishFn&& finish, onemoe::harness::DeviceProblem& problem,
            const Options& o, const std::string& dtype_label) {
  const onemoe::MoeShape& s = problem.shape();
  Row row{impl, dtype_label, s.num_tokens, s.num_experts, s.top_k, s.hidden, s.intermediate};
  // Correctness first, on poisoned outputs.
  if (o.check) {
    if (Result r = problem.poison_outputs(nullptr); !r.ok()) { row.note = r.message; return row; }
    if (Result r = run(); !r.ok()) { row.note = r.message; return row; }
    if (Result r = finish(); !r.ok()) { row.note = r.message; return row; }
    onemoe::harness::CheckReport report;
    if (Result r = problem.check(o.check_tokens, &report); !r.ok()) { row.note = r.message; return row; }
    row.wrong = report.output.num_wrong + report.routing_mismatches;
    if (!report.pass) row.note = report.summary();
  }
  // Launches per forward, counted by CUPTI (skipped under another CUPTI client, e.g. launchprof record).
  if (o.count_launches) {
    onemoe::baselines::KernelCounter counter;
    if (counter.start().ok()) {
      Result r = run();
      if (counter.stop_and_flush().ok() && r.ok()) row.launches = counter.kernels();
    }
  }
  std::vector<double> times;
  if (Result r = time_forward(run, o, &times); !r.ok()) { row.note = r.message; return row; }
  if (Result r = finish(); !r.ok()) { row.note = r.message; return row; }
  row.ms = percentile(times, 0.5);
  row.p99_ms = percentile(times, 0.99);
  row.tflops = forward_flops(s, problem.config().gated) / (row.ms * 1e-3) / 1e12;
  return row;
}

void write_timeline(const onemoe::Context& ctx, const std::string& prefix, const std::string& dtype,
                    const onemoe::MoeShape& shape) {
  std::vector<onemoe::TaskSpan> spans;
  if (Result r = ctx.task_timeline(&spans); !r.ok()) {
    std::printf("# timeline not written: %s\n", r.message.c_str());
    return;
  }
  const std::string path = onemoe::bench::write_task_timeline(prefix, dtype, shape, "", spans);
  if (path.empty()) std::printf("# timeline not written: cannot write under '%s'\n", prefix.c_str());
  else std::printf("# timeline: %zu tasks in %s\n", spans.size(), path.c_str());
}

// Device-to-device copy bandwidth (bytes read plus bytes written per second) of a 1 GiB copy, median of 10:
// the memory ceiling the rows' hbm_floor_ms is measured against.
double copy_bandwidth_bytes_per_s() {
  constexpr size_t kBytes = size_t(1) << 30;
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, kBytes) != cudaSuccess || cudaMalloc(&b, kBytes) != cudaSuccess) {
    cudaFree(a);
    cudaGetLastError();
    return NAN;
  }
  cudaMemset(a, 1, kBytes);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<double> ms;
  for (int i = 0; i < 12; ++i) {
    cudaEventRecord(e0);
    cudaMemcpyAsync(b, a, kBytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float t = 0;
    cudaEventElapsedTime(&t, e0, e1);
    if (i >= 2) ms.push_back(t);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaFree(a);
  cudaFree(b);
  return 2.0 * double(kBytes) / (percentile(ms, 0.5) * 1e-3);
}

// The fewest bytes a forward must move: x in and out once, the router weight, and every expert that at least one
// kept (token, expert) pair uses, once (ids: the forward's top-k ids; a dropped pair still names its expert, so
// with a capacity this counts an expert whose pairs were all dropped: an upper bound there).
double touched_bytes(const onemoe::MoeShape& s, const onemoe::MoeConfig& c, const std::vector<int32_t>& ids) {
  std::vector<char> used(size_t(s.num_experts), 0);
  for (int32_t e : ids)
    if (e >= 0 && e < s.num_experts) used[size_t(e)] = 1;
  const double experts = double(std::count(used.begin(), used.end(), 1));
  const double elem = double(onemoe::dtype_size(c.dtype)), H = s.hidden, I = s.intermediate;
  const double per_expert = ((c.gated ? 2.0 : 1.0) * I * H + H * I) * elem;
  return experts * per_expert + double(s.num_experts) * H * elem + 2.0 * double(s.num_tokens) * H * elem;
}

// --routing and its parameters into config; false (with a message) when the mode is unknown.
bool set_routing(const Options& o, onemoe::MoeConfig* config) {
  if (o.routing == "topk") config->routing = onemoe::Routing::kTopK;
  else if (o.routing == "topk-softmax") config->routing = onemoe::Routing::kTopKSoftmax;
  else if (o.routing == "grouped") config->routing = onemoe::Routing::kGroupedTopK;
  else {
    std::fprintf(stderr, "onemoe-bench: unknown --routing '%s' (topk | topk-softmax | grouped)\n", o.routing.c_str());
    return false;
  }
  config->num_groups = o.num_groups;
  config->topk_groups = o.topk_groups;
  config->routed_scaling_factor = float(o.routed_scaling);
  return true;
}

void print_header() {
  std::printf("#%9s %5s %3s %6s %6s %6s  %-22s %10s %10s %9s %9s %7s\n", "T", "E", "k", "H", "I", "dtype", "impl",
              "time", "p99", "TFLOP/s", "launches", "#wrong");
  std::printf("#%9s %5s %3s %6s %6s %6s  %-22s %10s %10s %9s %9s %7s\n", "(tokens)", "", "", "", "", "", "", "(ms)",
              "(ms)", "", "(/fwd)", "");
}

void print_row(const Row& r) {
  const std::string wrong = r.wrong ? std::to_string(*r.wrong) : "N/A";
  std::printf(" %9lld %5d %3d %6d %6d %6s  %-22s %10.4f %10.4f %9.1f %9lld %7s\n", (long long)r.T, r.E, r.k, r.H, r.I,
              r.dtype.c_str(), r.impl.c_str(), r.ms, r.p99_ms, r.tflops, (long long)r.launches, wrong.c_str());
  if (!r.note.empty()) std::printf("#   %s: %s\n", r.impl.c_str(), r.note.c_str());
  std::fflush(stdout);
}

void write_json(const std::string& path, const std::string& command, const std::string& gpu, int gpus,
                const std::vector<Row>& rows, const Options& o) {
  std::ofstream f(path);
  f << "{\n  \"tool\": \"onemoe-bench\",\n  \"command\": \"" << json_escape(command) << "\",\n  \"commit\": \""
    << git_commit() << "\",\n  \"date\": \"" << now_utc() << "\",\n  \"gpu\": \"" << json_escape(gpu)
    << "\",\n  \"gpus\": " << gpus << ",\n  \"rows\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    auto num = [](double v) { return std::isfinite(v) ? std::to_string(v) : std::string("null"); };
    f << "    {\"impl\": \"" << r.impl << "\", \"dtype\": \"" << r.dtype << "\", \"T\": " << r.T << ", \"E\": " << r.E
      << ", \"k\": " << r.k << ", \"H\": " << r.H << ", \"I\": " << r.I << ", \"ranks\": 1, \"ms\": " << num(r.ms)
      << ", \"p99_ms\": " << num(r.p99_ms) << ", \"tflops\": " << num(r.tflops)
      << ", \"hbm_floor_ms\": " << num(r.hbm_floor_ms)
      << ", \"launches_per_forward\": " << (r.launches >= 0 ? std::to_string(r.launches) : "null")
      << ", \"wrong\": " << (r.wrong ? std::to_string(*r.wrong) : "null") << ", \"gated\": "
      << (o.gated ? "true" : "false") << ", \"activation\": \"" << o.activation << "\"";
    if (!r.note.empty()) f << ", \"notes\": \"" << json_escape(r.note) << "\"";
    f << "}" << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  f << "  ]\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"onemoe-bench: the fused MoE layer against in-binary baselines (one GPU)"};
  app.add_option("-b,--min-tokens", o.min_tokens, "smallest T (tokens per GPU)")->capture_default_str();
  app.add_option("-e,--max-tokens", o.max_tokens, "largest T")->capture_default_str();
  app.add_option("-f,--step-factor", o.factor, "multiply T by this between rows")->capture_default_str();
  app.add_option("--experts", o.experts, "E values (list, comma-separated)")->delimiter(',')->capture_default_str();
  app.add_option("-k,--topk", o.top_k, "k values (list)")->delimiter(',')->capture_default_str();
  app.add_option("-H,--hidden", o.hidden, "H (multiple of 64)")->capture_default_str();
  app.add_option("-I,--intermediate", o.intermediate, "I (multiple of 64)")->capture_default_str();
  app.add_option("-d,--dtype", o.dtypes, "bf16 | fp16 | tf32 | fp32 (exact FFMA); list")->delimiter(',')->capture_default_str();
  app.add_option("--activation", o.activation, "relu | gelu | silu")->capture_default_str();
  app.add_flag("--gated", o.gated, "gated (SwiGLU-style) FFN: act(x W1) * (x W3), then W2");
  app.add_option("--scoring", o.scoring, "softmax | sigmoid")->capture_default_str();
  app.add_flag("--no-renormalize", o.no_renormalize, "do not renormalize the top-k scores");
  app.add_option("--routing", o.routing,
                 "topk (scores, then top-k) | topk-softmax (top-k logits, softmax over the k) | grouped "
                 "(DeepSeek-V3: --num-groups, --topk-groups; correction bias zero)")
      ->capture_default_str();
  app.add_option("--num-groups", o.num_groups, "grouped routing: expert groups (n_group)")->capture_default_str();
  app.add_option("--topk-groups", o.topk_groups, "grouped routing: groups chosen (topk_group)")->capture_default_str();
  app.add_option("--routed-scaling", o.routed_scaling, "routed_scaling_factor: every routing weight times this")
      ->capture_default_str();
  app.add_option("--capacity-factor", o.capacity_factor, "expert capacity factor; 0 = dropless")->capture_default_str();
  app.add_option("-w,--warmup", o.warmup, "warm-up forwards")->capture_default_str();
  app.add_option("-n,--iters", o.iters, "timed forwards (median reported)")->capture_default_str();
  app.add_option("-c,--check", o.check, "1: check every implementation against the fp64 CPU reference")
      ->capture_default_str();
  app.add_option("--check-tokens", o.check_tokens, "dropless: check this many evenly spaced tokens (0: all)")
      ->capture_default_str();
  app.add_option("--count-launches", o.count_launches,
                 "1: count kernel launches per forward with CUPTI (off by default under CUDA_INJECTION64_PATH, "
                 "where another CUPTI client such as launchprof record owns the activity API)")
      ->capture_default_str();
  app.add_option("--impl", o.impls, "implementations to run (list)")->delimiter(',')->capture_default_str();
  app.add_option("--json", o.json_path, "write the rows as JSON (bench/results format)");
  app.add_option("--seed", o.seed, "input seed")->capture_default_str();
  app.add_option("--timeline", o.timeline_prefix,
                 "onemoe: record every task of the forwards and write the last timed one as CSV to "
                 "PREFIX-<dtype>-T<T>-E<E>-k<k>[-rank<r>].csv (diagnostics: adds one store per task)");
  // Multi-GPU (expert-parallel) mode: --gpus N (one process, a thread per GPU) or --nccl-id-file (one process
  // per GPU under mpirun/torchrun). Without either, the single-GPU rows below run unchanged.
  onemoe::multi_gpu::EpOptions ep;
  auto* gpus_opt = app.add_option("--gpus", ep.gpus, "multi-GPU: drive GPUs 0..N-1 from this process, one thread each");
  app.add_option("--nccl-id-file", ep.nccl_id_file,
                 "multi-GPU, one process per GPU: rank 0 writes the NCCL id to this path, the others read it")
      ->excludes(gpus_opt);
  app.add_option("--rank", ep.rank, "multi-GPU process rank (default: OMPI_COMM_WORLD_RANK or RANK)");
  app.add_option("--world-size", ep.world_size, "multi-GPU process count (default: OMPI_COMM_WORLD_SIZE or WORLD_SIZE)");
  app.add_option("--device", ep.device, "multi-GPU process: GPU to use (default: local rank)");
  app.add_option("--id-timeout", ep.id_timeout_s, "seconds a rank waits for the NCCL id file")->capture_default_str();
  app.add_option("--wait-timeout-ms", ep.wait_timeout_ms, "multi-GPU onemoe: bound on every device-side wait (ms)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--tokens-per-rank", ep.tokens_per_rank,
                 "multi-GPU: T of each rank, e.g. 16384,0,300,16384 (replaces -b/-e)");
  app.add_option("--placement", ep.placement, "multi-GPU: contiguous | round-robin | comma list of E ranks")
      ->capture_default_str();
  app.add_option("--skew", ep.skew, "multi-GPU: add about this much to the router logits of --skew-rank's experts")
      ->capture_default_str();
  app.add_option("--skew-rank", ep.skew_rank, "multi-GPU: the rank whose experts --skew favours")->capture_default_str();
  app.add_flag("--check-bitwise", ep.check_bitwise,
               "multi-GPU: also compare onemoe's output bitwise with a 1-GPU onemoe run of the global problem");
  if (std::getenv("CUDA_INJECTION64_PATH") != nullptr) o.count_launches = 0;
  CLI11_PARSE(app, argc, argv);

  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);

  if (ep.gpus > 0 || !ep.nccl_id_file.empty()) {
    if (o.min_tokens < 1 || o.max_tokens < o.min_tokens || o.factor <= 1.0 || o.iters < 1 || o.warmup < 0) {
      std::fprintf(stderr, "onemoe-bench: need 1 <= min-tokens <= max-tokens, step-factor > 1, iters >= 1\n");
      return 2;
    }
    ep.dtypes = o.dtypes;
    ep.experts = o.experts;
    ep.top_k = o.top_k;
    ep.hidden = o.hidden;
    ep.intermediate = o.intermediate;
    ep.activation_label = o.activation;
    if (!onemoe::bench::parse_activation_scoring(o.activation, o.scoring, &ep.base)) {
      std::fprintf(stderr, "onemoe-bench: unknown activation '%s' or scoring '%s'\n", o.activation.c_str(),
                   o.scoring.c_str());
      return 2;
    }
    ep.base.gated = o.gated;
    ep.base.renormalize = !o.no_renormalize;
    if (!set_routing(o, &ep.base)) return 2;
    ep.base.capacity_factor = float(o.capacity_factor);
    for (double T = double(o.min_tokens); T <= double(o.max_tokens); T *= o.factor)
      ep.token_values.push_back(int64_t(T));
    // The bulk-synchronous baseline routes by scores-then-top-k only.
    const bool plain_routing = ep.base.routing == onemoe::Routing::kTopK && ep.base.routed_scaling_factor == 1.0f;
    ep.impls = app.count("--impl") ? o.impls
               : plain_routing     ? std::vector<std::string>{"onemoe", "baseline-bulk-sync"}
                                   : std::vector<std::string>{"onemoe"};
    ep.warmup = o.warmup;
    ep.iters = o.iters;
    ep.check = o.check != 0;
    ep.count_launches = o.count_launches != 0;
    ep.check_tokens = o.check_tokens;
    ep.seed = o.seed;
    ep.json_path = o.json_path;
    ep.timeline_prefix = o.timeline_prefix;
    ep.command = command;
    for (const std::string& impl : ep.impls) {
      if (impl != "onemoe" && impl != "baseline-bulk-sync") {
        std::fprintf(stderr, "onemoe-bench: --impl '%s' has no multi-GPU version (onemoe, baseline-bulk-sync)\n",
                     impl.c_str());
        return 2;
      }
    }
    return onemoe::multi_gpu::run_ep_bench(ep);
  }

  int device_count = 0;
  if (cudaGetDeviceCount(&device_count) != cudaSuccess || device_count == 0) {
    std::fprintf(stderr,
                 "onemoe-bench: no CUDA GPU is visible on this machine, so there is nothing to run.\n"
                 "The fused kernel needs a Hopper GPU (sm_90a). Run the tests' CPU part with the README's second "
                 "command.\n");
    return 3;
  }
  if (o.min_tokens < 1 || o.max_tokens < o.min_tokens || o.factor <= 1.0 || o.iters < 1 || o.warmup < 0) {
    std::fprintf(stderr, "onemoe-bench: need 1 <= min-tokens <= max-tokens, step-factor > 1, iters >= 1\n");
    return 2;
  }
  onemoe::MoeConfig base;
  if (!onemoe::bench::parse_activation_scoring(o.activation, o.scoring, &base)) {
    std::fprintf(stderr, "onemoe-bench: unknown activation '%s' or scoring '%s'\n", o.activation.c_str(),
                 o.scoring.c_str());
    return 2;
  }
  base.gated = o.gated;
  base.renormalize = !o.no_renormalize;
  if (!set_routing(o, &base)) return 2;
  base.capacity_factor = float(o.capacity_factor);

  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("# onemoe-bench: %s\n", command.c_str());
  std::printf("# device 0: %s, sm_%d%d, %d SMs, %.1f GiB, L2 %d MiB\n", prop.name, prop.major, prop.minor,
              prop.multiProcessorCount, prop.totalGlobalMem / double(1 << 30), prop.l2CacheSize >> 20);
  std::ostringstream cfg;
  cfg << base;
  std::printf("# config: %s, warmup %d, iters %d (median), check %s\n", cfg.str().c_str(), o.warmup, o.iters,
              o.check ? "on" : "off");
  std::printf("# TFLOP/s counts the router GEMM and %s GEMMs over all T*k routed rows\n", o.gated ? "3" : "2");
  const double copy_bw = copy_bandwidth_bytes_per_s();
  std::printf("# device-to-device copy: %.0f GB/s (read + write); hbm_floor_ms (JSON) = the bytes of x, out, the "
              "router and every expert the forward touches, over it\n#\n",
              copy_bw * 1e-9);
  print_header();

  std::vector<Row> rows;
  int failures = 0;
  for (const std::string& dtype_label : o.dtypes) {
    onemoe::MoeConfig config = base;
    if (!parse_dtype(dtype_label, &config)) {
      std::fprintf(stderr, "onemoe-bench: unknown dtype '%s'\n", dtype_label.c_str());
      return 2;
    }
    for (int E : o.experts) {
      for (int k : o.top_k) {
        for (double T = double(o.min_tokens); T <= double(o.max_tokens); T *= o.factor) {
          onemoe::MoeShape shape{int64_t(T), E, k, o.hidden, o.intermediate};
          if (Result r = onemoe::Context::can_implement(shape, config); !r.ok()) {
            std::printf("# skipped T=%lld E=%d k=%d: %s\n", (long long)shape.num_tokens, E, k, r.message.c_str());
            continue;
          }
          std::unique_ptr<onemoe::harness::DeviceProblem> problem;
          if (Result r = onemoe::harness::DeviceProblem::create(shape, config, o.seed, &problem); !r.ok()) {
            std::printf("# problem set-up failed: %s\n", r.message.c_str());
            ++failures;
            continue;
          }
          for (const std::string& impl : o.impls) {
            Row row;
            if (impl == "onemoe") {
              std::unique_ptr<onemoe::Context> ctx;
              onemoe::ContextOptions ctx_options;
              ctx_options.record_task_timeline = !o.timeline_prefix.empty();
              if (Result r = onemoe::Context::create(shape, config, ctx_options, &ctx); !r.ok()) {
                row = Row{impl, dtype_label, shape.num_tokens, E, k, o.hidden, o.intermediate};
                row.note = r.message;
              } else {
                const onemoe::RunArgs args = problem->run_args();
                row = measure(
                    impl, [&] { return ctx->run(args, nullptr); },
                    [&] { return ctx->synchronize_and_check(nullptr); }, *problem, o, dtype_label);
                if (!o.timeline_prefix.empty()) write_timeline(*ctx, o.timeline_prefix, dtype_label, shape);
              }
            } else if ((impl == "baseline-torch-loop" || impl == "baseline-grouped-gemm") &&
                       (config.routing != onemoe::Routing::kTopK || config.routed_scaling_factor != 1.0f)) {
              std::printf("# skipped %s: it routes by scores-then-top-k only\n", impl.c_str());
              continue;
            } else if (impl == "baseline-torch-loop" || impl == "baseline-grouped-gemm") {
              const auto kind = impl == "baseline-torch-loop" ? onemoe::baselines::BaselineKind::kPerExpertLoop
                                                              : onemoe::baselines::BaselineKind::kGroupedGemm;
              std::unique_ptr<onemoe::baselines::PipelineBaseline> base_impl;
              if (Result r = onemoe::baselines::PipelineBaseline::create(kind, shape, config, &base_impl); !r.ok()) {
                row = Row{impl, dtype_label, shape.num_tokens, E, k, o.hidden, o.intermediate};
                row.note = r.message;
              } else {
                const onemoe::RunArgs args = problem->run_args();
                row = measure(
                    impl, [&] { return base_impl->run(args, nullptr); },
                    [&] {
                      const cudaError_t err = cudaDeviceSynchronize();
                      return err == cudaSuccess ? Result::success()
                                                : Result::error(onemoe::Status::kErrorCuda, cudaGetErrorString(err));
                    },
                    *problem, o, dtype_label);
              }
            } else {
              std::fprintf(stderr, "onemoe-bench: unknown --impl '%s'\n", impl.c_str());
              return 2;
            }
            if (std::isfinite(row.ms)) {
              std::vector<int32_t> ids;  // this row's own routing, still in the problem's buffers
              if (problem->download_topk_ids(&ids).ok())
                row.hbm_floor_ms = touched_bytes(shape, config, ids) / copy_bw * 1e3;
            }
            if (!std::isfinite(row.ms) || (row.wrong && *row.wrong != 0)) ++failures;
            print_row(row);
            rows.push_back(row);
          }
        }
      }
    }
  }
  if (!o.json_path.empty()) {
    write_json(o.json_path, command, prop.name, 1, rows, o);
    std::printf("# wrote %s\n", o.json_path.c_str());
  }
  std::printf("# %d row(s) failed\n", failures);
  return failures ? 1 : 0;
}
