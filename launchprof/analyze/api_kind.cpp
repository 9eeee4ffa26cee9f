#include "launchprof/analyze/api_kind.h"

namespace launchprof {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool contains(std::string_view s, std::string_view p) { return s.find(p) != std::string_view::npos; }

}  // namespace

ApiKind classify_api(std::string_view name) {
  // CUPTI callback names may carry a version suffix (cudaLaunchKernel_v7000); prefix tests cover it.
  if (contains(name, "GraphLaunch")) return ApiKind::kGraphLaunch;
  if ((starts_with(name, "cudaLaunch") || starts_with(name, "cuLaunch")) && !contains(name, "HostFunc"))
    return ApiKind::kKernelLaunch;
  if (starts_with(name, "cudaMemcpy") || starts_with(name, "cuMemcpy"))
    return contains(name, "Async") ? ApiKind::kMemcpyAsync : ApiKind::kMemcpySync;
  if (starts_with(name, "cudaMemset") || starts_with(name, "cuMemset")) return ApiKind::kMemset;
  if (contains(name, "Synchronize")) return ApiKind::kSync;  // cuda{Device,Stream,Event,Thread}Synchronize, cu*
  return ApiKind::kOther;
}

}  // namespace launchprof
