#include "launchprof/analyze/trace_reader.h"

#include "launchprof/analyze/event_decoder.h"
#include "launchprof/analyze/event_splitter.h"

namespace launchprof {

Status read_trace_source(ByteSource& source, TraceData* out, const ReadOptions& options) {
  EventDecoder decoder(out);
  EventSplitter splitter(
      [&decoder](const char* data, size_t size, size_t count) { return decoder.decode_batch(data, size, count); },
      options.block_scan);
  const size_t chunk = options.chunk_bytes > 0 ? options.chunk_bytes : 1;
  while (true) {
    char* area = splitter.write_area(chunk);
    size_t got = 0;
    Status s = source.read(area, chunk, &got);
    if (!s.ok()) return s;
    if (got == 0) break;
    s = splitter.commit(got);
    if (!s.ok()) return s;
  }
  out->counts.input_bytes = splitter.bytes_seen();
  out->counts.stored_bytes = source.stored_bytes();
  Status s = splitter.finish();
  if (!s.ok()) return s;
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
