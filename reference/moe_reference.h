// onemoe::reference: an independent fp64 CPU model of the MoE forward, the ground truth for tests and the bench.
//
// It shares no code and no header with the kernel (no CUDA, no include/onemoe): a bug in the kernel's reading of
// the spec cannot leak into the reference. Everything below is accumulated in double. docs/reference_modes.md
// states every mode's formula; this comment is the summary.
//
// Layouts (row-major, innermost dimension last; weights "K-major" like torch.nn.Linear.weight):
//   x [T,H]   w_router [E,H]   b_router [E]   score_bias [E]   out [T,H]
//   routed experts:  w1 [E,I,H]   w3 [E,I,H] (gated only)   w2 [E,H,I]   b1 [E,I]   b3 [E,I]   b2 [E,H]
//   shared experts:  shared_w1 [S,Is,H]   shared_w3 [S,Is,H] (gated only)   shared_w2 [S,H,Is]   shared_gate [S,H]
// w1 is the gate projection and w3 the up projection, as two separate tensors: a checkpoint that interleaves them
// (gpt-oss) is converted by reference/weight_layouts.h.
//
// Semantics of one forward:
//   logits[t,e] = x[t]·w_router[e] (+ b_router[e])
//   routing (RefRouting), per token; the selection breaks equal keys by the lower expert (or group) id:
//     kTopK:        s = softmax(logits) (kSoftmax) or sigmoid(logits) (kSigmoid); the k largest s;
//                   weights = s (/ their sum when renormalize)
//     kTopKSoftmax: the k largest logits; weights = softmax over those k logits (Mixtral, gpt-oss)
//     kGroupedTopK: s = scoring(logits); b = s + score_bias; a group's score = the sum of its group_score_topk
//                   largest b; the topk_groups best groups; the k largest b among their experts;
//                   weights = s of those experts (/ their sum when renormalize) (DeepSeek-V2/V3, Kimi-K2)
//     kPreRouted:   the caller's topk_ids and topk_weights (RefPreRouted), taken as given
//   every mode but kPreRouted then multiplies the weights by routed_scaling_factor
//   the k selections of a token are then kept in ascending expert id: this is the combine order
//   capacity    = expert_capacity(capacity_factor, T, k, E) rows per expert (dropless when capacity_factor <= 0).
//                 Tokens are walked in order t = 0..T-1 and, within a token, in ascending expert id; each (t,e)
//                 takes the next row of expert e. Rows at or past the capacity are dropped: weight reported as 0,
//                 contribution 0, and the token's other weights are NOT renormalized.
//   u = v·w1[e]ᵀ (+ b1[e]),  p = v·w3[e]ᵀ (+ b3[e])
//   y_e(v)      = act(u)·w2[e]ᵀ (+ b2[e])                   (plain)
//               = glu(u, p)·w2[e]ᵀ (+ b2[e])                (gated; glu = act(u)·p, or the clamped SwiGLU:
//                 u' = min(u, limit), p' = clamp(p, -limit, limit), glu = u'·sigmoid(alpha·u')·(p' + 1))
//   fp8 (quant = kFP8E4M3): v and the GEMM2 input glu/act are quantized per token in 128-channel groups
//                 (quantize_row_e4m3 in reference/fp8.h) before their GEMMs; weights are given dequantized.
//   shared expert s: y_s(v) as above with shared_w*, no biases; gate g_s = sigmoid(x[t]·shared_gate[s]) or 1
//   out[t]      = Σ over kept selections, in ascending expert id, weight · y_e(x[t]),
//                 then + Σ over s = 0..S-1 in order, g_s · y_s(x[t])
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace onemoe::reference {

enum class RefScoring { kSoftmax, kSigmoid };
enum class RefRouting { kTopK, kTopKSoftmax, kGroupedTopK, kPreRouted };
// kClampedSwiGLU is gpt-oss's gated unit (gated only; swiglu_alpha, swiglu_limit).
enum class RefActivation { kReLU, kGELU /* exact: 0.5·v·(1 + erf(v/√2)) */, kSiLU, kClampedSwiGLU };
// kFP8E4M3: e4m3 weights with 128x128 blocked scales (given dequantized) and per-token activation quantization.
enum class RefQuant { kNone, kFP8E4M3 };

struct RefConfig {
  int num_experts = 0;                        // E
  int top_k = 0;                              // k
  int hidden = 0;                             // H
  int intermediate = 0;                       // I
  RefScoring scoring = RefScoring::kSoftmax;  // kTopK and kGroupedTopK; not read by the other modes
  bool renormalize = true;                    // kTopK and kGroupedTopK (norm_topk_prob); not read by the others
  RefActivation activation = RefActivation::kGELU;
  bool gated = false;
  double capacity_factor = 0.0;  // <= 0: dropless

  RefRouting routing = RefRouting::kTopK;
  // kGroupedTopK: the E experts form num_groups groups of E/num_groups consecutive ids (n_group); topk_groups of
  // them are chosen (topk_group), each group scored by the sum of its group_score_topk best biased scores
  // (DeepSeek-V3: 2; DeepSeek-V2's group maximum: 1).
  int num_groups = 1;
  int topk_groups = 1;
  int group_score_topk = 2;
  double routed_scaling_factor = 1.0;  // every mode but kPreRouted; finite

  int num_shared_experts = 0;       // S: experts every token passes through, after the routed ones
  int shared_intermediate = 0;      // Is: their intermediate size (>= 1 when S > 0)
  bool shared_expert_gate = false;  // scale shared expert s by sigmoid(x·shared_gate[s]) (Qwen2-MoE)

  bool expert_bias = false;     // routed experts carry b1, b2 (and b3 when gated)
  double swiglu_alpha = 1.702;  // kClampedSwiGLU only; finite
  double swiglu_limit = 7.0;    // kClampedSwiGLU only; > 0 (+inf: no clamp)

  RefQuant quant = RefQuant::kNone;  // kFP8E4M3 needs H, I and Is multiples of 128
};

struct RefWeights {
  const double* w_router = nullptr;     // [E,H]; not read (may be null) under kPreRouted
  const double* w1 = nullptr;           // [E,I,H]
  const double* w3 = nullptr;           // [E,I,H], gated only; must be null for the plain FFN
  const double* w2 = nullptr;           // [E,H,I]
  const double* b_router = nullptr;     // [E], optional: added to the logits (gpt-oss's router bias)
  const double* score_bias = nullptr;   // [E], optional, kGroupedTopK only: e_score_correction_bias (selection only)
  const double* b1 = nullptr;           // [E,I], expert_bias only
  const double* b3 = nullptr;           // [E,I], expert_bias and gated only
  const double* b2 = nullptr;           // [E,H], expert_bias only
  const double* shared_w1 = nullptr;    // [S,Is,H]
  const double* shared_w3 = nullptr;    // [S,Is,H], gated only
  const double* shared_w2 = nullptr;    // [S,H,Is]
  const double* shared_gate = nullptr;  // [S,H], shared_expert_gate only
};

// kPreRouted's input: each token's k expert ids, in any order, and the weights aligned with them.
// Ids must lie in [0, E) and differ within a token; weights must be finite.
struct RefPreRouted {
  const int32_t* topk_ids = nullptr;     // [T,k]
  const double* topk_weights = nullptr;  // [T,k]
};

struct RefOutput {
  std::vector<double> out;           // [T,H]
  std::vector<int32_t> topk_ids;     // [T,k], ascending expert id within a token
  std::vector<double> topk_weights;  // [T,k], aligned with topk_ids; 0 for a dropped slot
  std::vector<uint8_t> dropped;      // [T,k], 1 where the slot fell past its expert's capacity
  // [T]: how close the token's selection is to changing, in the units of the key the mode selects by:
  // kTopK the k-th minus the (k+1)-th best score; kTopKSoftmax the same on logits; kGroupedTopK the smaller of the
  // group gap (topk_groups-th minus next group score) and the expert gap among the chosen groups' biased scores;
  // +inf where no next one exists, and always under kPreRouted.
  std::vector<double> topk_margin;
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
// As above, with the routing given by the caller (config.routing must be kPreRouted). A bad id or weight is an
// error naming the token and slot.
RefOutput moe_forward(const double* x, int64_t num_tokens, const RefWeights& weights, const RefConfig& config,
                      const RefPreRouted& pre_routed);

// Model of the expert-parallel kernel over R ranks. By definition it is moe_forward on the concatenation of all
// ranks' tokens in rank order (rank 0's tokens first), so the capacity uses the TOTAL token count and dropping
// follows the global token order. The result is split back per rank: element r holds rank r's rows of out,
// topk_ids, topk_weights, dropped and topk_margin, and expert_counts counts the kept rows that came from rank
// r's tokens (their sum over ranks is the global count). On invalid input every element carries the error
// (one element when no rank is given).
std::vector<RefOutput> moe_forward_ranks(const std::vector<const double*>& x_per_rank,
                                         const std::vector<int64_t>& tokens_per_rank, const RefWeights& weights,
                                         const RefConfig& config);
// As above under kPreRouted: element r of pre_routed_per_rank routes rank r's tokens.
std::vector<RefOutput> moe_forward_ranks(const std::vector<const double*>& x_per_rank,
                                         const std::vector<int64_t>& tokens_per_rank, const RefWeights& weights,
                                         const RefConfig& config, const std::vector<RefPreRouted>& pre_routed_per_rank);

}  // namespace onemoe::reference
