// Decodes batches of Chrome-trace event objects (Kineto categories) into the compact event model,
// with the simdjson on-demand API: fields are read in document order and never built into a DOM.
#pragma once

#include <cstddef>
#include <vector>

#include <simdjson.h>

#include "launchprof/analyze/event_model.h"
#include "launchprof/analyze/status.h"

namespace launchprof {

class EventDecoder {
 public:
  explicit EventDecoder(TraceData* out) : out_(out) {}
  // `data` holds complete event objects separated by commas (as EventSplitter hands them over).
  // `offset`: the absolute byte offset of `data` in the trace, for error messages.
  Status decode_batch(const char* data, size_t size, size_t num_elements, uint64_t offset = 0);

 private:
  Status decode_event(simdjson::ondemand::object obj);
  // Rewrites a decode error to name the byte of the fault, found by json_fault on the batch's text.
  Status locate(Status s, const char* data, size_t size, uint64_t offset) const;
  bool to_offset(int64_t* ts);  // absolute ns -> offset from the trace's time base; false if out of range

  TraceData* out_;
  simdjson::ondemand::parser parser_;
  std::vector<char> padded_;
  static constexpr uint8_t kUnclassified = 0xff;
  std::vector<uint8_t> api_kind_by_name_;  // ApiKind cache indexed by name id: classify each name once
  uint64_t decoded_ = 0;
};

// Extracts the first device name from a Kineto "deviceProperties" array ("" if none).
std::string device_name_from_properties(const std::string& json);

}  // namespace launchprof
