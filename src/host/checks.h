// Argument checks shared by the Context (see can_implement.cpp).
#pragma once

#include "onemoe/onemoe.h"

namespace onemoe::host {

// Null, misaligned or inconsistent tensors of one run.
Result check_run_args(const MoeConfig& config, const RunArgs& args);

}  // namespace onemoe::host
