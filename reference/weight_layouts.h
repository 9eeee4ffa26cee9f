// Converting checkpoint layouts into the reference's: K-major weights, with gate and up as separate tensors.
#pragma once

#include <vector>

namespace onemoe::reference {

// The routed experts' tensors in the reference's layout (moe_reference.h).
struct SplitExperts {
  std::vector<double> w1, w3, w2;  // [E,I,H], [E,I,H], [E,H,I]
  std::vector<double> b1, b3, b2;  // [E,I], [E,I], [E,H]
};

// From gpt-oss's layout (transformers' GptOssExperts), which multiplies x·W rather than x·Wᵀ and interleaves gate
// and up along its last axis:
//   gate_up [E,H,2I]: column 2i is gate channel i, column 2i+1 is up channel i;   gate_up_bias [E,2I] likewise
//   down    [E,I,H];                                                             down_bias    [E,H]
// Gives w1[e][i][h] = gate_up[e][h][2i], w3[e][i][h] = gate_up[e][h][2i+1], b1[e][i] = gate_up_bias[e][2i],
// b3[e][i] = gate_up_bias[e][2i+1], w2[e][h][i] = down[e][i][h], b2 = down_bias.
SplitExperts split_interleaved_gate_up(const double* gate_up, const double* gate_up_bias, const double* down,
                                       const double* down_bias, int num_experts, int hidden, int intermediate);

}  // namespace onemoe::reference
