// Host-side checks of shapes, configs and run arguments. Every rejection says why.
#include <cmath>
#include <cstdint>
#include <sstream>

#include "device/kernel_params.h"
#include "host/checks.h"

namespace onemoe {
namespace {

constexpr int64_t kMaxTokens = int64_t(1) << 22;  // keeps every row index of the expert buffers in int32

template <class... Args>
Result fail(Status s, Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  return Result::error(s, os.str());
}

}  // namespace

Result Context::can_implement(const MoeShape& s, const MoeConfig& c) {
  if (s.num_tokens <= 0) return fail(Status::kErrorInvalidArgument, "num_tokens (T) must be >= 1, got ", s.num_tokens);
  if (s.num_tokens > kMaxTokens)
    return fail(Status::kErrorNotSupported, "num_tokens (T) = ", s.num_tokens, " exceeds the supported ", kMaxTokens);
  if (s.num_experts < 1) return fail(Status::kErrorInvalidArgument, "num_experts (E) must be >= 1, got ", s.num_experts);
  if (s.num_experts > device::kMaxExperts)
    return fail(Status::kErrorNotSupported, "num_experts (E) = ", s.num_experts, " exceeds the supported ",
                device::kMaxExperts);
  if (s.top_k < 1) return fail(Status::kErrorInvalidArgument, "top_k (k) must be >= 1, got ", s.top_k);
  if (s.top_k > s.num_experts)
    return fail(Status::kErrorInvalidArgument, "top_k (k) = ", s.top_k, " exceeds num_experts (E) = ", s.num_experts);
  if (s.top_k > device::kMaxTopK)
    return fail(Status::kErrorNotSupported, "top_k (k) = ", s.top_k, " exceeds the supported ", device::kMaxTopK);
  if (s.hidden <= 0 || s.intermediate <= 0)
    return fail(Status::kErrorInvalidArgument, "hidden (H) and intermediate (I) must be positive, got H=", s.hidden,
                " I=", s.intermediate);
  if (s.hidden % 64 != 0)
    return fail(Status::kErrorNotSupported, "hidden (H) = ", s.hidden, " is not a multiple of 64");
  if (s.intermediate % 64 != 0)
    return fail(Status::kErrorNotSupported, "intermediate (I) = ", s.intermediate, " is not a multiple of 64");
  if (c.routing != Routing::kTopK && c.routing != Routing::kTopKSoftmax && c.routing != Routing::kGroupedTopK &&
      c.routing != Routing::kPreRouted)
    return fail(Status::kErrorInvalidArgument, "unknown routing mode ", int(c.routing));
  if (c.routing == Routing::kGroupedTopK) {
    if (c.num_groups < 1 || c.num_groups > 32 || s.num_experts % c.num_groups != 0)
      return fail(Status::kErrorNotSupported, "grouped routing: num_groups = ", c.num_groups,
                  " must divide num_experts (E) = ", s.num_experts, " and be at most 32");
    const int per_group = s.num_experts / c.num_groups;
    if (c.topk_groups < 1 || c.topk_groups > c.num_groups)
      return fail(Status::kErrorInvalidArgument, "grouped routing: topk_groups = ", c.topk_groups,
                  " must be in 1..num_groups (", c.num_groups, ")");
    if (c.group_score_topk < 1 || c.group_score_topk > 2 || c.group_score_topk > per_group)
      return fail(Status::kErrorNotSupported, "grouped routing: group_score_topk = ", c.group_score_topk,
                  " must be 1 or 2 and at most the experts per group (", per_group, ")");
    if (s.top_k > c.topk_groups * per_group)
      return fail(Status::kErrorInvalidArgument, "grouped routing: top_k (k) = ", s.top_k,
                  " exceeds the experts of the chosen groups (", c.topk_groups * per_group, ")");
  }
  if (!std::isfinite(c.routed_scaling_factor))
    return fail(Status::kErrorInvalidArgument, "routed_scaling_factor must be finite, got ", c.routed_scaling_factor);
  if (std::isnan(c.capacity_factor) || std::isinf(c.capacity_factor))
    return fail(Status::kErrorInvalidArgument, "capacity_factor must be finite (<= 0 means dropless)");
  return Result::success();
}

namespace host {

Result check_run_args(const MoeConfig& c, const RunArgs& a) {
  struct Tensor {
    const char* name;
    const void* ptr;
    bool required;
    size_t align;
  };
  const bool pre_routed = c.routing == Routing::kPreRouted;
  const Tensor tensors[] = {
      {"x", a.x, true, 16},
      {"w_router", a.w_router, !pre_routed, 16},
      {"in_topk_ids", a.in_topk_ids, pre_routed, 4},
      {"in_topk_weights", a.in_topk_weights, pre_routed, 4},
      {"score_bias", a.score_bias, false, 4},
      {"w1", a.w1, true, 16},
      {"w3", a.w3, c.gated, 16},
      {"w2", a.w2, true, 16},
      {"out", a.out, true, 16},
      {"topk_ids", a.topk_ids, false, 4},
      {"topk_weights", a.topk_weights, false, 4},
      {"workspace", a.workspace, false, 256},
  };
  for (const Tensor& t : tensors) {
    if (t.required && t.ptr == nullptr) return fail(Status::kErrorInvalidArgument, t.name, " is null");
    if (t.ptr != nullptr && reinterpret_cast<uintptr_t>(t.ptr) % t.align != 0)
      return fail(Status::kErrorMisalignedPointer, t.name, " is not ", t.align, "-byte aligned");
  }
  if (!c.gated && a.w3 != nullptr)
    return fail(Status::kErrorInvalidArgument, "w3 is given but the FFN is not gated (set MoeConfig::gated)");
  if (a.score_bias != nullptr && c.routing != Routing::kGroupedTopK)
    return fail(Status::kErrorInvalidArgument, "score_bias is given but the routing is not grouped");
  if (!pre_routed && (a.in_topk_ids != nullptr || a.in_topk_weights != nullptr))
    return fail(Status::kErrorInvalidArgument,
                "in_topk_ids / in_topk_weights are given but the routing is not pre-routed (set MoeConfig::routing)");
  return Result::success();
}

}  // namespace host
}  // namespace onemoe
