// Argument checks shared by the Context (see can_implement.cpp).
#pragma once

#include <cstdlib>
#include <string>

#include "device/kernel_params.h"
#include "onemoe/onemoe.h"

namespace onemoe::host {

// Null, misaligned or inconsistent tensors of one run.
Result check_run_args(const MoeConfig& config, const RunArgs& args);

// The bound on every device-side wait: the context's option, unless ONEMOE_WAIT_TIMEOUT_MS (a positive number of
// milliseconds) overrides it for every context of the process. For runs that slow the kernel down by orders of
// magnitude (compute-sanitizer), where the default bound would give up on a forward that is only slow.
inline double effective_wait_timeout_ms(double requested_ms) {
  const char* env = std::getenv("ONEMOE_WAIT_TIMEOUT_MS");
  if (env == nullptr) return requested_ms;
  char* end = nullptr;
  const double ms = std::strtod(env, &end);
  return end != env && *end == '\0' && ms > 0 ? ms : requested_ms;
}

// The kernel and this host code were compiled with the same expert tile width (a tuning build that overrides
// it for only one of them would plan tasks the kernel does not have).
inline Result check_kernel_tiling(int kernel_expert_tile_n) {
  if (kernel_expert_tile_n == device::kExpertTileN) return Result::success();
  return Result::error(Status::kErrorInternal, "the kernel was built with ONEMOE_EXPERT_TILE_N = " +
                                                   std::to_string(kernel_expert_tile_n) + " but the host code with " +
                                                   std::to_string(device::kExpertTileN) +
                                                   ": set tuning overrides with -DONEMOE_TUNING_DEFINITIONS");
}

}  // namespace onemoe::host
