// Expert parallelism over every GPU of this machine (one NVLink domain), one thread per GPU: each GPU holds
// E / R experts and its own T tokens; one kernel launch per GPU per forward.
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "onemoe/distributed.h"
#include "random_bf16.h"

int main() {
  int R = 0;
  cudaGetDeviceCount(&R);
  const int64_t T = 4096;  // tokens per GPU
  const int E = 32, k = 2, H = 2048, I = 2048;
  std::vector<ncclComm_t> comms(R);
  if (R == 0 || ncclCommInitAll(comms.data(), R, nullptr) != ncclSuccess) {
    std::puts("no GPU, or NCCL could not initialize");
    return 1;
  }
  std::vector<onemoe::Result> results(R);
  std::vector<std::thread> ranks;
  for (int rank = 0; rank < R; ++rank) {
    ranks.emplace_back([&, rank] {
      cudaSetDevice(rank);
      onemoe::DistributedOptions opts;
      opts.context.max_tokens = T;  // the same on every rank
      std::unique_ptr<onemoe::DistributedContext> ctx;
      onemoe::Result& r = results[rank];
      r = onemoe::DistributedContext::create({T, E, k, H, I}, onemoe::MoeConfig{}, comms[rank], opts, &ctx);
      if (!r.ok()) return;
      const size_t local = ctx->local_experts().size();  // this rank's experts, ascending global id
      onemoe::RunArgs args;
      args.num_tokens = T;
      args.x = random_bf16(T * H, H, 10 + rank);
      args.w_router = random_bf16(size_t(E) * H, H, 1);  // the same router on every rank
      args.w1 = random_bf16(local * I * H, H, 100 + rank);
      args.w2 = random_bf16(local * H * I, I, 200 + rank);
      cudaMalloc(&args.out, T * H * 2);
      r = ctx->run(args, nullptr);
      if (r.ok()) r = ctx->synchronize_and_check(nullptr);
    });
  }
  for (auto& t : ranks) t.join();
  int failed = 0;
  for (int rank = 0; rank < R; ++rank) {
    std::printf("rank %d: %s %s\n", rank, onemoe::status_string(results[rank].status), results[rank].message.c_str());
    failed += !results[rank].ok();
  }
  for (ncclComm_t c : comms) ncclCommDestroy(c);
  return failed == 0 ? 0 : 1;
}
