#include "launchprof/analyze/trace_reader.h"

#include "launchprof/analyze/event_decoder.h"
#include "launchprof/analyze/event_splitter.h"
#include "launchprof/analyze/json_fault.h"

namespace launchprof {
namespace {

// The splitter notices some faults late: an unclosed string or brace only at the end of the file, a missing brace
// at the next bracket. When an element was open, the first byte where it stops being JSON is the fault.
Status locate_fault(const EventSplitter& splitter, Status s) {
  const char* data = nullptr;
  size_t size = 0;
  uint64_t offset = 0;
  if (s.ok() || !splitter.open_element(&data, &size, &offset)) return s;
  std::string what;
  size_t at = find_json_fault(data, size, false, &what);
  const std::string element = "the traceEvents element that starts at byte " + std::to_string(offset);
  if (at == kNoJsonFault) return s;
  if (at >= size) {
    s.message += " (" + element + " is incomplete)";
    return s;
  }
  return Status::Error(StatusCode::kMalformed,
                       "malformed JSON at byte " + std::to_string(offset + at) + ": " + what + " (in " + element + ")");
}

}  // namespace

Status read_trace_source(ByteSource& source, TraceData* out, const ReadOptions& options) {
  EventDecoder decoder(out);
  EventSplitter* self = nullptr;
  EventSplitter splitter(
      [&decoder, &self](const char* data, size_t size, size_t count) {
        return decoder.decode_batch(data, size, count, self->batch_offset());
      },
      options.block_scan);
  self = &splitter;
  const size_t chunk = options.chunk_bytes > 0 ? options.chunk_bytes : 1;
  while (true) {
    char* area = splitter.write_area(chunk);
    size_t got = 0;
    Status s = source.read(area, chunk, &got);
    if (!s.ok()) return s;
    if (got == 0) break;
    s = splitter.commit(got);
    if (!s.ok()) return locate_fault(splitter, s);
  }
  out->counts.input_bytes = splitter.bytes_seen();
  out->counts.stored_bytes = source.stored_bytes();
  Status s = splitter.finish();
  if (!s.ok()) return locate_fault(splitter, s);
  out->gpu_name = device_name_from_properties(splitter.device_properties());
  return Status::Ok();
}

Status read_trace_file(const std::string& path, TraceData* out, const ReadOptions& options) {
  std::unique_ptr<ByteSource> source;
  Status s = open_byte_source(path, &source);
  if (!s.ok()) return s;
  s = read_trace_source(*source, out, options);
  if (!s.ok() && s.message.rfind(path, 0) != 0) s.message = path + ": " + s.message;
  return s;
}

Status read_trace_memory(const char* data, size_t size, TraceData* out, const ReadOptions& options) {
  auto source = make_memory_source(data, size);
  return read_trace_source(*source, out, options);
}

}  // namespace launchprof
