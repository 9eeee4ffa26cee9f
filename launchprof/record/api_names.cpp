#include "api_names.h"

#include <array>

namespace launchprof::record {

std::string strip_cbid_version(std::string_view name) {
  // Drop a trailing "_v" followed only by digits.
  size_t pos = name.rfind("_v");
  if (pos == std::string_view::npos || pos + 2 == name.size()) return std::string(name);
  for (size_t i = pos + 2; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::string(name);
  }
  return std::string(name.substr(0, pos));
}

bool is_kernel_launch_api(std::string_view name) {
  constexpr std::array<std::string_view, 5> kPrefixes = {"cudaLaunch", "__cudaLaunch", "cudaGraphLaunch", "cuLaunch",
                                                         "cuGraphLaunch"};
  for (std::string_view prefix : kPrefixes) {
    if (name.substr(0, prefix.size()) == prefix) {
      // cudaLaunchHostFunc / cuLaunchHostFunc enqueue host work, not a kernel.
      return name.find("HostFunc") == std::string_view::npos;
    }
  }
  return false;
}

bool is_host_query_runtime_api(std::string_view name) {
  constexpr std::string_view kPtsz = "_ptsz";
  if (name.size() > kPtsz.size() && name.substr(name.size() - kPtsz.size()) == kPtsz) name.remove_suffix(kPtsz.size());
  // Newer versions of one call ("cudaStreamGetCaptureInfo_v2") are the same query.
  if (name.size() > 3 && name.substr(name.size() - 3, 2) == "_v" && name.back() >= '2' && name.back() <= '9')
    name.remove_suffix(3);
  constexpr std::array<std::string_view, 29> kQueries = {"cudaGetDevice",
                                                         "cudaGetDeviceCount",
                                                         "cudaGetDeviceFlags",
                                                         "cudaGetDeviceProperties",
                                                         "cudaDeviceGetAttribute",
                                                         "cudaDeviceGetLimit",
                                                         "cudaDeviceGetStreamPriorityRange",
                                                         "cudaGetLastError",
                                                         "cudaPeekAtLastError",
                                                         "cudaGetErrorString",
                                                         "cudaGetErrorName",
                                                         "cudaDriverGetVersion",
                                                         "cudaRuntimeGetVersion",
                                                         "cudaPointerGetAttributes",
                                                         "cudaFuncGetAttributes",
                                                         "cudaStreamIsCapturing",
                                                         "cudaStreamGetCaptureInfo",
                                                         "cudaThreadExchangeStreamCaptureMode",
                                                         "cudaStreamGetPriority",
                                                         "cudaStreamGetFlags",
                                                         "cudaStreamGetId",
                                                         "cudaStreamGetDevice",
                                                         "cudaStreamGetAttribute",
                                                         "cudaGetDriverEntryPoint",
                                                         "cudaGetDriverEntryPointByVersion",
                                                         "cudaGetExportTable",
                                                         "cudaGetFuncBySymbol",
                                                         "cudaGetSymbolAddress",
                                                         "cudaGetSymbolSize"};
  for (std::string_view q : kQueries) {
    if (name == q) return true;
  }
  return false;
}

bool is_profiler_start_api(std::string_view name) { return name == "cudaProfilerStart" || name == "cuProfilerStart"; }
bool is_profiler_stop_api(std::string_view name) { return name == "cudaProfilerStop" || name == "cuProfilerStop"; }

}  // namespace launchprof::record
