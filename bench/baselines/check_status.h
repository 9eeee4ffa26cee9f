// Turns CUDA runtime and cuBLAS return codes into onemoe::Result, with the failing call named.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "onemoe/onemoe.h"

namespace onemoe::baselines {

inline Result cuda_result(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Result::success();
  return Result::error(Status::kErrorCuda,
                       std::string(what) + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

inline Result cublas_result(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return Result::success();
  // A type/compute combination cuBLAS does not offer is a "not supported", not a runtime failure.
  const Status status = st == CUBLAS_STATUS_NOT_SUPPORTED ? Status::kErrorNotSupported : Status::kErrorCuda;
  return Result::error(status,
                       std::string(what) + ": " + cublasGetStatusName(st) + " (" + cublasGetStatusString(st) + ")");
}

}  // namespace onemoe::baselines

// Evaluates an expression returning Result and returns it from the enclosing function on failure.
#define ONEMOE_BASE_TRY(expr)                      \
  do {                                             \
    ::onemoe::Result onemoe_try_r_ = (expr);       \
    if (!onemoe_try_r_.ok()) return onemoe_try_r_; \
  } while (0)
#define ONEMOE_BASE_CUDA(call) ONEMOE_BASE_TRY(::onemoe::baselines::cuda_result((call), #call))
#define ONEMOE_BASE_CUBLAS(call) ONEMOE_BASE_TRY(::onemoe::baselines::cublas_result((call), #call))
