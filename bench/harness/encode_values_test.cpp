// Host-only check of the harness's input encoding: values already rounded to a dtype must encode exactly, in
// every chunk of the parallel encoder, the last partial one included.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "harness/moe_problem.h"
#include "reference/compare.h"

namespace onemoe::harness {
namespace {

TEST(EncodeValues, RoundedValuesRoundTripExactlyInEveryChunk) {
  const size_t n = (size_t(1) << 21) + 37;  // two full chunks of the encoder and a partial one
  const struct {
    DType dtype;
    reference::CheckDType check;
    size_t bytes;
  } cases[] = {{DType::kBF16, reference::CheckDType::kBF16, 2},
               {DType::kFP16, reference::CheckDType::kFP16, 2},
               {DType::kFP32, reference::CheckDType::kFP32, 4}};
  for (const auto& c : cases) {
    std::vector<double> v(n);
    reference::fill_uniform(v, 11, -3.0, 3.0);
    reference::round_all(c.check, v);
    const std::vector<uint8_t> bytes = encode_values(c.dtype, v.data(), n);
    ASSERT_EQ(bytes.size(), n * c.bytes);
    size_t wrong = 0, first_wrong = n;
    for (size_t i = 0; i < n; ++i) {
      if (double(decode_value(c.dtype, bytes.data() + i * c.bytes)) != v[i]) {
        ++wrong;
        if (first_wrong == n) first_wrong = i;
      }
    }
    EXPECT_EQ(wrong, 0u) << "dtype " << int(c.dtype) << ", first wrong value at " << first_wrong;
  }
}

TEST(EncodeValues, RoundsToNearest) {
  // 1 + 2^-8 lies halfway between two bf16 values (8 significant bits): nearest-even gives 1; a bit above
  // rounds up.
  const double v[] = {1.0 + 0x1.0p-8, 1.0 + 0x1.0p-8 + 0x1.0p-12};
  const std::vector<uint8_t> bytes = encode_values(DType::kBF16, v, 2);
  EXPECT_EQ(decode_value(DType::kBF16, bytes.data()), 1.0f);
  EXPECT_EQ(decode_value(DType::kBF16, bytes.data() + 2), 1.0f + 0x1.0p-7f);
}

}  // namespace
}  // namespace onemoe::harness
