#include <cuda.h>

#include "launch_apis.h"

namespace launchprof::studies {

__global__ void null_kernel() {}

namespace {

constexpr int kGraphKernels = 3;

CUfunction null_function() {
  static CUfunction f = [] {
    cudaFunction_t fn = nullptr;
    cudaGetFuncBySymbol(&fn, reinterpret_cast<const void*>(null_kernel));
    return reinterpret_cast<CUfunction>(fn);
  }();
  return f;
}

cudaError_t driver_error(CUresult r) { return r == CUDA_SUCCESS ? cudaSuccess : cudaErrorLaunchFailure; }

cudaError_t launch_chevrons(cudaStream_t s) {
  null_kernel<<<1, 1, 0, s>>>();
  return cudaGetLastError();
}

cudaError_t launch_runtime(cudaStream_t s) {
  return cudaLaunchKernel(reinterpret_cast<const void*>(null_kernel), dim3(1), dim3(1), nullptr, 0, s);
}

cudaError_t launch_runtime_ex(cudaStream_t s) {
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(1);
  config.blockDim = dim3(1);
  config.stream = s;
  return cudaLaunchKernelExC(&config, reinterpret_cast<const void*>(null_kernel), nullptr);
}

cudaError_t launch_runtime_cooperative(cudaStream_t s) {
  return cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(null_kernel), dim3(1), dim3(1), nullptr, 0, s);
}

cudaError_t launch_driver(cudaStream_t s) {
  return driver_error(cuLaunchKernel(null_function(), 1, 1, 1, 1, 1, 1, 0, s, nullptr, nullptr));
}

cudaError_t launch_driver_ex(cudaStream_t s) {
  CUlaunchConfig config{};
  config.gridDimX = config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = config.blockDimY = config.blockDimZ = 1;
  config.hStream = s;
  return driver_error(cuLaunchKernelEx(&config, null_function(), nullptr, nullptr));
}

cudaError_t launch_driver_cooperative(cudaStream_t s) {
  return driver_error(cuLaunchCooperativeKernel(null_function(), 1, 1, 1, 1, 1, 1, 0, s, nullptr));
}

cudaGraphExec_t g_graph_exec = nullptr;

// Captured launches are launch calls with no kernel of their own: they show up as such in a trace.
void build_graph() {
  cudaStream_t capture;
  cudaStreamCreateWithFlags(&capture, cudaStreamNonBlocking);
  cudaGraph_t graph;
  cudaStreamBeginCapture(capture, cudaStreamCaptureModeThreadLocal);
  for (int i = 0; i < kGraphKernels; ++i) null_kernel<<<1, 1, 0, capture>>>();
  cudaStreamEndCapture(capture, &graph);
  cudaGraphInstantiate(&g_graph_exec, graph, 0);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(capture);
}

cudaError_t launch_graph(cudaStream_t s) {
  return g_graph_exec != nullptr ? cudaGraphLaunch(g_graph_exec, s) : cudaErrorInvalidValue;
}

}  // namespace

void launch_null(cudaStream_t stream) { null_kernel<<<1, 1, 0, stream>>>(); }

const std::vector<LaunchApi>& launch_apis() {
  static bool prepared = [] {
    build_graph();
    null_function();
    return true;
  }();
  (void)prepared;
  static const std::vector<LaunchApi> apis = {
      {"<<<>>>", 1, launch_chevrons},
      {"cudaLaunchKernel", 1, launch_runtime},
      {"cudaLaunchKernelExC", 1, launch_runtime_ex},
      {"cudaLaunchCooperativeKernel", 1, launch_runtime_cooperative},
      {"cuLaunchKernel", 1, launch_driver},
      {"cuLaunchKernelEx", 1, launch_driver_ex},
      {"cuLaunchCooperativeKernel", 1, launch_driver_cooperative},
      {"cudaGraphLaunch", kGraphKernels, launch_graph},
  };
  return apis;
}

}  // namespace launchprof::studies
