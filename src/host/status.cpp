// Names and printers for the public enums.
#include <ostream>

#include "onemoe/onemoe.h"

namespace onemoe {

const char* status_string(Status status) {
  switch (status) {
    case Status::kSuccess: return "success";
    case Status::kErrorInvalidArgument: return "invalid argument";
    case Status::kErrorMisalignedPointer: return "misaligned pointer";
    case Status::kErrorNotSupported: return "not supported";
    case Status::kErrorWorkspaceTooSmall: return "workspace too small";
    case Status::kErrorNotCoResident: return "grid cannot be co-resident";
    case Status::kErrorTimeout: return "device-side wait timed out";
    case Status::kErrorCuda: return "CUDA error";
    case Status::kErrorInternal: return "internal error";
  }
  return "unknown status";
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kBF16: return "bf16";
    case DType::kFP16: return "fp16";
    case DType::kFP32: return "fp32";
  }
  return "?";
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kReLU: return "relu";
    case Activation::kGELU: return "gelu";
    case Activation::kSiLU: return "silu";
  }
  return "?";
}

size_t dtype_size(DType d) { return d == DType::kFP32 ? 4 : 2; }

std::ostream& operator<<(std::ostream& os, const MoeShape& s) {
  return os << "T=" << s.num_tokens << " E=" << s.num_experts << " k=" << s.top_k << " H=" << s.hidden
            << " I=" << s.intermediate;
}

std::ostream& operator<<(std::ostream& os, const MoeConfig& c) {
  os << "dtype=" << dtype_name(c.dtype);
  if (c.dtype == DType::kFP32) os << (c.fp32_math == Fp32Math::kTF32 ? "(tf32)" : "(ffma)");
  if (c.routing == Routing::kPreRouted) os << " routing=pre-routed";
  else if (c.routing == Routing::kTopKSoftmax) os << " routing=topk-softmax";
  else if (c.routing == Routing::kGroupedTopK)
    os << " routing=grouped(" << c.num_groups << " groups, " << c.topk_groups << " chosen, top-" << c.group_score_topk
       << " sums) scoring=" << (c.scoring == Scoring::kSoftmax ? "softmax" : "sigmoid")
       << " renormalize=" << (c.renormalize ? "on" : "off");
  else
    os << " scoring=" << (c.scoring == Scoring::kSoftmax ? "softmax" : "sigmoid")
       << " renormalize=" << (c.renormalize ? "on" : "off");
  if (c.routing != Routing::kPreRouted && c.routed_scaling_factor != 1.0f)
    os << " routed_scaling_factor=" << c.routed_scaling_factor;
  os << " ffn=" << (c.gated ? "gated-" : "")
     << activation_name(c.activation);
  if (c.capacity_factor > 0) os << " capacity_factor=" << c.capacity_factor;
  else os << " dropless";
  return os;
}

}  // namespace onemoe
