// Formatting for the text tables: times in an auto-scaled unit, undefined values as '-', and kernel names
// shortened so that different kernels keep different names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace launchprof {

// "850 ns", "9.712 us", "1.560 ms", "18.97 s": the unit that puts the value in [1, 1000), four significant digits.
std::string format_duration_ns(double ns);
// The same, or "-" when the value is undefined.
std::string format_duration_or_dash(bool defined, double ns);
// "12.3" (printf "%.*f") or "-".
std::string format_fixed_or_dash(bool defined, double v, int digits);

// A demangled kernel name made short for a table: the return type and the parameter list are dropped, namespace
// qualifiers are removed ("at::native::foo<at::Half>" -> "foo<Half>"), and a name still longer than `width` keeps
// its head (the function name) and its tail (the template arguments that tell instances apart), with "..." between.
std::string shorten_kernel_name(const std::string& name, size_t width);

// shorten_kernel_name over a table's names, widening only those that would otherwise print the same, so that
// different names stay different (up to the full name).
std::vector<std::string> distinct_short_names(const std::vector<std::string>& names, size_t width);

}  // namespace launchprof
