// onemoe-soak: many back-to-back forwards that alternate the token count (1 up to the maximum), the dtype and
// the routing skew, on the contexts a serving process would keep. Every forward is synchronised and its error
// record read (a stall is a forward that reports a timeout); every --check-every-th forward of each problem is
// checked against the fp64 reference, and every --hash-every-th compared bitwise with that problem's first
// output (drift). Writes the counts as JSON in the format of bench/results (docs/reliability.md).
#include <cuda_runtime_api.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "harness/moe_problem.h"
#include "onemoe/onemoe.h"

namespace onemoe {
namespace {

struct SoakConfig {
  const char* name;
  MoeShape max_shape;  // num_tokens: the context's max_tokens
  std::string dtype;
  std::vector<int64_t> token_counts;  // one problem each
  bool skewed_too;                    // and a skewed-router problem of each T
};

struct Problem {
  std::unique_ptr<harness::DeviceProblem> problem;
  std::string label;
  std::vector<uint8_t> first_output;
  int64_t forwards = 0, checks = 0, check_failures = 0, hash_compares = 0, drifts = 0, stalls = 0;
};

struct Layer {
  SoakConfig config;
  MoeConfig moe;
  std::unique_ptr<Context> ctx;
  std::vector<Problem> problems;
};

int run(int argc, char** argv) {
  int64_t forwards = 100000;
  int check_every = 1000, hash_every = 100;
  std::string json;
  bool quick = false;
  CLI::App app{"onemoe-soak: back-to-back forwards alternating T, dtype and routing skew, checked as they go"};
  app.add_option("-n,--forwards", forwards, "forwards in all")->capture_default_str();
  app.add_option("--check-every", check_every, "check a problem against the fp64 reference every this many of its forwards")
      ->capture_default_str();
  app.add_option("--hash-every", hash_every, "compare a problem's output bitwise with its first every this many forwards")
      ->capture_default_str();
  app.add_option("--json", json, "write the counts here (bench/results format)");
  app.add_flag("--quick", quick, "small shapes only (a smoke run)");
  CLI11_PARSE(app, argc, argv);
  if (forwards < 1 || check_every < 1 || hash_every < 1) {
    std::fprintf(stderr, "onemoe-soak: --forwards, --check-every and --hash-every must be at least 1\n");
    return 2;
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "onemoe-soak: no CUDA GPU visible\n");
    return 2;
  }

  // The TF32 shape is the one that once stalled (T=100, E=256, k=8, H=I=2048).
  std::vector<SoakConfig> configs = {
      {"bf16", {4096, 64, 2, 512, 512}, "bf16", {1, 37, 128, 1000, 4096}, true},
      {"fp16_gated", {2048, 32, 4, 512, 768}, "fp16", {1, 200, 2048}, true},
      // Its weights take 8.6 GB on the GPU and 17 GB in the host's fp64 copy: one problem only.
      {"tf32_T100_E256_k8", {100, 256, 8, 2048, 2048}, "tf32", {100}, false},
  };
  if (quick) configs.resize(2);
  std::vector<Layer> layers;
  for (const SoakConfig& sc : configs) {
    Layer layer;
    layer.config = sc;
    if (!bench::parse_dtype(sc.dtype, &layer.moe)) return 2;
    layer.moe.gated = std::string(sc.name).find("gated") != std::string::npos;
    if (layer.moe.gated) layer.moe.activation = Activation::kSiLU;
    Result r = Context::create(sc.max_shape, layer.moe, {}, &layer.ctx);
    if (!r.ok()) {
      std::fprintf(stderr, "onemoe-soak: %s: %s\n", sc.name, r.message.c_str());
      return 1;
    }
    for (int64_t T : sc.token_counts) {
      for (bool skew : {false, true}) {
        if (skew && !sc.skewed_too) continue;
        MoeShape s = sc.max_shape;
        s.num_tokens = T;
        Problem p;
        r = harness::DeviceProblem::create(s, layer.moe, uint64_t(T * 31 + skew), &p.problem);
        // Skew: experts 1..7 copy expert 0's router row, so they tie on every token; ties go to the lower id and
        // experts 0 and 1 receive most of the tokens.
        for (int e = 1; r.ok() && skew && e < 8; ++e) r = p.problem->copy_router_row(0, e);
        if (!r.ok()) {
          std::fprintf(stderr, "onemoe-soak: %s T=%lld: %s\n", sc.name, (long long)T, r.message.c_str());
          return 1;
        }
        p.label = std::string(sc.name) + " T=" + std::to_string(T) + (skew ? " skewed" : "");
        layer.problems.push_back(std::move(p));
      }
    }
    layers.push_back(std::move(layer));
  }

  size_t total_problems = 0;
  for (const Layer& l : layers) total_problems += l.problems.size();
  bench::LoopProgress progress(int(forwards), "soak");
  const auto start = std::chrono::steady_clock::now();
  int64_t done = 0;
  std::vector<uint8_t> bytes;
  for (int64_t i = 0; i < forwards; ++i, ++done) {
    progress.tick(int(i));
    // Round robin over every (layer, problem): T, dtype and skew change from one forward to the next.
    size_t which = size_t(i) % total_problems;
    Layer* layer = nullptr;
    Problem* p = nullptr;
    for (Layer& l : layers) {
      if (which < l.problems.size()) {
        layer = &l;
        p = &l.problems[which];
        break;
      }
      which -= l.problems.size();
    }
    const int64_t n = p->forwards++;
    const bool check = n % check_every == 0, compare = n % hash_every == 0;
    if (check || compare) p->problem->poison_outputs(nullptr);
    Result r = layer->ctx->run(p->problem->run_args(), nullptr);
    if (r.ok()) r = layer->ctx->synchronize_and_check(nullptr);
    if (!r.ok()) {
      ++p->stalls;
      std::fprintf(stderr, "onemoe-soak: forward %lld (%s): %s\n", (long long)i, p->label.c_str(), r.message.c_str());
      continue;
    }
    if (check) {
      harness::CheckReport report;
      ++p->checks;
      if (!p->problem->check(256, &report).ok() || !report.pass) {
        ++p->check_failures;
        std::fprintf(stderr, "onemoe-soak: forward %lld (%s) failed its check: %s\n", (long long)i, p->label.c_str(),
                     report.summary().c_str());
      }
    }
    if (compare) {
      p->problem->download_output_bytes(&bytes);
      if (p->first_output.empty()) {
        p->first_output = bytes;
      } else {
        ++p->hash_compares;
        if (bytes != p->first_output) {
          ++p->drifts;
          std::fprintf(stderr, "onemoe-soak: forward %lld (%s) differs bitwise from its first\n", (long long)i,
                       p->label.c_str());
        }
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  int64_t stalls = 0, failures = 0, drifts = 0, checks = 0, compares = 0;
  std::printf("# onemoe-soak: %lld forwards in %.1f s over %zu problems\n", (long long)done, seconds, total_problems);
  std::printf("%-36s %9s %7s %9s %9s %7s\n", "problem", "forwards", "stalls", "checks", "compares", "wrong");
  for (const Layer& l : layers)
    for (const Problem& p : l.problems) {
      std::printf("%-36s %9lld %7lld %9lld %9lld %7lld\n", p.label.c_str(), (long long)p.forwards,
                  (long long)p.stalls, (long long)p.checks, (long long)p.hash_compares,
                  (long long)(p.check_failures + p.drifts));
      stalls += p.stalls;
      failures += p.check_failures;
      drifts += p.drifts;
      checks += p.checks;
      compares += p.hash_compares;
    }
  std::printf("# stalls %lld, reference failures %lld of %lld checks, bitwise drifts %lld of %lld compares\n",
              (long long)stalls, (long long)failures, (long long)checks, (long long)drifts, (long long)compares);
  if (!json.empty()) {
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    std::ofstream f(json);
    f << "{\n  \"tool\": \"onemoe-soak\",\n  \"command\": \"onemoe-soak -n " << forwards << " --check-every "
      << check_every << " --hash-every " << hash_every << (quick ? " --quick" : "") << "\",\n  \"commit\": \""
      << bench::json_escape(bench::git_commit()) << "\",\n  \"date\": \"" << bench::now_utc() << "\",\n  \"gpu\": \""
      << bench::json_escape(prop.name) << "\",\n  \"gpus\": 1,\n  \"seconds\": " << seconds << ",\n  \"rows\": [\n";
    bool first = true;
    for (const Layer& l : layers)
      for (const Problem& p : l.problems) {
        const MoeShape& s = p.problem->shape();
        f << (first ? "" : ",\n") << "    {\"impl\": \"onemoe\", \"problem\": \"" << p.label << "\", \"dtype\": \""
          << l.config.dtype << "\", \"T\": " << s.num_tokens << ", \"E\": " << s.num_experts << ", \"k\": "
          << s.top_k << ", \"H\": " << s.hidden << ", \"I\": " << s.intermediate << ", \"ranks\": 1, \"forwards\": "
          << p.forwards << ", \"stalls\": " << p.stalls << ", \"checks\": " << p.checks << ", \"bitwise_compares\": "
          << p.hash_compares << ", \"ms\": null, \"tflops\": null, \"launches_per_forward\": 1, \"wrong\": "
          << (p.check_failures + p.drifts) << "}";
        first = false;
      }
    f << "\n  ]\n}\n";
  }
  return stalls + failures + drifts == 0 ? 0 : 1;
}

}  // namespace
}  // namespace onemoe

int main(int argc, char** argv) { return onemoe::run(argc, argv); }
