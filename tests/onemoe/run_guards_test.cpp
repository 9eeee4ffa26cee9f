// GPU part of the bad-input suite and the launch count: a rejected run writes nothing, NaN propagates to
// exactly its token, and a forward is exactly one kernel launch (counted by CUPTI, not assumed).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "baselines/kernel_counter.h"
#include "gpu_available.h"
#include "harness/moe_problem.h"
#include "onemoe/onemoe.h"

namespace onemoe {
namespace {

class RunGuards : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_GPU();
    shape_ = MoeShape{257, 16, 2, 512, 512};
    ASSERT_TRUE(harness::DeviceProblem::create(shape_, config_, 7, &problem_).ok());
    ASSERT_TRUE(Context::create(shape_, config_, {}, &ctx_).ok());
  }

  // The run must be refused with `want`, and the poisoned output must still be untouched.
  void expect_refused(const RunArgs& args, Status want) {
    ASSERT_TRUE(problem_->poison_outputs(nullptr).ok());
    const Result r = ctx_->run(args, nullptr);
    EXPECT_EQ(r.status, want) << r.message;
    EXPECT_FALSE(r.message.empty());
    ASSERT_TRUE(ctx_->synchronize_and_check(nullptr).ok());
    std::vector<uint8_t> out;
    ASSERT_TRUE(problem_->download_output_bytes(&out).ok());
    for (uint8_t b : out) ASSERT_EQ(b, 0xFF) << "a refused run wrote the output";
  }

  MoeShape shape_;
  MoeConfig config_;
  std::unique_ptr<harness::DeviceProblem> problem_;
  std::unique_ptr<Context> ctx_;
};

TEST_F(RunGuards, NullPointer) {
  RunArgs a = problem_->run_args();
  a.w1 = nullptr;
  expect_refused(a, Status::kErrorInvalidArgument);
}

TEST_F(RunGuards, MisalignedPointer) {
  RunArgs a = problem_->run_args();
  a.x = static_cast<const char*>(a.x) + 2;
  expect_refused(a, Status::kErrorMisalignedPointer);
}

TEST_F(RunGuards, ZeroTokens) {
  RunArgs a = problem_->run_args();
  a.num_tokens = 0;
  expect_refused(a, Status::kErrorInvalidArgument);
}

TEST_F(RunGuards, MoreTokensThanTheContextWasSizedFor) {
  RunArgs a = problem_->run_args();
  a.num_tokens = shape_.num_tokens + 1;
  expect_refused(a, Status::kErrorWorkspaceTooSmall);
}

TEST_F(RunGuards, CallerWorkspaceTooSmall) {
  const size_t need = ctx_->workspace_size(shape_.num_tokens);
  void* ws = nullptr;
  ASSERT_EQ(cudaMalloc(&ws, need), cudaSuccess);
  RunArgs a = problem_->run_args();
  a.workspace = ws;
  a.workspace_bytes = need - 1;
  expect_refused(a, Status::kErrorWorkspaceTooSmall);
  // The same workspace at full size works.
  a.workspace_bytes = need;
  ASSERT_TRUE(ctx_->run(a, nullptr).ok());
  ASSERT_TRUE(ctx_->synchronize_and_check(nullptr).ok());
  harness::CheckReport report;
  ASSERT_TRUE(problem_->check(0, &report).ok());
  EXPECT_TRUE(report.pass) << report.summary();
  cudaFree(ws);
}

TEST_F(RunGuards, NanInputPropagatesToItsTokenOnly) {
  const RunArgs a = problem_->run_args();
  ASSERT_TRUE(ctx_->run(a, nullptr).ok());
  ASSERT_TRUE(ctx_->synchronize_and_check(nullptr).ok());
  std::vector<float> clean, poisoned;
  ASSERT_TRUE(problem_->download_output(&clean).ok());

  const int64_t nan_token = 5;
  ASSERT_TRUE(problem_->set_token_nan(nan_token).ok());
  ASSERT_TRUE(problem_->poison_outputs(nullptr).ok());
  ASSERT_TRUE(ctx_->run(a, nullptr).ok());
  ASSERT_TRUE(ctx_->synchronize_and_check(nullptr).ok());
  ASSERT_TRUE(problem_->download_output(&poisoned).ok());
  for (int64_t t = 0; t < shape_.num_tokens; ++t) {
    for (int h = 0; h < shape_.hidden; ++h) {
      const size_t i = size_t(t) * shape_.hidden + h;
      if (t == nan_token) {
        ASSERT_TRUE(std::isnan(poisoned[i])) << "NaN input hidden at h=" << h;
      } else {
        ASSERT_EQ(0, std::memcmp(&clean[i], &poisoned[i], sizeof(float))) << "token " << t << " changed";
      }
    }
  }
}

// Experts with the same router row tie on every token; a tie goes to the lower expert id, so of a tied group the
// chosen members are always its lowest ids. The groups span both lanes of a token's top-k scan (odd and even ids).
TEST_F(RunGuards, RouterTiesGoToTheLowerExpert) {
  const std::vector<std::vector<int>> groups = {{3, 7, 8}, {10, 11}};
  for (const auto& g : groups)
    for (size_t i = 1; i < g.size(); ++i) ASSERT_TRUE(problem_->copy_router_row(g[0], g[i]).ok());
  ASSERT_TRUE(problem_->poison_outputs(nullptr).ok());
  ASSERT_TRUE(ctx_->run(problem_->run_args(), nullptr).ok());
  ASSERT_TRUE(ctx_->synchronize_and_check(nullptr).ok());
  std::vector<int32_t> ids;
  ASSERT_TRUE(problem_->download_topk_ids(&ids).ok());
  int tokens_with_two_tied_picks = 0;
  for (int64_t t = 0; t < shape_.num_tokens; ++t) {
    for (const auto& g : groups) {
      int chosen = 0;
      bool gap = false;  // a member chosen after an unchosen lower one
      for (size_t i = 0; i < g.size(); ++i) {
        const bool picked =
            std::count(ids.begin() + t * shape_.top_k, ids.begin() + (t + 1) * shape_.top_k, g[i]) == 1;
        if (picked && chosen < int(i)) gap = true;
        chosen += picked;
      }
      EXPECT_FALSE(gap) << "token " << t << " skipped a lower tied expert of the group led by " << g[0];
      tokens_with_two_tied_picks += chosen >= 2;
    }
  }
  EXPECT_GT(tokens_with_two_tied_picks, 0) << "no token picked two tied experts: the test checked nothing";
  harness::CheckReport report;
  ASSERT_TRUE(problem_->check(0, &report).ok());
  EXPECT_TRUE(report.pass) << report.summary();
}

TEST_F(RunGuards, OneKernelLaunchPerForward) {
  const RunArgs a = problem_->run_args();
  ASSERT_TRUE(ctx_->run(a, nullptr).ok());  // warm: module load happens outside the count
  ASSERT_TRUE(ctx_->synchronize_and_check(nullptr).ok());
  baselines::KernelCounter counter;
  const Result started = counter.start();
  ASSERT_TRUE(started.ok()) << started.message;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ctx_->run(a, nullptr).ok());
  ASSERT_TRUE(counter.stop_and_flush().ok());
  EXPECT_EQ(counter.dropped_records(), 0);
  EXPECT_EQ(counter.kernels(), 3) << "three forwards must be exactly three kernel launches";
  ASSERT_TRUE(ctx_->synchronize_and_check(nullptr).ok());
}

}  // namespace
}  // namespace onemoe
