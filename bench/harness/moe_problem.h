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
  int64_t near_tie_checked_on_device_routing = 0;  // near-tie tokens checked against the device's own routing
  int64_t routing_mismatches = 0;
  reference::CompareResult output;
  std::string summary() const;
};

// The inputs of a random problem in fp64, each value already rounded to what the dtype stores, so the device
// and the reference see the same numbers. Drawn from seed; the same (shape, config, seed) gives the same values
// on every machine and rank.
struct HostInputs {
  std::vector<double> x;         // [T, H]
  std::vector<double> w_router;  // [E, H]
  std::vector<double> w1, w3;    // [E, I, H]; w3 empty unless gated
  std::vector<double> w2;        // [E, H, I]
};
HostInputs make_inputs(const MoeShape& shape, const MoeConfig& config, uint64_t seed);

// n values as the dtype's bytes (round to nearest), and one element back to float.
std::vector<uint8_t> encode_values(DType dtype, const double* values, size_t n);
float decode_value(DType dtype, const uint8_t* bytes);

// Checks output rows against the fp64 reference of the problem `inputs` (shape.num_tokens tokens). tokens[i]
// is the token (row of inputs.x) whose output is got_rows[i*H..]; got_ids ([n, k], may be null: no routing
// check). Dropless: the reference runs on those tokens only; with a capacity it runs on all tokens.
// Tokens whose routing is a near tie may route differently and still be right. With got_weights ([n, k], the
// device's routing weights) and no capacity, their output is checked against the reference evaluated on the
// device's own routing (so no token goes unchecked); otherwise it is skipped.
Result check_token_rows(const HostInputs& inputs, const MoeShape& shape, const MoeConfig& config,
                        const std::vector<int64_t>& tokens, const float* got_rows, const int32_t* got_ids,
                        CheckReport* report, const float* got_weights = nullptr);

// max_check_tokens evenly spaced tokens of [0, num_tokens) (all when max_check_tokens <= 0 or >= num_tokens).
std::vector<int64_t> evenly_spaced_tokens(int64_t num_tokens, int64_t max_check_tokens);

class DeviceProblem {
 public:
  // Draws fresh inputs from seed (values rounded to the dtype so GPU and reference see the same numbers)
  // and uploads them. Reference results are computed lazily.
  static Result create(const MoeShape& shape, const MoeConfig& config, uint64_t seed,
                       std::unique_ptr<DeviceProblem>* out);
  ~DeviceProblem();

  const MoeShape& shape() const { return shape_; }
  const MoeConfig& config() const { return config_; }
  const HostInputs& inputs() const { return in_; }  // the values the device holds, in fp64
  // Arguments for onemoe (or a baseline) writing into this problem's output buffers.
  RunArgs run_args() const;

  // Fills the output and routing buffers with NaN bytes so an unwritten element cannot pass.
  Result poison_outputs(cudaStream_t stream);
  // Sets every element of token `token`'s input row to NaN (for the NaN-propagation test).
  Result set_token_nan(int64_t token);
  // Draws new activations from seed into the same device buffer (CUDA-graph replays read the same pointers).
  Result redraw_x(uint64_t seed);
  // Sets one element of expert `expert`'s w1 (row 0, column 0) to `value` (NaN or Inf in the weights).
  Result set_w1_element(int expert, double value);
  // Makes expert `to`'s router row a copy of expert `from`'s, so the two tie on every token (the tie-break test).
  Result copy_router_row(int from, int to);
  Result download_output(std::vector<float>* out) const;
  Result download_output_bytes(std::vector<uint8_t>* out) const;
  Result download_topk_ids(std::vector<int32_t>* out) const;
  Result download_topk_weights(std::vector<float>* out) const;

  // Checks the device output against the reference. With max_check_tokens > 0 and a dropless config, only
  // an evenly spaced subset of tokens is checked (each token's output is independent of the others then).
  Result check(int64_t max_check_tokens, CheckReport* report);

 private:
  DeviceProblem() = default;
  MoeShape shape_;
  MoeConfig config_;
  HostInputs in_;
  void *d_x_ = nullptr, *d_w_router_ = nullptr, *d_w1_ = nullptr, *d_w3_ = nullptr, *d_w2_ = nullptr;
  void* d_out_ = nullptr;
  int32_t* d_topk_ids_ = nullptr;
  float* d_topk_weights_ = nullptr;
};

}  // namespace onemoe::harness
