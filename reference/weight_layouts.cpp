#include "reference/weight_layouts.h"

#include <cstdint>

namespace onemoe::reference {

SplitExperts split_interleaved_gate_up(const double* gate_up, const double* gate_up_bias, const double* down,
                                       const double* down_bias, int num_experts, int hidden, int intermediate) {
  const int64_t num_e = num_experts, h_dim = hidden, i_dim = intermediate;
  SplitExperts out;
  out.w1.resize(num_e * i_dim * h_dim);
  out.w3.resize(out.w1.size());
  out.w2.resize(num_e * h_dim * i_dim);
  out.b1.resize(num_e * i_dim);
  out.b3.resize(out.b1.size());
  out.b2.assign(down_bias, down_bias + num_e * h_dim);
  for (int64_t e = 0; e < num_e; ++e) {
    for (int64_t i = 0; i < i_dim; ++i) {
      for (int64_t h = 0; h < h_dim; ++h) {
        const double* column_pair = gate_up + (e * h_dim + h) * 2 * i_dim + 2 * i;
        out.w1[(e * i_dim + i) * h_dim + h] = column_pair[0];
        out.w3[(e * i_dim + i) * h_dim + h] = column_pair[1];
        out.w2[(e * h_dim + h) * i_dim + i] = down[(e * i_dim + i) * h_dim + h];
      }
      out.b1[e * i_dim + i] = gate_up_bias[e * 2 * i_dim + 2 * i];
      out.b3[e * i_dim + i] = gate_up_bias[e * 2 * i_dim + 2 * i + 1];
    }
  }
  return out;
}

}  // namespace onemoe::reference
