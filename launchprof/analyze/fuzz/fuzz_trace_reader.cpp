// libFuzzer target for the trace reader and the analysis. Besides crashes and sanitizer reports it checks that
// the block scanner and the byte-wise scanner, at different chunk sizes, accept the same inputs and read the same
// events: a disagreement aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "launchprof/analyze/analysis.h"
#include "launchprof/analyze/trace_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace launchprof;
  const char* text = reinterpret_cast<const char*>(data);
  ReadOptions block;
  block.chunk_bytes = 1 + size % 211;  // vary where chunks cut the input
  ReadOptions bytewise;
  bytewise.block_scan = false;
  bytewise.chunk_bytes = 4096;

  TraceData a, b;
  Status sa = read_trace_memory(text, size, &a, block);
  Status sb = read_trace_memory(text, size, &b, bytewise);
  if (sa.ok() != sb.ok()) std::abort();
  if (!sa.ok()) return 0;
  if (a.counts.events != b.counts.events || a.kernels.size() != b.kernels.size() || a.apis.size() != b.apis.size())
    std::abort();
  AnalyzeOptions options;
  options.per_kernel = true;
  TraceAnalysis result = analyze_trace(a, options);
  if (result.all.kernels != a.kernels.size()) std::abort();
  return 0;
}
