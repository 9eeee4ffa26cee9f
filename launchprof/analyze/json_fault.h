// Finds where JSON text first goes wrong. Runs only after the fast path (EventSplitter, simdjson) has rejected the
// input, so that the error names the byte of the fault rather than where the fast path noticed it (the end of the
// file for an unclosed string, or the next bracket for a missing brace).
#pragma once

#include <cstddef>
#include <string>

namespace launchprof {

constexpr size_t kNoJsonFault = static_cast<size_t>(-1);

// `data` holds JSON values separated by single commas (one value when `sequence` is false). Returns the offset of
// the first byte that cannot continue valid JSON and says why in `what`; returns `size` when the text is valid up
// to its end but incomplete, and kNoJsonFault when it is complete and valid.
size_t find_json_fault(const char* data, size_t size, bool sequence, std::string* what);

}  // namespace launchprof
