// One MoE layer forward on one GPU: bf16, T=4096 tokens, E=8 experts, top-2, H=I=1024, GELU.
#include <cstdio>
#include <memory>

#include "onemoe/onemoe.h"
#include "random_bf16.h"

int main() {
  const int64_t T = 4096;
  const int E = 8, k = 2, H = 1024, I = 1024;
  onemoe::MoeConfig config;  // bf16, softmax, top-k, renormalize, GELU, plain FFN, dropless
  std::unique_ptr<onemoe::Context> ctx;
  onemoe::Result r = onemoe::Context::create({T, E, k, H, I}, config, {}, &ctx);  // plan + workspace, once
  onemoe::RunArgs args;
  args.num_tokens = T;
  args.x = random_bf16(T * H, H, 1);                 // [T, H]
  args.w_router = random_bf16(size_t(E) * H, H, 2);  // [E, H]
  args.w1 = random_bf16(size_t(E) * I * H, H, 3);    // [E, I, H]  (nn.Linear layout)
  args.w2 = random_bf16(size_t(E) * H * I, I, 4);    // [E, H, I]
  cudaMalloc(&args.out, T * H * 2);
  if (r.ok()) r = ctx->run(args, /*stream=*/nullptr);   // one kernel launch
  if (r.ok()) r = ctx->synchronize_and_check(nullptr);  // reports a device-side timeout, if any
  std::printf("%s: %s\n", onemoe::status_string(r.status), r.ok() ? "forward done" : r.message.c_str());
  return r.ok() ? 0 : 1;
}
