// CPU part of the bad-input suite: shape/config checks and per-run argument checks, no GPU needed.
#include <gtest/gtest.h>

#include "host/checks.h"
#include "onemoe/onemoe.h"

namespace onemoe {
namespace {

MoeShape good_shape() { return MoeShape{128, 8, 2, 512, 1024}; }

TEST(CanImplement, AcceptsAValidShape) { EXPECT_TRUE(Context::can_implement(good_shape(), MoeConfig{}).ok()); }

TEST(CanImplement, RejectsTopKAboveExperts) {
  MoeShape s = good_shape();
  s.top_k = 9;
  s.num_experts = 8;
  const Result r = Context::can_implement(s, MoeConfig{});
  EXPECT_EQ(r.status, Status::kErrorInvalidArgument);
  EXPECT_NE(r.message.find("exceeds num_experts"), std::string::npos) << r.message;
}

TEST(CanImplement, RejectsHiddenNotMultipleOf64) {
  MoeShape s = good_shape();
  s.hidden = 100;
  const Result r = Context::can_implement(s, MoeConfig{});
  EXPECT_EQ(r.status, Status::kErrorNotSupported);
  EXPECT_NE(r.message.find("hidden (H) = 100"), std::string::npos) << r.message;
}

TEST(CanImplement, RejectsIntermediateNotMultipleOf64) {
  MoeShape s = good_shape();
  s.intermediate = 96;
  EXPECT_EQ(Context::can_implement(s, MoeConfig{}).status, Status::kErrorNotSupported);
}

TEST(CanImplement, RejectsZeroTokens) {
  MoeShape s = good_shape();
  s.num_tokens = 0;
  const Result r = Context::can_implement(s, MoeConfig{});
  EXPECT_EQ(r.status, Status::kErrorInvalidArgument);
  EXPECT_NE(r.message.find("num_tokens"), std::string::npos) << r.message;
}

TEST(CanImplement, RejectsTooManyExpertsOrTopK) {
  MoeShape s = good_shape();
  s.num_experts = 300;
  EXPECT_EQ(Context::can_implement(s, MoeConfig{}).status, Status::kErrorNotSupported);
  s.num_experts = 16;
  s.top_k = 9;
  EXPECT_EQ(Context::can_implement(s, MoeConfig{}).status, Status::kErrorNotSupported);
  s.top_k = 0;
  EXPECT_EQ(Context::can_implement(s, MoeConfig{}).status, Status::kErrorInvalidArgument);
}

TEST(CanImplement, RejectsNonFiniteCapacityFactor) {
  MoeConfig c;
  c.capacity_factor = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(Context::can_implement(good_shape(), c).status, Status::kErrorInvalidArgument);
}

alignas(256) char fake_tensor[1024];

RunArgs valid_args() {
  RunArgs a;
  a.num_tokens = 128;
  a.x = a.w_router = a.w1 = a.w2 = fake_tensor;
  a.out = fake_tensor;
  return a;
}

TEST(RunArgs, AcceptsValidArguments) { EXPECT_TRUE(host::check_run_args(MoeConfig{}, valid_args()).ok()); }

TEST(RunArgs, RejectsNullPointers) {
  for (int which = 0; which < 5; ++which) {
    RunArgs a = valid_args();
    const void** slots[] = {&a.x, &a.w_router, &a.w1, &a.w2, const_cast<const void**>(&a.out)};
    *slots[which] = nullptr;
    const Result r = host::check_run_args(MoeConfig{}, a);
    EXPECT_EQ(r.status, Status::kErrorInvalidArgument) << which;
    EXPECT_NE(r.message.find("is null"), std::string::npos) << r.message;
  }
}

TEST(RunArgs, RejectsMisalignedPointers) {
  RunArgs a = valid_args();
  a.x = fake_tensor + 2;
  const Result r = host::check_run_args(MoeConfig{}, a);
  EXPECT_EQ(r.status, Status::kErrorMisalignedPointer);
  EXPECT_NE(r.message.find("x is not 16-byte aligned"), std::string::npos) << r.message;
}

TEST(RunArgs, GatedNeedsW3AndPlainRefusesIt) {
  MoeConfig gated;
  gated.gated = true;
  EXPECT_EQ(host::check_run_args(gated, valid_args()).status, Status::kErrorInvalidArgument);
  RunArgs a = valid_args();
  a.w3 = fake_tensor;
  EXPECT_TRUE(host::check_run_args(gated, a).ok());
  EXPECT_EQ(host::check_run_args(MoeConfig{}, a).status, Status::kErrorInvalidArgument);
}

TEST(RunArgs, PreRoutedNeedsItsInputsAndNoRouter) {
  MoeConfig pre;
  pre.routing = Routing::kPreRouted;
  RunArgs a = valid_args();
  a.w_router = nullptr;
  Result r = host::check_run_args(pre, a);
  EXPECT_EQ(r.status, Status::kErrorInvalidArgument);
  EXPECT_NE(r.message.find("in_topk_ids is null"), std::string::npos) << r.message;
  alignas(16) static int32_t ids[4];
  alignas(16) static float weights[4];
  a.in_topk_ids = ids;
  r = host::check_run_args(pre, a);
  EXPECT_NE(r.message.find("in_topk_weights is null"), std::string::npos) << r.message;
  a.in_topk_weights = weights;
  EXPECT_TRUE(host::check_run_args(pre, a).ok()) << "w_router is optional when pre-routed";
  a.in_topk_ids = reinterpret_cast<const int32_t*>(fake_tensor + 2);
  EXPECT_EQ(host::check_run_args(pre, a).status, Status::kErrorMisalignedPointer);
  // The routed mode refuses pre-routed inputs instead of silently ignoring them.
  RunArgs routed = valid_args();
  routed.in_topk_ids = ids;
  routed.in_topk_weights = weights;
  r = host::check_run_args(MoeConfig{}, routed);
  EXPECT_EQ(r.status, Status::kErrorInvalidArgument);
  EXPECT_NE(r.message.find("not pre-routed"), std::string::npos) << r.message;
}

TEST(CanImplement, RejectsAnUnknownRoutingMode) {
  MoeConfig c;
  c.routing = static_cast<Routing>(7);
  EXPECT_EQ(Context::can_implement(good_shape(), c).status, Status::kErrorInvalidArgument);
}

TEST(CanImplement, GroupedRoutingNamesWhatItCannotRun) {
  MoeShape s = good_shape();  // E = 8
  MoeConfig c;
  c.routing = Routing::kGroupedTopK;
  c.num_groups = 3;  // does not divide 8
  Result r = Context::can_implement(s, c);
  EXPECT_EQ(r.status, Status::kErrorNotSupported);
  EXPECT_NE(r.message.find("num_groups = 3"), std::string::npos) << r.message;
  c.num_groups = 4;
  c.topk_groups = 5;
  EXPECT_EQ(Context::can_implement(s, c).status, Status::kErrorInvalidArgument);
  c.topk_groups = 1;  // 2 experts per group, one group chosen: k = 2 fits, k = 3 does not
  EXPECT_TRUE(Context::can_implement(s, c).ok());
  s.top_k = 3;
  r = Context::can_implement(s, c);
  EXPECT_NE(r.message.find("exceeds the experts of the chosen groups"), std::string::npos) << r.message;
  s.top_k = 2;
  c.group_score_topk = 3;
  EXPECT_EQ(Context::can_implement(s, c).status, Status::kErrorNotSupported);
  // The correction bias belongs to the grouped mode only.
  alignas(16) static float bias[8];
  RunArgs a = valid_args();
  a.score_bias = bias;
  EXPECT_EQ(host::check_run_args(MoeConfig{}, a).status, Status::kErrorInvalidArgument);
  c.group_score_topk = 2;
  EXPECT_TRUE(host::check_run_args(c, a).ok());
}

TEST(StatusString, NamesEveryStatus) {
  for (Status s : {Status::kSuccess, Status::kErrorInvalidArgument, Status::kErrorMisalignedPointer,
                   Status::kErrorNotSupported, Status::kErrorWorkspaceTooSmall, Status::kErrorNotCoResident,
                   Status::kErrorTimeout, Status::kErrorCuda, Status::kErrorInternal})
    EXPECT_STRNE(status_string(s), "unknown status");
}

}  // namespace
}  // namespace onemoe
