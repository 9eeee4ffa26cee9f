// Classifies CUDA runtime/driver API calls by name: which launch kernels, which make the host wait.
#pragma once

#include <string_view>

#include "launchprof/analyze/event_model.h"

namespace launchprof {

ApiKind classify_api(std::string_view name);

// Does this call launch kernels (so that finding no kernel for it is worth reporting)?
inline bool is_launch(ApiKind k) { return k == ApiKind::kKernelLaunch || k == ApiKind::kGraphLaunch; }
// Does the host block until the GPU catches up? Fusion chains are split at these.
inline bool is_host_sync(ApiKind k) { return k == ApiKind::kSync || k == ApiKind::kMemcpySync; }

}  // namespace launchprof
