// A random MoE problem on one GPU plus its fp64 CPU reference: the one place that makes inputs, poisons
// outputs and checks results, shared by the GPU tests and onemoe-bench.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "onemoe/onemoe.h"
#include "reference/compare.h"
#include "reference/moe_reference.h"

namespace onemoe::harness {

reference::CheckDType check_dtype(const MoeConfig& config);
reference::RefConfig reference_config(const MoeShape& shape, const MoeConfig& config);

struct CheckReport {
  bool pass = false;
  int64_t checked_tokens = 0;
  int64_t skipped_near_tie_tokens = 0;
  int64_t routing_mismatches = 0;
  reference::CompareResult output;
  std::string summary() const;
};

class DeviceProblem {
 public:
  // Draws fresh inputs from seed (values rounded to the dtype so GPU and reference see the same numbers)
  // and uploads them. Reference results are computed lazily.
  static Result create(const MoeShape& shape, const MoeConfig& config, uint64_t seed,
                       std::unique_ptr<DeviceProblem>* out);
  ~DeviceProblem();

  const MoeShape& shape() const { return shape_; }
  const MoeConfig& config() const { return config_; }
  // Arguments for onemoe (or a baseline) writing into this problem's output buffers.
  RunArgs run_args() const;

  // Fills the output and routing buffers with NaN bytes so an unwritten element cannot pass.
  Result poison_outputs(cudaStream_t stream);
  // Sets every element of token `token`'s input row to NaN (for the NaN-propagation test).
  Result set_token_nan(int64_t token);
  Result download_output(std::vector<float>* out) const;
  Result download_output_bytes(std::vector<uint8_t>* out) const;
  Result download_topk_ids(std::vector<int32_t>* out) const;

  // Checks the device output against the reference. With max_check_tokens > 0 and a dropless config, only
  // an evenly spaced subset of tokens is checked (each token's output is independent of the others then).
  Result check(int64_t max_check_tokens, CheckReport* report);

 private:
  DeviceProblem() = default;
  MoeShape shape_;
  MoeConfig config_;
  std::vector<double> x_, w_router_, w1_, w3_, w2_;
  void *d_x_ = nullptr, *d_w_router_ = nullptr, *d_w1_ = nullptr, *d_w3_ = nullptr, *d_w2_ = nullptr;
  void* d_out_ = nullptr;
  int32_t* d_topk_ids_ = nullptr;
  float* d_topk_weights_ = nullptr;
};

}  // namespace onemoe::harness
