// CUDA-graph safety of the one-GPU forward: a captured forward (and a graph of several) replayed a thousand
// times with new inputs in the same buffers equals the eager forward bitwise, and a replay that gives up leaves
// every later replay intact. The forward's epoch lives in device memory, so a replay never reuses a launch
// parameter that tags flags (docs/reliability.md).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "gpu_available.h"
#include "harness/moe_problem.h"
#include "host/fault_injection.h"
#include "onemoe/onemoe.h"

namespace onemoe {
namespace {

struct GraphCase {
  const char* name;
  MoeShape shape;
  bool gated;
};

const GraphCase kGraphCases[] = {
    {"T257_E16_k2", {257, 16, 2, 512, 512}, false},
    {"decode_T64_E32_k2_gated", {64, 32, 2, 1024, 512}, true},  // a small T: the GEMM1 warm-up runs
};

class StreamGraph {
 public:
  StreamGraph() { cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking); }
  ~StreamGraph() {
    if (exec_) cudaGraphExecDestroy(exec_);
    if (graph_) cudaGraphDestroy(graph_);
    cudaStreamDestroy(stream_);
  }
  cudaStream_t stream() const { return stream_; }
  // Captures enqueue(stream) into an executable graph.
  template <class Enqueue>
  void capture(Enqueue&& enqueue) {
    ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), cudaSuccess);
    enqueue(stream_);
    ASSERT_EQ(cudaStreamEndCapture(stream_, &graph_), cudaSuccess);
    ASSERT_EQ(cudaGraphInstantiate(&exec_, graph_, 0), cudaSuccess);
  }
  void replay() { ASSERT_EQ(cudaGraphLaunch(exec_, stream_), cudaSuccess); }

 private:
  cudaStream_t stream_ = nullptr;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

MoeConfig config_of(const GraphCase& c) {
  MoeConfig config;
  config.gated = c.gated;
  config.activation = c.gated ? Activation::kSiLU : Activation::kGELU;
  return config;
}

class GraphReplay : public ::testing::TestWithParam<GraphCase> {};

// One forward per graph, 1,000 replays; each replay's inputs are new, and the eager forward on the same inputs
// must give the same bytes. Every 100th replay is also checked against the fp64 reference.
TEST_P(GraphReplay, OneForwardReplaysMatchEagerBitwise) {
  REQUIRE_GPU();
  const GraphCase& c = GetParam();
  const MoeConfig config = config_of(c);
  std::unique_ptr<harness::DeviceProblem> problem;
  ASSERT_TRUE(harness::DeviceProblem::create(c.shape, config, 11, &problem).ok());
  std::unique_ptr<Context> ctx;
  ASSERT_TRUE(Context::create(c.shape, config, {}, &ctx).ok());
  StreamGraph g;
  const RunArgs args = problem->run_args();
  Result captured;
  g.capture([&](cudaStream_t s) { captured = ctx->run(args, s); });
  ASSERT_TRUE(captured.ok()) << captured.message;

  std::vector<uint8_t> replayed, eager;
  constexpr int kReplays = 1000;
  for (int i = 0; i < kReplays; ++i) {
    ASSERT_TRUE(problem->redraw_x(1000 + i).ok());
    ASSERT_TRUE(problem->poison_outputs(g.stream()).ok());
    g.replay();
    Result r = ctx->synchronize_and_check(g.stream());
    ASSERT_TRUE(r.ok()) << "replay " << i << ": " << r.message;
    ASSERT_TRUE(problem->download_output_bytes(&replayed).ok());
    if (i % 100 == 0) {
      harness::CheckReport report;
      ASSERT_TRUE(problem->check(0, &report).ok());
      ASSERT_TRUE(report.pass) << "replay " << i << ": " << report.summary();
    }
    ASSERT_TRUE(problem->poison_outputs(g.stream()).ok());
    ASSERT_TRUE(ctx->run(args, g.stream()).ok());
    r = ctx->synchronize_and_check(g.stream());
    ASSERT_TRUE(r.ok()) << "eager " << i << ": " << r.message;
    ASSERT_TRUE(problem->download_output_bytes(&eager).ok());
    ASSERT_EQ(0, std::memcmp(replayed.data(), eager.data(), eager.size())) << "replay " << i << " differs from eager";
  }
}

// Four forwards (four problems, one context) in one graph, 250 replays: 1,000 forwards back to back inside
// graphs, each equal to its eager forward bitwise.
TEST_P(GraphReplay, GraphOfFourForwardsMatchesEagerBitwise) {
  REQUIRE_GPU();
  const GraphCase& c = GetParam();
  const MoeConfig config = config_of(c);
  constexpr int kForwards = 4;
  std::vector<std::unique_ptr<harness::DeviceProblem>> problems(kForwards);
  for (int f = 0; f < kForwards; ++f)
    ASSERT_TRUE(harness::DeviceProblem::create(c.shape, config, 21 + f, &problems[f]).ok());
  std::unique_ptr<Context> ctx;
  ASSERT_TRUE(Context::create(c.shape, config, {}, &ctx).ok());
  StreamGraph g;
  bool captured = true;
  g.capture([&](cudaStream_t s) {
    for (auto& p : problems) captured = captured && ctx->run(p->run_args(), s).ok();
  });
  ASSERT_TRUE(captured);

  std::vector<std::vector<uint8_t>> replayed(kForwards);
  std::vector<uint8_t> eager;
  for (int i = 0; i < 250; ++i) {
    for (int f = 0; f < kForwards; ++f) {
      ASSERT_TRUE(problems[f]->redraw_x(5000 + i * kForwards + f).ok());
      ASSERT_TRUE(problems[f]->poison_outputs(g.stream()).ok());
    }
    g.replay();
    const Result r = ctx->synchronize_and_check(g.stream());
    ASSERT_TRUE(r.ok()) << "replay " << i << ": " << r.message;
    for (int f = 0; f < kForwards; ++f) ASSERT_TRUE(problems[f]->download_output_bytes(&replayed[f]).ok());
    for (int f = 0; f < kForwards; ++f) {
      ASSERT_TRUE(problems[f]->poison_outputs(g.stream()).ok());
      ASSERT_TRUE(ctx->run(problems[f]->run_args(), g.stream()).ok());
      ASSERT_TRUE(ctx->synchronize_and_check(g.stream()).ok());
      ASSERT_TRUE(problems[f]->download_output_bytes(&eager).ok());
      ASSERT_EQ(0, std::memcmp(replayed[f].data(), eager.data(), eager.size()))
          << "replay " << i << ", forward " << f << " differs from eager";
    }
  }
}

// Replay 2 of a graph gives up (an injected timeout at the plan wait); it reports a timeout, and replays 3..6
// run as if nothing happened. With the epoch as a launch parameter every later replay would carry the aborted
// epoch and give up too.
TEST_P(GraphReplay, AReplayThatGivesUpLeavesLaterReplaysIntact) {
  REQUIRE_GPU();
  const GraphCase& c = GetParam();
  const MoeConfig config = config_of(c);
  std::unique_ptr<harness::DeviceProblem> problem;
  ASSERT_TRUE(harness::DeviceProblem::create(c.shape, config, 31, &problem).ok());
  std::unique_ptr<Context> ctx;
  ASSERT_TRUE(Context::create(c.shape, config, {}, &ctx).ok());
  ASSERT_TRUE(ctx->run(problem->run_args(), nullptr).ok());  // one eager forward first
  ASSERT_TRUE(ctx->synchronize_and_check(nullptr).ok());
  std::vector<uint8_t> clean, got;
  ASSERT_TRUE(problem->download_output_bytes(&clean).ok());

  ASSERT_TRUE(internal::inject_wait_timeout(*ctx, device::WaitSite::kPlanReady, 2).ok());
  StreamGraph g;
  Result captured;
  g.capture([&](cudaStream_t s) { captured = ctx->run(problem->run_args(), s); });
  ASSERT_TRUE(captured.ok()) << captured.message;
  for (int replay = 1; replay <= 6; ++replay) {
    ASSERT_TRUE(problem->poison_outputs(g.stream()).ok());
    g.replay();
    const Result r = ctx->synchronize_and_check(g.stream());
    if (replay == 2) {
      EXPECT_EQ(r.status, Status::kErrorTimeout) << r.message;
      EXPECT_NE(r.message.find("plan_ready"), std::string::npos) << r.message;
      continue;
    }
    ASSERT_TRUE(r.ok()) << "replay " << replay << ": " << r.message;
    ASSERT_TRUE(problem->download_output_bytes(&got).ok());
    EXPECT_EQ(got, clean) << "replay " << replay << " differs from the clean forward";
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, GraphReplay, ::testing::ValuesIn(kGraphCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace onemoe
