// Reads a Chrome-trace / Kineto JSON file (plain or gzip) into the compact event model, streaming:
// bytes flow chunk by chunk through EventSplitter into EventDecoder, so memory stays proportional to the
// number of kernel-related events, not to the file size.
#pragma once

#include <cstddef>
#include <string>

#include "launchprof/analyze/byte_source.h"
#include "launchprof/analyze/event_model.h"
#include "launchprof/analyze/status.h"

namespace launchprof {

struct ReadOptions {
  size_t chunk_bytes = 8u << 20;  // large enough to amortise per-batch parser set-up
  bool block_scan = true;         // false: byte-wise scanning only (for differential tests and fuzzing)
};

Status read_trace_source(ByteSource& source, TraceData* out, const ReadOptions& options = {});
Status read_trace_file(const std::string& path, TraceData* out, const ReadOptions& options = {});
Status read_trace_memory(const char* data, size_t size, TraceData* out, const ReadOptions& options = {});

}  // namespace launchprof
