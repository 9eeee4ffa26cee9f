// Routing::kPreRouted on one GPU: the caller's top-k ids and weights drive the forward. Given a routed forward's
// own outputs it reproduces that forward bitwise; given random ids (in any order within a token) it matches the
// fp64 reference's pre-routed mode; a bad id is an error naming the token, with nothing out of bounds.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gpu_available.h"
#include "harness/moe_problem.h"
#include "onemoe/onemoe.h"
#include "reference/compare.h"
#include "reference/moe_reference.h"

namespace onemoe {
namespace {

struct PreRoutedCase {
  const char* name;
  MoeShape shape;
  bool gated;
  float capacity_factor;
};

const PreRoutedCase kCases[] = {
    {"T1_E8_k1", {1, 8, 1, 512, 512}, false, 0},
    {"T300_E64_k8_gated", {300, 64, 8, 512, 768}, true, 0},
    {"T4097_E32_k2_capacity1.25", {4097, 32, 2, 512, 512}, false, 1.25f},
};

template <class T>
T* device_copy(const std::vector<T>& v) {
  T* d = nullptr;
  cudaMalloc(reinterpret_cast<void**>(&d), v.size() * sizeof(T));
  cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
  return d;
}

// The problem's arguments with the routing given instead of the router (w_router is not needed, and not read).
RunArgs pre_routed_args(const harness::DeviceProblem& problem, const int32_t* ids, const float* weights) {
  RunArgs args = problem.run_args();
  args.w_router = nullptr;
  args.in_topk_ids = ids;
  args.in_topk_weights = weights;
  return args;
}

MoeConfig config_of(const PreRoutedCase& c, Routing routing) {
  MoeConfig config;
  config.routing = routing;
  config.gated = c.gated;
  config.activation = c.gated ? Activation::kSiLU : Activation::kGELU;
  config.capacity_factor = c.capacity_factor;
  return config;
}

class PreRouted : public ::testing::TestWithParam<PreRoutedCase> {};

TEST_P(PreRouted, RoutedForwardsOwnRoutingReproducesItBitwise) {
  REQUIRE_GPU();
  const PreRoutedCase& c = GetParam();
  const MoeConfig routed_config = config_of(c, Routing::kTopK), pre_config = config_of(c, Routing::kPreRouted);
  std::unique_ptr<harness::DeviceProblem> problem;
  ASSERT_TRUE(harness::DeviceProblem::create(c.shape, routed_config, 81, &problem).ok());
  std::unique_ptr<Context> routed, pre;
  ASSERT_TRUE(Context::create(c.shape, routed_config, {}, &routed).ok());
  ASSERT_TRUE(Context::create(c.shape, pre_config, {}, &pre).ok());

  ASSERT_TRUE(problem->poison_outputs(nullptr).ok());
  ASSERT_TRUE(routed->run(problem->run_args(), nullptr).ok());
  ASSERT_TRUE(routed->synchronize_and_check(nullptr).ok());
  std::vector<uint8_t> routed_out, pre_out;
  std::vector<int32_t> ids;
  std::vector<float> weights;
  ASSERT_TRUE(problem->download_output_bytes(&routed_out).ok());
  ASSERT_TRUE(problem->download_topk_ids(&ids).ok());
  ASSERT_TRUE(problem->download_topk_weights(&weights).ok());

  // Reverse each token's order: the kernel must sort them back into the combine order itself.
  const int k = c.shape.top_k;
  for (int64_t t = 0; t < c.shape.num_tokens; ++t) {
    std::reverse(ids.begin() + t * k, ids.begin() + (t + 1) * k);
    std::reverse(weights.begin() + t * k, weights.begin() + (t + 1) * k);
  }
  int32_t* d_ids = device_copy(ids);
  float* d_weights = device_copy(weights);
  const RunArgs args = pre_routed_args(*problem, d_ids, d_weights);
  ASSERT_TRUE(problem->poison_outputs(nullptr).ok());
  const Result r = pre->run(args, nullptr);
  ASSERT_TRUE(r.ok()) << r.message;
  const Result checked = pre->synchronize_and_check(nullptr);
  ASSERT_TRUE(checked.ok()) << checked.message;
  ASSERT_TRUE(problem->download_output_bytes(&pre_out).ok());
  EXPECT_EQ(0, std::memcmp(routed_out.data(), pre_out.data(), routed_out.size()))
      << "the pre-routed forward differs from the routed one it was given";
  cudaFree(d_ids);
  cudaFree(d_weights);
}

TEST_P(PreRouted, RandomRoutingMatchesTheReference) {
  REQUIRE_GPU();
  const PreRoutedCase& c = GetParam();
  const MoeConfig config = config_of(c, Routing::kPreRouted);
  std::unique_ptr<harness::DeviceProblem> problem;
  ASSERT_TRUE(harness::DeviceProblem::create(c.shape, config, 83, &problem).ok());
  const int64_t T = c.shape.num_tokens;
  const int E = c.shape.num_experts, k = c.shape.top_k;
  std::mt19937 rng(5);
  std::vector<int32_t> ids(size_t(T) * k);
  std::vector<float> weights(ids.size());
  std::vector<double> weights64(ids.size());
  std::vector<int32_t> experts(E);
  std::iota(experts.begin(), experts.end(), 0);
  std::uniform_real_distribution<float> w(0.05f, 1.f);
  for (int64_t t = 0; t < T; ++t) {
    std::shuffle(experts.begin(), experts.end(), rng);  // k distinct ids in random order
    for (int j = 0; j < k; ++j) {
      ids[t * k + j] = experts[j];
      weights[t * k + j] = w(rng);
      weights64[t * k + j] = weights[t * k + j];
    }
  }
  int32_t* d_ids = device_copy(ids);
  float* d_weights = device_copy(weights);
  std::unique_ptr<Context> ctx;
  ASSERT_TRUE(Context::create(c.shape, config, {}, &ctx).ok());
  const RunArgs args = pre_routed_args(*problem, d_ids, d_weights);
  ASSERT_TRUE(problem->poison_outputs(nullptr).ok());
  ASSERT_TRUE(ctx->run(args, nullptr).ok());
  const Result checked = ctx->synchronize_and_check(nullptr);
  ASSERT_TRUE(checked.ok()) << checked.message;
  std::vector<float> got;
  ASSERT_TRUE(problem->download_output(&got).ok());

  const harness::HostInputs& in = problem->inputs();
  reference::RefConfig rc = harness::reference_config(c.shape, config);
  rc.routing = reference::RefRouting::kPreRouted;
  const reference::RefWeights rw{nullptr, in.w1.data(), c.gated ? in.w3.data() : nullptr, in.w2.data()};
  const reference::RefOutput ref =
      reference::moe_forward(in.x.data(), T, rw, rc, reference::RefPreRouted{ids.data(), weights64.data()});
  ASSERT_TRUE(ref.ok()) << ref.error;
  const reference::CompareResult cmp =
      reference::compare_rows(got.data(), ref.out.data(), T, c.shape.hidden, std::vector<uint8_t>(size_t(T), 0),
                              reference::tolerance_for(harness::check_dtype(config)));
  EXPECT_TRUE(cmp.pass) << cmp.summary;
  cudaFree(d_ids);
  cudaFree(d_weights);
}

INSTANTIATE_TEST_SUITE_P(Cases, PreRouted, ::testing::ValuesIn(kCases), [](const auto& info) {
  std::string s = info.param.name;
  for (char& ch : s)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
});

// An id past E, a negative one, or one repeated within a token: the forward reports the token, and the context
// stays usable (the next good forward is right).
TEST(PreRoutedBadInput, BadIdIsAnErrorNamingTheToken) {
  REQUIRE_GPU();
  const MoeShape shape{257, 16, 2, 512, 512};
  MoeConfig config;
  config.routing = Routing::kPreRouted;
  std::unique_ptr<harness::DeviceProblem> problem;
  ASSERT_TRUE(harness::DeviceProblem::create(shape, config, 89, &problem).ok());
  std::unique_ptr<Context> ctx;
  ASSERT_TRUE(Context::create(shape, config, {}, &ctx).ok());
  std::vector<int32_t> good(size_t(shape.num_tokens) * 2);
  for (int64_t t = 0; t < shape.num_tokens; ++t) {
    good[t * 2] = int32_t(t % 16);
    good[t * 2 + 1] = int32_t((t + 5) % 16);
  }
  const std::vector<float> weights(good.size(), 0.5f);
  float* d_weights = device_copy(weights);
  const int64_t bad_token = 200;
  for (int32_t bad : {16, -1, 1000000, -2147483647}) {
    for (bool repeat : {false, true}) {
      std::vector<int32_t> ids = good;
      if (repeat) ids[bad_token * 2 + 1] = ids[bad_token * 2];
      else ids[bad_token * 2 + 1] = bad;
      int32_t* d_ids = device_copy(ids);
      const RunArgs args = pre_routed_args(*problem, d_ids, d_weights);
      ASSERT_TRUE(ctx->run(args, nullptr).ok());
      const Result r = ctx->synchronize_and_check(nullptr);
      EXPECT_EQ(r.status, Status::kErrorInvalidArgument) << r.message;
      EXPECT_NE(r.message.find("token " + std::to_string(bad_token)), std::string::npos) << r.message;
      cudaFree(d_ids);
      if (repeat) break;
    }
  }
  int32_t* d_good = device_copy(good);
  const RunArgs args = pre_routed_args(*problem, d_good, d_weights);
  ASSERT_TRUE(ctx->run(args, nullptr).ok());
  const Result r = ctx->synchronize_and_check(nullptr);
  EXPECT_TRUE(r.ok()) << "the forward after a bad one: " << r.message;
  cudaFree(d_good);
  cudaFree(d_weights);
}

}  // namespace
}  // namespace onemoe
