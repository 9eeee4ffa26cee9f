// Writes one recorded process as Chrome-trace JSON in the form PyTorch's profiler (Kineto) writes, so that
// `launchprof analyze` reads both with the same code and Perfetto opens it:
//   traceEvents of "ph":"X" with "cat" kernel | gpu_memcpy | gpu_memset (pid = device, tid = stream),
//   cuda_runtime | cuda_driver | user_annotation (pid = process, tid = system thread id),
//   cuda_sync (pid = device, tid = stream, 0 when the sync has no stream);
//   "ts"/"dur" in microseconds relative to "baseTimeNanoseconds", printed exactly from integer nanoseconds;
//   args "correlation" joins a launch call to its GPU ops, "External id" joins both to the NVTX range around the call;
//   flow events ("ph":"s"/"f", "cat":"ac2g", "id" = correlation, "bp":"e") from each launch call to its first op.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "output_file.h"
#include "trace_link.h"
#include "trace_model.h"

namespace launchprof::record {

struct WriterOptions {
  std::string trace_name;  // written as "traceName"
  bool flows = true;
};

struct WriteResult {
  bool ok = false;
  std::string error;
  uint64_t events = 0;  // "X" events written (flows and metadata not counted)
};

WriteResult write_chrome_trace(const TraceModel& model, const LinkedTrace& linked, const TraceSummary& summary,
                               const WriterOptions& options, Sink& sink);

// Appends s as a JSON string literal (with quotes). Control characters are escaped; bytes that are not valid UTF-8
// become U+FFFD, so that strict parsers (simdjson) accept every name a program can give a kernel or a range.
void append_json_string(std::string& out, std::string_view s);

// Appends (t_ns - base_ns) / 1000 with exactly three decimals, e.g. "12.345" or "-0.007". No rounding, no clamping.
void append_relative_us(std::string& out, uint64_t t_ns, uint64_t base_ns);

}  // namespace launchprof::record
