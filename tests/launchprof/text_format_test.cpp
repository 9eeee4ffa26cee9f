// The text tables' formatting: auto-scaled durations, '-' for undefined values, and kernel names that stay apart.
#include <gtest/gtest.h>

#include <set>

#include "launchprof/analyze/text_format.h"

namespace launchprof {
namespace {

TEST(TextFormat, DurationsPickTheirUnit) {
  EXPECT_EQ(format_duration_ns(850), "850 ns");
  EXPECT_EQ(format_duration_ns(9712), "9.712 us");
  EXPECT_EQ(format_duration_ns(1560000), "1.560 ms");
  EXPECT_EQ(format_duration_ns(101.24e6), "101.2 ms");
  EXPECT_EQ(format_duration_ns(18.97e9), "18.97 s");
  EXPECT_EQ(format_duration_ns(-20000), "-20.00 us");
  // TKLQT of 10^10 us no longer overflows a column: 10^7 s still fits in 10 characters.
  EXPECT_LE(format_duration_ns(1e16).size(), 10u);
  EXPECT_EQ(format_duration_or_dash(false, 5), "-");
  EXPECT_EQ(format_fixed_or_dash(false, 0.0, 3), "-");
  EXPECT_EQ(format_fixed_or_dash(true, 12.345, 1), "12.3");
}

TEST(TextFormat, KernelNamesLoseTheNoiseNotTheDifference) {
  const std::string fill =
      "void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>, "
      "at::detail::Array<char*, 1> >(int, at::native::FillFunctor<float>, at::detail::Array<char*, 1>)";
  EXPECT_EQ(shorten_kernel_name(fill, 200), "vectorized_elementwise_kernel<4, FillFunctor<float>, Array<char*, 1>>");
  // Cut to 48 characters, the head (the function) and the tail (what tells instances apart) stay.
  std::string cut = shorten_kernel_name(fill, 48);
  EXPECT_EQ(cut.size(), 48u);
  EXPECT_EQ(cut.rfind("vectorized_elementwise_kernel", 0), 0u);
  EXPECT_NE(cut.find("Array<char*, 1>>"), std::string::npos) << cut;
  EXPECT_EQ(shorten_kernel_name("void at::native::(anonymous namespace)::rms_norm_kernel<c10::BFloat16, float>(long)",
                                200),
            "rms_norm_kernel<BFloat16, float>");
  EXPECT_EQ(shorten_kernel_name("nvjet_sm90_tst_128x64_64x8_1x2_h_bz_TNT", 200),
            "nvjet_sm90_tst_128x64_64x8_1x2_h_bz_TNT");
}

TEST(TextFormat, DistinctNamesStayDistinct) {
  // Three names that the old table cut to the same 40-character prefix.
  const std::string head = "void at::native::vectorized_elementwise_kernel<4, at::native::";
  std::vector<std::string> names = {
      head + "FillFunctor<float>, at::detail::Array<char*, 1> >(int)",
      head + "CUDAFunctor_add<c10::BFloat16>, at::detail::Array<char*, 3> >(int)",
      head + "BinaryFunctor<float, float, float, at::native::MulFunctor<float> >, at::detail::Array<char*, 3> >(int)",
      // Differ only in a namespace: stripping merges them, so they keep their own text.
      "void a::k<int>(int)", "void b::k<int>(int)"};
  std::vector<std::string> shown = distinct_short_names(names, 40);
  ASSERT_EQ(shown.size(), names.size());
  EXPECT_EQ(std::set<std::string>(shown.begin(), shown.end()).size(), names.size());
  // Only the names that collide at 40 characters (the two ending in "Array<char*, 3>>") are widened.
  EXPECT_LE(shown[0].size(), 40u) << shown[0];
  EXPECT_GT(shown[1].size(), 40u) << shown[1];
  EXPECT_NE(shown[1], shown[2]);
  // The same name twice prints the same.
  std::vector<std::string> twice = distinct_short_names({names[0], names[0]}, 40);
  EXPECT_EQ(twice[0], twice[1]);
}

}  // namespace
}  // namespace launchprof
