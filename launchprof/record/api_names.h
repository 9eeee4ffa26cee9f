// Names of CUDA API calls: how CUPTI spells them and which ones launch kernels.
#pragma once

#include <string>
#include <string_view>

namespace launchprof::record {

// CUPTI names runtime callbacks with the version that introduced them ("cudaLaunchKernel_v7000");
// traces use the plain name ("cudaLaunchKernel"), as PyTorch's profiler does. "_ptsz" is kept.
std::string strip_cbid_version(std::string_view cupti_name);

// True for the calls that launch kernels: cudaLaunchKernel, cudaLaunchKernelExC, cudaLaunchCooperativeKernel,
// CUDA 13's __cudaLaunchKernel (what <<<>>> compiles to), cuLaunchKernel, cuLaunchKernelEx, cuLaunchCooperativeKernel,
// cudaGraphLaunch, cuGraphLaunch, and their _ptsz variants.
bool is_kernel_launch_api(std::string_view name);

// Runtime calls that only read host-side state (current device, last error, attributes, capture status, versions):
// they never enqueue GPU work, wait, or launch, and frameworks make several per kernel (PyTorch: about 8
// cudaGetDevice and 1 cudaGetLastError per launch). The collector leaves them out by default
// (LAUNCHPROF_RUNTIME_API=all keeps them). Takes a name without the "_vNNNN" suffix; "_ptsz" variants match too.
bool is_host_query_runtime_api(std::string_view name);

// cudaProfilerStart/Stop and cuProfilerStart/Stop bound the capture range (LAUNCHPROF_CAPTURE_RANGE=cudaProfilerApi).
bool is_profiler_start_api(std::string_view name);
bool is_profiler_stop_api(std::string_view name);

}  // namespace launchprof::record
