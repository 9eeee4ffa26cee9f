// Splits a Chrome-trace JSON stream into batches of complete traceEvents elements, chunk by chunk.
//
// The root may be an object with a "traceEvents" array (Kineto, Perfetto) or a bare array of events.
// A byte-wise state machine checks the root-level grammar, so that a truncated or malformed file is reported with
// a byte offset. Inside the traceEvents array a block scanner takes over: 64 bytes at a time it masks quotes,
// escapes and brackets (SSE2 where available), so only brackets outside strings are visited one by one. It checks
// that only whitespace and single commas separate elements; the elements themselves are validated and parsed by
// simdjson (event_decoder).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "launchprof/analyze/status.h"

namespace launchprof {

class EventSplitter {
 public:
  // Receives "e1,e2,...,en": complete elements separated by commas and whitespace only.
  using BatchSink = std::function<Status(const char* data, size_t size, size_t num_elements)>;

  // `block_scan` = false keeps the byte-wise path everywhere (tests compare the two).
  explicit EventSplitter(BatchSink sink, bool block_scan = true) : sink_(std::move(sink)), block_scan_(block_scan) {}

  // Returns a writable area of at least `min_bytes` at the end of the internal buffer.
  char* write_area(size_t min_bytes);
  // Declares `n` bytes of write_area() filled, scans them and hands complete elements to the sink.
  Status commit(size_t n);
  // Call once after the last commit: reports truncation or a missing traceEvents array.
  Status finish();

  // Raw JSON text of the root "deviceProperties" value (empty if absent or larger than 4 MB).
  const std::string& device_properties() const { return device_properties_; }
  uint64_t num_elements() const { return num_elements_; }
  uint64_t bytes_seen() const { return base_ + filled_; }
  // While the sink runs: the absolute byte offset of the batch it was handed.
  uint64_t batch_offset() const { return batch_offset_; }
  // After an error: the traceEvents element that was still open (its bytes up to the end of the input seen so far)
  // and its absolute offset; false if none was open.
  bool open_element(const char** data, size_t* size, uint64_t* offset) const;

 private:
  enum class Phase : uint8_t {
    kBeforeRoot,
    kRootKey,         // expect a key string or '}'
    kRootColon,
    kRootValue,       // expect the value of key_
    kRootScalar,      // inside a scalar root value
    kRootNested,      // inside an object/array root value other than traceEvents
    kRootAfterValue,  // expect ',' or '}'
    kEventsValue,     // expect an element or ']'
    kInElement,
    kEventsAfter,     // expect ',' or ']'
    kAfterRoot,
  };

  Status scan(size_t block_limit);
  Status scan_blocks(size_t* idx, size_t block_limit);
  void enter_block_mode(size_t idx);
  enum class GapEnd : uint8_t { kElement, kClose, kInput };  // what ends the gap: '{', ']' or the input
  Status check_gap(size_t from, size_t to, GapEnd end) const;
  Status emit_and_compact();
  Status error(StatusCode code, const std::string& what, size_t idx) const;
  Status close_bracket(char c, size_t idx);
  void end_root_value(size_t end_idx);
  void element_done(size_t end_idx);

  BatchSink sink_;
  bool block_scan_;
  std::vector<char> buf_;  // unconsumed input; buf_[0] is absolute offset base_
  size_t filled_ = 0;      // bytes of buf_ holding data
  uint64_t base_ = 0;
  size_t pos_ = 0;         // next byte to scan
  Phase phase_ = Phase::kBeforeRoot;
  bool in_string_ = false;
  std::vector<char> stack_;  // open brackets (byte-wise path), to catch '{]' and similar
  size_t events_depth_ = 0;  // stack_ size inside the traceEvents array
  bool root_is_array_ = false;
  bool after_comma_ = false;
  bool saw_trace_events_ = false;
  bool events_done_ = false;
  bool in_key_ = false;
  size_t key_start_ = 0;
  std::string key_;
  bool capturing_ = false;  // root "deviceProperties"
  size_t capture_start_ = 0;
  size_t elem_start_ = 0;
  size_t batch_first_ = SIZE_MAX;
  size_t batch_end_ = 0;
  size_t batch_count_ = 0;
  uint64_t batch_offset_ = 0;
  uint64_t num_elements_ = 0;
  std::string device_properties_;

  // Block mode (inside the traceEvents array).
  bool block_mode_ = false;
  uint64_t block_depth_ = 0;      // nesting below the array: 0 between elements (stack_ holds the brackets)
  uint64_t in_string_carry_ = 0;  // all ones if the previous block ended inside a string
  bool escape_carry_ = false;     // the previous block ended with an escaping backslash
  size_t gap_start_ = 0;          // start of the text between the previous element (or '[') and the next
  bool gap_needs_comma_ = false;  // an element precedes the gap and its comma is still to come
  bool gap_after_comma_ = false;  // the byte-wise path consumed a comma just before the gap
};

}  // namespace launchprof
