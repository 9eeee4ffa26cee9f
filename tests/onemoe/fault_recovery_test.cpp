// What a forward does when something goes wrong, on one GPU: a wait that times out (injected at each site a
// forward passes, so the test does not depend on timing) gives a clear error and the next forward is right;
// NaN or Inf in the weights reaches exactly the tokens that use them; other work on the GPU, or a second layer
// on another stream, delays the forward but never deadlocks it (docs/reliability.md).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "busy_kernel.h"
#include "gpu_available.h"
#include "harness/moe_problem.h"
#include "host/fault_injection.h"
#include "onemoe/onemoe.h"

namespace onemoe {
namespace {

using device::WaitSite;

class FaultRecovery : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_GPU();
    ASSERT_TRUE(harness::DeviceProblem::create(shape_, config_, 41, &problem_).ok());
    ASSERT_TRUE(Context::create(shape_, config_, {}, &ctx_).ok());
  }
  // Poisons the output, runs one forward and returns its result and bytes.
  Result forward(std::vector<uint8_t>* bytes) {
    if (Result r = problem_->poison_outputs(nullptr); !r.ok()) return r;
    if (Result r = ctx_->run(problem_->run_args(), nullptr); !r.ok()) return r;
    const Result r = ctx_->synchronize_and_check(nullptr);
    if (Result d = problem_->download_output_bytes(bytes); !d.ok()) return d;
    return r;
  }
  MoeShape shape_{1000, 32, 2, 512, 512};
  MoeConfig config_;
  std::unique_ptr<harness::DeviceProblem> problem_;
  std::unique_ptr<Context> ctx_;
};

// Every block-wide wait a one-GPU forward passes, one at a time: the forward reports a timeout naming the wait,
// and the very next forward of the same context is bitwise the clean one.
TEST_F(FaultRecovery, TimeoutAtEveryWaitThenTheNextForwardIsRight) {
  std::vector<uint8_t> clean, got;
  ASSERT_TRUE(forward(&clean).ok());
  harness::CheckReport report;
  ASSERT_TRUE(problem_->check(0, &report).ok());
  ASSERT_TRUE(report.pass) << report.summary();
  const struct {
    WaitSite site;
    const char* name;
  } sites[] = {{WaitSite::kPlanReady, "plan_ready"},
               {WaitSite::kRowTileDispatched, "row tile dispatched"},
               {WaitSite::kRowTileGathered, "expert row tile gathered"},
               {WaitSite::kExpertHiddenDone, "expert hidden (GEMM1) done"},
               {WaitSite::kDispatchDone, "dispatch done"}};
  for (const auto& s : sites) {
    ASSERT_TRUE(internal::inject_wait_timeout(*ctx_, s.site, 1).ok());
    const auto start = std::chrono::steady_clock::now();
    const Result failed = forward(&got);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(failed.status, Status::kErrorTimeout) << s.name << ": " << failed.message;
    EXPECT_NE(failed.message.find(s.name), std::string::npos) << failed.message;
    EXPECT_LT(seconds, 5.0) << "a forward that gave up at once took " << seconds << " s";
    const Result next = forward(&got);
    ASSERT_TRUE(next.ok()) << "after a timeout at " << s.name << ": " << next.message;
    EXPECT_EQ(got, clean) << "the forward after a timeout at " << s.name << " differs from the clean one";
  }
}

// A NaN or an Inf in one expert's w1 makes every output element of the tokens routed to that expert non-finite
// (act(±Inf) and NaN both reach every column through GEMM2) and leaves every other token bitwise unchanged.
TEST_F(FaultRecovery, NonFiniteWeightReachesExactlyItsExpertsTokens) {
  std::vector<uint8_t> clean_bytes;
  ASSERT_TRUE(forward(&clean_bytes).ok());
  std::vector<float> clean;
  ASSERT_TRUE(problem_->download_output(&clean).ok());
  std::vector<int32_t> ids;
  std::vector<float> weights;
  ASSERT_TRUE(problem_->download_topk_ids(&ids).ok());
  ASSERT_TRUE(problem_->download_topk_weights(&weights).ok());
  const int expert = 5;
  for (double bad : {std::nan(""), double(INFINITY), -double(INFINITY)}) {
    ASSERT_TRUE(problem_->set_w1_element(expert, bad).ok());
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(forward(&bytes).ok());
    std::vector<float> got;
    ASSERT_TRUE(problem_->download_output(&got).ok());
    int64_t routed = 0;
    for (int64_t t = 0; t < shape_.num_tokens; ++t) {
      bool uses = false;
      for (int j = 0; j < shape_.top_k; ++j) uses |= ids[t * shape_.top_k + j] == expert;
      routed += uses;
      for (int h = 0; h < shape_.hidden; ++h) {
        const size_t i = size_t(t) * shape_.hidden + h;
        if (uses) {
          ASSERT_FALSE(std::isfinite(got[i])) << "w1 = " << bad << ": token " << t << " h " << h << " is finite";
          // The poison is NaN too: the kernel's own non-finite value has other bits (0xFF bytes are never
          // what a conversion to bf16 produces).
          ASSERT_FALSE(bytes[i * 2] == 0xFF && bytes[i * 2 + 1] == 0xFF) << "token " << t << " h " << h << " unwritten";
        } else {
          ASSERT_EQ(0, std::memcmp(&got[i], &clean[i], sizeof(float))) << "w1 = " << bad << ": token " << t;
        }
      }
    }
    ASSERT_GT(routed, 0) << "no token chose the expert: the test checked nothing";
  }
}

// Another kernel holds every SM when the forward is launched: the cooperative launch waits for room (the grid
// is never started partly resident), and the forward is right.
TEST_F(FaultRecovery, WaitsForAKernelHoldingEverySm) {
  std::vector<uint8_t> clean, got;
  ASSERT_TRUE(forward(&clean).ok());
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  cudaStream_t busy, mine;
  ASSERT_EQ(cudaStreamCreateWithFlags(&busy, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking), cudaSuccess);
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(testing::launch_busy_kernel(4 * sms, 1024, 50.0, busy), cudaSuccess);
    ASSERT_TRUE(problem_->poison_outputs(mine).ok());
    ASSERT_TRUE(ctx_->run(problem_->run_args(), mine).ok());
    const Result r = ctx_->synchronize_and_check(mine);
    ASSERT_TRUE(r.ok()) << r.message;
    ASSERT_TRUE(problem_->download_output_bytes(&got).ok());
    EXPECT_EQ(got, clean) << "round " << round;
  }
  cudaStreamSynchronize(busy);
  cudaStreamDestroy(busy);
  cudaStreamDestroy(mine);
}

// Two layers (two contexts, each a full persistent grid) launched on two streams at once, many times: each
// forward is right; none deadlocks against the other.
TEST_F(FaultRecovery, TwoLayersOnTwoStreams) {
  std::unique_ptr<harness::DeviceProblem> other;
  const MoeShape other_shape{300, 16, 2, 1024, 512};
  ASSERT_TRUE(harness::DeviceProblem::create(other_shape, config_, 43, &other).ok());
  std::unique_ptr<Context> other_ctx;
  ASSERT_TRUE(Context::create(other_shape, config_, {}, &other_ctx).ok());
  std::vector<uint8_t> clean_a, clean_b, a, b;
  ASSERT_TRUE(forward(&clean_a).ok());
  ASSERT_TRUE(other_ctx->run(other->run_args(), nullptr).ok());
  ASSERT_TRUE(other_ctx->synchronize_and_check(nullptr).ok());
  ASSERT_TRUE(other->download_output_bytes(&clean_b).ok());
  cudaStream_t sa, sb;
  ASSERT_EQ(cudaStreamCreateWithFlags(&sa, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaStreamCreateWithFlags(&sb, cudaStreamNonBlocking), cudaSuccess);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(problem_->poison_outputs(sa).ok());
    ASSERT_TRUE(other->poison_outputs(sb).ok());
    ASSERT_TRUE(ctx_->run(problem_->run_args(), sa).ok());
    ASSERT_TRUE(other_ctx->run(other->run_args(), sb).ok());
    const Result ra = ctx_->synchronize_and_check(sa), rb = other_ctx->synchronize_and_check(sb);
    ASSERT_TRUE(ra.ok()) << ra.message;
    ASSERT_TRUE(rb.ok()) << rb.message;
    ASSERT_TRUE(problem_->download_output_bytes(&a).ok());
    ASSERT_TRUE(other->download_output_bytes(&b).ok());
    ASSERT_EQ(a, clean_a) << "layer A, iteration " << i;
    ASSERT_EQ(b, clean_b) << "layer B, iteration " << i;
  }
  cudaStreamDestroy(sa);
  cudaStreamDestroy(sb);
}

// A bound far below a forward's length: every forward either completes right or reports a timeout, within a
// bounded wall time; none hangs and none returns unchecked output as a success.
TEST(FaultRecoveryTinyBound, EveryForwardEndsRightOrReportsATimeout) {
  REQUIRE_GPU();
  const MoeShape shape{4097, 64, 2, 512, 512};
  MoeConfig config;
  std::unique_ptr<harness::DeviceProblem> problem;
  ASSERT_TRUE(harness::DeviceProblem::create(shape, config, 47, &problem).ok());
  ContextOptions options;
  options.wait_timeout_ms = 0.02;
  std::unique_ptr<Context> ctx;
  ASSERT_TRUE(Context::create(shape, config, options, &ctx).ok());
  int timeouts = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(problem->poison_outputs(nullptr).ok());
    ASSERT_TRUE(ctx->run(problem->run_args(), nullptr).ok());
    const Result r = ctx->synchronize_and_check(nullptr);
    if (!r.ok()) {
      ASSERT_EQ(r.status, Status::kErrorTimeout) << r.message;
      ++timeouts;
      continue;
    }
    harness::CheckReport report;
    ASSERT_TRUE(problem->check(256, &report).ok());
    ASSERT_TRUE(report.pass) << "forward " << i << " reported success: " << report.summary();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 60.0);
  RecordProperty("timeouts", timeouts);
}

}  // namespace
}  // namespace onemoe
