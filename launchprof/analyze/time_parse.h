// Exact conversion of Chrome-trace microsecond numbers ("ts": 1700000000123.456) to integer nanoseconds.
// Parsing the decimal text avoids the rounding a double would add to 13-digit timestamps.
#pragma once

#include <cstdint>
#include <string_view>

namespace launchprof {

// Accepts a JSON number token (optionally quoted, optionally followed by spaces). Digits past the
// third decimal round half away from zero. Returns false if the token is not a number or is out of range.
bool parse_us_to_ns(std::string_view token, int64_t* ns);

}  // namespace launchprof
