#include "multi_gpu/ep_bench.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "baselines/bulk_sync_baseline.h"
#include "bench_common.h"
#include "multi_gpu/global_problem.h"
#include "multi_gpu/id_file.h"
#include "multi_gpu/launch_config.h"
#include "multi_gpu/rank_runner.h"

namespace onemoe::multi_gpu {
namespace {

struct Row {
  std::string impl, dtype;
  Case c;
  RowSummary s;
  std::string note;
};

// One global problem at a time, made by whichever rank thread asks first (each process makes its own).
class ProblemCache {
 public:
  std::shared_ptr<const harness::HostInputs> get(size_t case_index, const MoeShape& global, const MoeConfig& config,
                                                 const EpOptions& o, const std::vector<int>& placement) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (index_ != case_index || inputs_ == nullptr) {
      inputs_.reset();  // free the previous problem before drawing the next
      auto in = std::make_shared<harness::HostInputs>(harness::make_inputs(global, config, o.seed));
      apply_skew(in.get(), global, config, placement, o.skew_rank, o.skew);
      inputs_ = in;
      index_ = case_index;
    }
    return inputs_;
  }

 private:
  std::mutex mutex_;
  size_t index_ = size_t(-1);
  std::shared_ptr<const harness::HostInputs> inputs_;
};

std::string tokens_label(const std::vector<int64_t>& t) {
  std::string s;
  for (size_t i = 0; i < t.size(); ++i) s += (i ? "," : "") + std::to_string(t[i]);
  return s;
}

bool uniform(const std::vector<int64_t>& t) {
  return std::all_of(t.begin(), t.end(), [&](int64_t v) { return v == t[0]; });
}

void print_header() {
  std::printf("#%9s %5s %3s %6s %6s %6s %4s  %-20s %10s %10s %9s %10s %8s %9s %7s %8s\n", "T/rank", "E", "k", "H", "I",
              "dtype", "gpus", "impl", "time", "p99", "TFLOP/s", "sent/rank", "payload", "launches", "#wrong",
              "bitwise");
  std::printf("#%9s %5s %3s %6s %6s %6s %4s  %-20s %10s %10s %9s %10s %8s %9s %7s %8s\n", "(tokens)", "", "", "", "", "",
              "", "", "(ms)", "(ms)", "", "(MB)", "(eff)", "(/fwd)", "", "(diff)");
}

std::string opt_str(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "N/A"; }

void print_row(const Row& r, int world) {
  const std::string t = uniform(r.c.tokens_per_rank) ? std::to_string(r.c.tokens_per_rank[0]) : "uneven";
  const double tflops = r.s.all_ok ? bench::forward_flops(r.c.global_shape, r.c.config.gated) / (r.s.ms * 1e-3) / 1e12
                                   : NAN;
  std::printf(" %9s %5d %3d %6d %6d %6s %4d  %-20s %10.4f %10.4f %9.1f %10.3f %8.4f %9s %7s %8s\n", t.c_str(),
              r.c.global_shape.num_experts, r.c.global_shape.top_k, r.c.global_shape.hidden,
              r.c.global_shape.intermediate, r.dtype.c_str(), world, r.impl.c_str(), r.s.all_ok ? r.s.ms : NAN,
              r.s.all_ok ? r.s.p99_ms : NAN, tflops, r.s.all_ok ? r.s.max_bytes_sent / 1e6 : NAN,
              r.s.all_ok ? r.s.payload_efficiency : NAN, opt_str(r.s.launches).c_str(), opt_str(r.s.wrong).c_str(),
              opt_str(r.s.bitwise_mismatch).c_str());
  if (!uniform(r.c.tokens_per_rank)) std::printf("#   T per rank: %s\n", tokens_label(r.c.tokens_per_rank).c_str());
  if (!r.note.empty()) std::printf("#   %s: %s\n", r.impl.c_str(), r.note.c_str());
  std::fflush(stdout);
}

void write_json(const EpOptions& o, const std::string& gpu, int world, const std::vector<Row>& rows) {
  std::ofstream f(o.json_path);
  f << "{\n  \"tool\": \"onemoe-bench\",\n  \"command\": \"" << bench::json_escape(o.command) << "\",\n  \"commit\": \""
    << bench::git_commit() << "\",\n  \"date\": \"" << bench::now_utc() << "\",\n  \"gpu\": \""
    << bench::json_escape(gpu) << "\",\n  \"gpus\": " << world << ",\n  \"rows\": [\n";
  auto num = [](double v) { return std::isfinite(v) ? std::to_string(v) : std::string("null"); };
  auto opt = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string("null"); };
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const MoeShape& g = r.c.global_shape;
    const bool ok = r.s.all_ok;
    const double tflops = ok ? bench::forward_flops(g, r.c.config.gated) / (r.s.ms * 1e-3) / 1e12 : NAN;
    f << "    {\"impl\": \"" << r.impl << "\", \"dtype\": \"" << r.dtype << "\", \"T\": " << r.c.max_tokens()
      << ", \"E\": " << g.num_experts << ", \"k\": " << g.top_k << ", \"H\": " << g.hidden << ", \"I\": "
      << g.intermediate << ", \"ranks\": " << world << ", \"ms\": " << num(ok ? r.s.ms : NAN)
      << ", \"p99_ms\": " << num(ok ? r.s.p99_ms : NAN) << ", \"tflops\": " << num(tflops)
      << ", \"launches_per_forward\": " << opt(ok ? r.s.launches : std::nullopt)
      << ", \"wrong\": " << opt(ok ? r.s.wrong : std::nullopt) << ", \"gated\": " << (o.base.gated ? "true" : "false")
      << ", \"activation\": \"" << o.activation_label << "\", \"tokens_per_rank\": [" << tokens_label(r.c.tokens_per_rank)
      << "], \"placement\": \"" << bench::json_escape(o.placement) << "\", \"skew\": " << num(o.skew);
    if (ok) {
      f << ", \"bytes_sent\": " << r.s.max_bytes_sent << ", \"bytes_sent_per_rank\": [";
      for (size_t j = 0; j < r.s.bytes_sent.size(); ++j) f << (j ? "," : "") << r.s.bytes_sent[j];
      f << "], \"payload_efficiency\": " << num(r.s.payload_efficiency)
        << ", \"bitwise_mismatch\": " << opt(r.s.bitwise_mismatch) << ", \"traffic_matches_routing\": "
        << (r.s.traffic_matches_routing ? (*r.s.traffic_matches_routing ? "true" : "false") : "null");
    }
    if (!r.note.empty()) f << ", \"notes\": \"" << bench::json_escape(r.note) << "\"";
    f << "}" << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  f << "  ]\n}\n";
}

// Every row's Case, in the order all ranks run them. Fails on a bad option (same answer on every rank).
Result make_cases(const EpOptions& o, int world, std::vector<Case>* cases) {
  std::vector<std::vector<int64_t>> token_sets;
  if (!o.tokens_per_rank.empty()) {
    std::vector<int64_t> t;
    if (Result r = parse_tokens_per_rank(o.tokens_per_rank, world, &t); !r.ok()) return r;
    token_sets.push_back(t);
  } else {
    for (int64_t t : o.token_values) token_sets.push_back(std::vector<int64_t>(size_t(world), t));
  }
  for (const std::string& dtype : o.dtypes) {
    MoeConfig config = o.base;
    if (!bench::parse_dtype(dtype, &config)) return Result::error(Status::kErrorInvalidArgument, "dtype " + dtype);
    for (int E : o.experts) {
      std::vector<int> placement;
      if (Result r = parse_placement(o.placement, E, world, &placement); !r.ok()) return r;
      for (int k : o.top_k)
        for (const auto& t : token_sets) {
          Case c;
          int64_t total = 0;
          for (int64_t v : t) total += v;
          c.global_shape = MoeShape{total, E, k, o.hidden, o.intermediate};
          c.config = config;
          c.dtype_label = dtype;
          c.tokens_per_rank = t;
          c.expert_to_rank = placement;
          cases->push_back(c);
        }
    }
  }
  return Result::success();
}

struct Shared {
  std::vector<Case> cases;
  ProblemCache problems;
  std::vector<Row> rows;  // rank 0 only
  int failures = 0;
};

// Everything one rank does; rank 0 also prints and collects the rows.
void rank_main(RankContext ctx, const EpOptions& o, Shared& shared, int64_t launches_divisor) {
  for (size_t ci = 0; ci < shared.cases.size(); ++ci) {
    Case c = shared.cases[ci];
    c.inputs = shared.problems.get(ci, c.global_shape, c.config, o, c.expert_to_rank);
    RankBuffersPtr buffers;
    const Result up = upload_rank_slice(ctx, c, &buffers);
    if (!up.ok()) std::fprintf(stderr, "onemoe-bench rank %d: upload: %s\n", ctx.rank, up.message.c_str());
    const bool uploaded = all_ranks_ok(ctx, up.ok());
    for (const std::string& impl : o.impls) {
      Row row{impl, c.dtype_label, c, {}, {}};
      const MoeShape max_shape = c.rank_max_shape();
      Result can = impl == "onemoe" ? onemoe_can_implement(max_shape, c.config, ctx.world_size, c.expert_to_rank)
                                    : baselines::BulkSyncBaseline::can_implement(max_shape, c.config,
                                                                                 ctx.world_size, c.expert_to_rank);
      RankStats st;
      if (!uploaded) {
        row.note = "upload failed on some rank (see stderr)";
      } else if (!can.ok()) {
        row.note = "skipped: " + can.message;  // the same answer on every rank: no collective needed
      } else {
        st = run_impl_on_rank(ctx, c, *buffers, impl, o);
      }
      const int iters = o.iters;
      std::vector<double> all;
      if (Result g = gather_stats(ctx, pack(st, ctx.world_size, iters), &all); !g.ok()) {
        std::fprintf(stderr, "onemoe-bench rank %d: %s\n", ctx.rank, g.message.c_str());
        if (ctx.rank == 0) ++shared.failures;
        continue;
      }
      if (ctx.rank != 0) continue;
      std::vector<RankStats> ranks;
      const size_t stride = packed_size(ctx.world_size, iters);
      for (int r = 0; r < ctx.world_size; ++r) ranks.push_back(unpack(all.data() + r * stride, ctx.world_size, iters));
      row.s = summarize(ranks, c.tokens_per_rank, launches_divisor);
      row.c.inputs.reset();
      const bool skipped = row.note.rfind("skipped", 0) == 0;
      if (!row.s.all_ok && row.note.empty()) row.note = "failed on some rank (see stderr)";
      if (row.s.traffic_matches_routing == false) {
        row.note += std::string(row.note.empty() ? "" : "; ") + "reported traffic differs from the routing";
      }
      if (!skipped && (!row.s.all_ok || (row.s.wrong && *row.s.wrong != 0) ||
                       (row.s.bitwise_mismatch && *row.s.bitwise_mismatch != 0) ||
                       row.s.traffic_matches_routing == false))
        ++shared.failures;
      print_row(row, ctx.world_size);
      shared.rows.push_back(row);
    }
  }
}

void print_preamble(const EpOptions& o, int world, const std::string& mode) {
  int version = 0;
  ncclGetVersion(&version);
  std::printf("# onemoe-bench: %s\n", o.command.c_str());
  std::printf("# multi-GPU: %d ranks, %s, NCCL %d, NCCL_NVLS_ENABLE=%s, fused kernel %s\n", world, mode.c_str(),
              version, std::getenv("NCCL_NVLS_ENABLE") ? std::getenv("NCCL_NVLS_ENABLE") : "(unset)",
              onemoe_distributed_available() ? "built" : "NOT built in this library");
  int count = 0;
  cudaGetDeviceCount(&count);
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p{};
    cudaGetDeviceProperties(&p, d);
    std::printf("# device %d (seen by rank 0): %s, sm_%d%d, %d SMs, %.1f GiB\n", d, p.name, p.major, p.minor,
                p.multiProcessorCount, p.totalGlobalMem / double(1 << 30));
  }
  std::ostringstream cfg;
  cfg << o.base;
  std::printf("# config: %s, warmup %d, iters %d, check %s (%lld tokens/rank), placement %s, skew %g (rank %d)\n",
              cfg.str().c_str(), o.warmup, o.iters, o.check ? "on" : "off", (long long)o.check_tokens,
              o.placement.c_str(), o.skew, o.skew_rank);
  std::printf("# time: per forward, the max over ranks of each rank's event time; median (p99) over iterations\n");
  std::printf("# TFLOP/s: the global problem (router GEMM and %s GEMMs over all ranks' T*k rows) / time\n",
              o.base.gated ? "3" : "2");
  std::printf("# sent/rank: bytes a rank sends to other ranks per forward (max over ranks: token rows out, expert "
              "rows back, counts/flags); payload: routed row bytes / all bytes sent, over all ranks\n");
  std::printf("# #wrong: elements outside tolerance + routing mismatches vs the fp64 reference of the global problem; "
              "bitwise: elements differing from a 1-GPU onemoe run (--check-bitwise)\n#\n");
  print_header();
}

std::string gpu_name(int device) {
  cudaDeviceProp p{};
  return cudaGetDeviceProperties(&p, device) == cudaSuccess ? p.name : "unknown";
}

int finish(const EpOptions& o, Shared& shared, int world) {
  if (!o.json_path.empty()) {
    write_json(o, gpu_name(0), world, shared.rows);
    std::printf("# wrote %s\n", o.json_path.c_str());
  }
  std::printf("# %d row(s) failed\n", shared.failures);
  return shared.failures ? 1 : 0;
}

int run_threads(const EpOptions& o) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count < o.gpus) {
    std::fprintf(stderr, "onemoe-bench: --gpus %d but %d GPU(s) are visible\n", o.gpus, count);
    return 3;
  }
  const int world = o.gpus;
  Shared shared;
  if (Result r = make_cases(o, world, &shared.cases); !r.ok()) {
    std::fprintf(stderr, "onemoe-bench: %s\n", r.message.c_str());
    return 2;
  }
  std::vector<ncclComm_t> comms(static_cast<size_t>(world));
  std::vector<int> devs(static_cast<size_t>(world));
  for (int d = 0; d < world; ++d) devs[size_t(d)] = d;
  if (ncclResult_t nr = ncclCommInitAll(comms.data(), world, devs.data()); nr != ncclSuccess) {
    std::fprintf(stderr, "onemoe-bench: ncclCommInitAll: %s\n", ncclGetErrorString(nr));
    return 1;
  }
  print_preamble(o, world, "one process, one thread per GPU");
  std::barrier<> barrier(world);
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      cudaSetDevice(r);
      RankContext ctx{r, world, r, comms[size_t(r)], nullptr, &barrier};
      cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking);
      rank_main(ctx, o, shared, world);
      cudaStreamDestroy(ctx.stream);
    });
  }
  for (auto& t : threads) t.join();
  for (ncclComm_t c : comms) ncclCommDestroy(c);
  return finish(o, shared, world);
}

int run_process(const EpOptions& o) {
  const std::time_t started = std::time(nullptr);
  RankEnv env;
  if (Result r = resolve_rank_env(o.rank, o.world_size, [](const char* n) { return std::getenv(n); }, &env); !r.ok()) {
    std::fprintf(stderr, "onemoe-bench: %s\n", r.message.c_str());
    return 2;
  }
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::fprintf(stderr, "onemoe-bench rank %d: no CUDA GPU is visible\n", env.rank);
    return 3;
  }
  const int device = pick_device(env, o.device, count);
  cudaSetDevice(device);
  Shared shared;
  if (Result r = make_cases(o, env.world_size, &shared.cases); !r.ok()) {
    std::fprintf(stderr, "onemoe-bench: %s\n", r.message.c_str());
    return 2;
  }
  ncclUniqueId id;
  std::vector<uint8_t> bytes(sizeof id);
  if (env.rank == 0) {
    if (ncclGetUniqueId(&id) != ncclSuccess) return 1;
    std::memcpy(bytes.data(), &id, sizeof id);
    if (Result r = write_id_file(o.nccl_id_file, bytes); !r.ok()) {
      std::fprintf(stderr, "onemoe-bench: %s\n", r.message.c_str());
      return 1;
    }
  } else {
    // A file up to a minute older than this process is taken: ranks do not start at the same instant.
    if (Result r = read_id_file(o.nccl_id_file, sizeof id, started - 60, o.id_timeout_s * 1e3, 50, &bytes); !r.ok()) {
      std::fprintf(stderr, "onemoe-bench rank %d: %s\n", env.rank, r.message.c_str());
      return 1;
    }
    std::memcpy(&id, bytes.data(), sizeof id);
  }
  ncclComm_t comm = nullptr;
  if (ncclResult_t nr = ncclCommInitRank(&comm, env.world_size, id, env.rank); nr != ncclSuccess) {
    std::fprintf(stderr, "onemoe-bench rank %d: ncclCommInitRank: %s\n", env.rank, ncclGetErrorString(nr));
    return 1;
  }
  if (env.rank == 0) unlink(o.nccl_id_file.c_str());  // every rank has joined: the id is used up
  if (env.rank == 0) print_preamble(o, env.world_size, "one process per GPU (rank from " + env.source + ")");
  RankContext ctx{env.rank, env.world_size, device, comm, nullptr, nullptr};
  cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking);
  rank_main(ctx, o, shared, 1);
  cudaStreamDestroy(ctx.stream);
  ncclCommDestroy(comm);
  if (env.rank != 0) return 0;
  return finish(o, shared, env.world_size);
}

}  // namespace

int run_ep_bench(const EpOptions& o) {
  // NVLink SHARP (multicast) stays off unless the caller set it: see scripts/device_env.sh.
  setenv("NCCL_NVLS_ENABLE", "0", 0);
  if (o.gpus > 0) return run_threads(o);
  return run_process(o);
}

}  // namespace onemoe::multi_gpu
