// onemoe::reference: an independent fp64 CPU model of the MoE forward, the ground truth for tests and the bench.
//
// It shares no code and no header with the kernel (no CUDA, no include/onemoe): a bug in the kernel's reading of
// the spec cannot leak into the reference. Everything below is accumulated in double.
//
// Layouts (row-major, innermost dimension last; weights "K-major" like torch.nn.Linear.weight):
//   x [T,H]   w_router [E,H]   w1 [E,I,H]   w3 [E,I,H] (gated only)   w2 [E,H,I]   out [T,H]
//
// Semantics of one forward:
//   logits[t,e] = x[t]·w_router[e]
//   scores      = softmax(logits[t]) over e  (kSoftmax)   or   sigmoid(logits[t,e])  (kSigmoid)
//   selection   = the k largest scores; equal scores are broken by the lower expert id
//   weights     = selected scores / their sum (renormalize) or the raw selected scores
//   the k selections of a token are then kept in ascending expert id: this is the combine order
//   capacity    = expert_capacity(capacity_factor, T, k, E) rows per expert (dropless when capacity_factor <= 0).
//                 Tokens are walked in order t = 0..T-1 and, within a token, in ascending expert id; each (t,e)
//                 takes the next row of expert e. Rows at or past the capacity are dropped: weight reported as 0,
//                 contribution 0, and the token's other weights are NOT renormalized.
//   y_e(v)      = act(v·w1[e]ᵀ)·w2[e]ᵀ                      (plain)
//               = (act(v·w1[e]ᵀ) ⊙ (v·w3[e]ᵀ))·w2[e]ᵀ       (gated)
//   out[t]      = Σ over kept selections, in ascending expert id, weight · y_e(x[t])
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace onemoe::reference {

enum class RefScoring { kSoftmax, kSigmoid };
enum class RefActivation { kReLU, kGELU /* exact: 0.5·v·(1 + erf(v/√2)) */, kSiLU };

struct RefConfig {
  int num_experts = 0;   // E
  int top_k = 0;         // k
  int hidden = 0;        // H
  int intermediate = 0;  // I
  RefScoring scoring = RefScoring::kSoftmax;
  bool renormalize = true;
  RefActivation activation = RefActivation::kGELU;
  bool gated = false;
  double capacity_factor = 0.0;  // <= 0: dropless
};

struct RefWeights {
  const double* w_router = nullptr;  // [E,H]
  const double* w1 = nullptr;        // [E,I,H]
  const double* w3 = nullptr;        // [E,I,H], gated only; must be null for the plain FFN
  const double* w2 = nullptr;        // [E,H,I]
};

struct RefOutput {
  std::vector<double> out;             // [T,H]
  std::vector<int32_t> topk_ids;       // [T,k], ascending expert id within a token
  std::vector<double> topk_weights;    // [T,k], aligned with topk_ids; 0 for a dropped slot
  std::vector<uint8_t> dropped;        // [T,k], 1 where the slot fell past its expert's capacity
  std::vector<double> topk_margin;     // [T]: k-th best score minus (k+1)-th best score; +inf when k == E
  std::vector<int64_t> expert_counts;  // [E]: rows kept per expert
  std::string error;                   // empty on success; otherwise why nothing was computed

  bool ok() const { return error.empty(); }
};

// Rows each expert may keep: ceil(capacity_factor * (T*k) / E) evaluated in double, in that order.
// Returns -1 (no limit) when capacity_factor <= 0.
int64_t expert_capacity(double capacity_factor, int64_t num_tokens, int top_k, int num_experts);

// Why (config, weights, T) is not a valid forward, or "" when it is. Does not look at x.
std::string validate(const RefConfig& config, const RefWeights& weights, int64_t num_tokens);

// The forward of one MoE layer on T tokens. On invalid input the result has only `error` set.
// A non-finite router logit is reported as an error too (top-k would be meaningless).
RefOutput moe_forward(const double* x, int64_t num_tokens, const RefWeights& weights, const RefConfig& config);

// Model of the expert-parallel kernel over R ranks. By definition it is moe_forward on the concatenation of all
// ranks' tokens in rank order (rank 0's tokens first), so the capacity uses the TOTAL token count and dropping
// follows the global token order. The result is split back per rank: element r holds rank r's rows of out,
// topk_ids, topk_weights, dropped and topk_margin, and expert_counts counts the kept rows that came from rank
// r's tokens (their sum over ranks is the global count). On invalid input every element carries the error
// (one element when no rank is given).
std::vector<RefOutput> moe_forward_ranks(const std::vector<const double*>& x_per_rank,
                                         const std::vector<int64_t>& tokens_per_rank, const RefWeights& weights,
                                         const RefConfig& config);

}  // namespace onemoe::reference
