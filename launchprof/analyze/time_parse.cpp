#include "launchprof/analyze/time_parse.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace launchprof {
namespace {

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Exponent forms are rare in traces; strtod handles them, with double precision.
bool parse_slow(std::string_view token, int64_t* ns) {
  std::string copy(token);
  char* end = nullptr;
  double us = std::strtod(copy.c_str(), &end);
  if (end == copy.c_str() || !std::isfinite(us)) return false;
  double v = std::round(us * 1000.0);
  if (std::fabs(v) > 9.0e18) return false;
  *ns = static_cast<int64_t>(v);
  return true;
}

}  // namespace

bool parse_us_to_ns(std::string_view t, int64_t* ns) {
  size_t i = 0;
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  bool quoted = i < t.size() && t[i] == '"';
  if (quoted) ++i;
  size_t start = i;
  bool negative = i < t.size() && t[i] == '-';
  if (negative) ++i;
  uint64_t int_part = 0;
  int int_digits = 0;
  while (i < t.size() && is_digit(t[i])) {
    // 16 digits of microseconds (an epoch timestamp, 1.7e15 us) still fit int64 nanoseconds; the double of the slow
    // path would round them to 256 ns.
    if (int_digits == 16) return parse_slow(t.substr(start), ns);
    int_part = int_part * 10 + static_cast<uint64_t>(t[i] - '0');
    ++int_digits;
    ++i;
  }
  if (int_digits == 0) return false;
  uint64_t frac_ns = 0;
  int frac_digits = 0;
  bool round_up = false;
  if (i < t.size() && t[i] == '.') {
    ++i;
    int seen = 0;
    while (i < t.size() && is_digit(t[i])) {
      if (seen < 3) {
        frac_ns = frac_ns * 10 + static_cast<uint64_t>(t[i] - '0');
        ++frac_digits;
      } else if (seen == 3) {
        round_up = t[i] >= '5';
      }
      ++seen;
      ++i;
    }
    if (seen == 0) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) return parse_slow(t.substr(start), ns);
  if (quoted && (i >= t.size() || t[i] != '"')) return false;
  for (; frac_digits < 3; ++frac_digits) frac_ns *= 10;
  if (int_part > (static_cast<uint64_t>(INT64_MAX) - 1000) / 1000) return parse_slow(t.substr(start), ns);
  int64_t v = static_cast<int64_t>(int_part * 1000 + frac_ns + (round_up ? 1 : 0));
  *ns = negative ? -v : v;
  return true;
}

}  // namespace launchprof
