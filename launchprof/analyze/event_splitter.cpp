#include "launchprof/analyze/event_splitter.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace launchprof {
namespace {

constexpr size_t kMaxCaptureBytes = 4u << 20;
constexpr size_t kBlockBytes = 64;

struct ByteClasses {
  bool string_stop[256] = {};  // ends a run of plain string bytes
  bool nested_stop[256] = {};  // structural bytes inside an element or skipped value
  bool space[256] = {};
  bool scalar[256] = {};  // may appear in a number, true, false or null
};

constexpr ByteClasses make_byte_classes() {
  ByteClasses t;
  t.string_stop[static_cast<unsigned char>('"')] = true;
  t.string_stop[static_cast<unsigned char>('\\')] = true;
  for (char c : {'"', '{', '}', '[', ']', '\\'}) t.nested_stop[static_cast<unsigned char>(c)] = true;
  for (char c : {' ', '\t', '\n', '\r'}) t.space[static_cast<unsigned char>(c)] = true;
  for (char c = '0'; c <= '9'; ++c) t.scalar[static_cast<unsigned char>(c)] = true;
  for (char c : {'-', '+', '.', 'e', 'E', 't', 'r', 'u', 'f', 'a', 'l', 's', 'n'})
    t.scalar[static_cast<unsigned char>(c)] = true;
  return t;
}

constexpr ByteClasses kClass = make_byte_classes();

inline unsigned char u8(char c) { return static_cast<unsigned char>(c); }

// Bit i of each mask is set when byte i of the 64-byte block is that character.
struct BlockMasks {
  uint64_t quote, backslash, open, close;
};

#if defined(__SSE2__)
inline uint64_t movemask64(const __m128i* v, __m128i target, bool fold_case) {
  // '{' and '[' (and '}' and ']') differ only in bit 0x20: OR-ing it in matches both with one compare.
  const __m128i bit = _mm_set1_epi8(0x20);
  uint64_t m = 0;
  for (int k = 0; k < 4; ++k) {
    __m128i x = fold_case ? _mm_or_si128(v[k], bit) : v[k];
    m |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, target)))) << (16 * k);
  }
  return m;
}

inline BlockMasks block_masks(const char* p) {
  __m128i v[4];
  for (int k = 0; k < 4; ++k) v[k] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
  return {movemask64(v, _mm_set1_epi8('"'), false), movemask64(v, _mm_set1_epi8('\\'), false),
          movemask64(v, _mm_set1_epi8('{'), true), movemask64(v, _mm_set1_epi8('}'), true)};
}
#else
inline BlockMasks block_masks(const char* p) {
  BlockMasks m{0, 0, 0, 0};
  for (int k = 0; k < 64; ++k) {
    uint64_t bit = uint64_t{1} << k;
    char c = p[k];
    if (c == '"') m.quote |= bit;
    if (c == '\\') m.backslash |= bit;
    if (c == '{' || c == '[') m.open |= bit;
    if (c == '}' || c == ']') m.close |= bit;
  }
  return m;
}
#endif

// Bits of the characters escaped by a backslash. Backslashes are rare in traces, so each is visited.
inline uint64_t escaped_bits(uint64_t backslash, bool* carry) {
  uint64_t escaped = 0;
  if (*carry) {
    escaped = 1;
    backslash &= ~uint64_t{1};  // an escaped backslash escapes nothing
  }
  *carry = false;
  while (backslash) {
    int p = __builtin_ctzll(backslash);
    if (p == 63) {
      *carry = true;
      break;
    }
    escaped |= uint64_t{1} << (p + 1);
    backslash &= ~(uint64_t{3} << p);
  }
  return escaped;
}

// Bit i = XOR of bits 0..i: set from an opening quote up to (not including) its closing quote.
inline uint64_t prefix_xor(uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}

}  // namespace

char* EventSplitter::write_area(size_t min_bytes) {
  size_t need = filled_ + min_bytes + kBlockBytes;  // + a block of slack for the padded final block
  if (buf_.size() < need) buf_.resize(need);
  return buf_.data() + filled_;
}

Status EventSplitter::error(StatusCode code, const std::string& what, size_t idx) const {
  return Status::Error(code, "malformed JSON at byte " + std::to_string(base_ + idx) + ": " + what);
}

Status EventSplitter::close_bracket(char c, size_t idx) {
  char want = c == '}' ? '{' : '[';
  if (stack_.empty() || stack_.back() != want)
    return error(StatusCode::kMalformed, std::string("unexpected '") + c + "'", idx);
  stack_.pop_back();
  return Status::Ok();
}

void EventSplitter::end_root_value(size_t end_idx) {
  if (capturing_ && end_idx - capture_start_ <= kMaxCaptureBytes)
    device_properties_.assign(buf_.data() + capture_start_, end_idx - capture_start_);
  capturing_ = false;
  phase_ = Phase::kRootAfterValue;
}

void EventSplitter::element_done(size_t end_idx) {
  if (batch_first_ == SIZE_MAX) batch_first_ = elem_start_;
  batch_end_ = end_idx;
  ++batch_count_;
  ++num_elements_;
}

// Between two elements only whitespace and one comma may appear; before the first element and before the
// closing ']' no comma may appear. At the end of the input the gap is cut short: at most the comma still due.
Status EventSplitter::check_gap(size_t from, size_t to, GapEnd end) const {
  int commas = 0;
  for (size_t i = from; i < to; ++i) {
    char c = buf_[i];
    if (c == ',') {
      ++commas;
    } else if (!kClass.space[u8(c)]) {
      return error(StatusCode::kMalformed, "a traceEvents element is not an object", i);
    }
  }
  const int due = gap_needs_comma_ ? 1 : 0;
  bool ok = end == GapEnd::kClose   ? (commas == 0 && !gap_after_comma_)
            : end == GapEnd::kInput ? commas <= due
                                    : commas == due;
  if (!ok) return error(StatusCode::kMalformed, "expected one ',' between traceEvents elements", to);
  return Status::Ok();
}

void EventSplitter::enter_block_mode(size_t idx) {
  block_mode_ = true;
  block_depth_ = 0;
  in_string_carry_ = 0;
  escape_carry_ = false;
  gap_start_ = idx;
  gap_needs_comma_ = phase_ == Phase::kEventsAfter;
  gap_after_comma_ = phase_ == Phase::kEventsValue && after_comma_;
}

// Scans whole 64-byte blocks from *idx while below block_limit. Leaves block mode after the ']' that closes the
// traceEvents array (then *idx points past it and the byte-wise path takes over).
Status EventSplitter::scan_blocks(size_t* idx, size_t block_limit) {
  const char* b = buf_.data();
  size_t i = *idx;
  while (i + kBlockBytes <= block_limit) {
    BlockMasks m = block_masks(b + i);
    uint64_t quote = m.quote;
    if (m.backslash || escape_carry_) quote &= ~escaped_bits(m.backslash, &escape_carry_);
    uint64_t in_string = prefix_xor(quote) ^ in_string_carry_;
    in_string_carry_ = static_cast<uint64_t>(static_cast<int64_t>(in_string) >> 63);
    uint64_t brackets = (m.open | m.close) & ~in_string;
    // NOTES: the escape mask assumed that every backslash is inside a string. JSON allows no other, and the
    // byte-wise path rejects one elsewhere. The masks stay right up to the first stray backslash: visit the
    // brackets before it, then report it (where the byte-wise path does).
    const uint64_t stray = m.backslash & ~in_string;
    if (stray) brackets &= (stray & (~stray + 1)) - 1;
    while (brackets) {
      int bit = __builtin_ctzll(brackets);
      brackets &= brackets - 1;
      size_t at = i + bit;
      bool open = (m.open >> bit) & 1;
      if (open) {
        if (block_depth_ == 0) {
          if (b[at] != '{') return error(StatusCode::kMalformed, "a traceEvents element is not an object", at);
          Status s = check_gap(gap_start_, at, GapEnd::kElement);
          if (!s.ok()) return s;
          elem_start_ = at;
        }
        stack_.push_back(b[at]);
        ++block_depth_;
        continue;
      }
      if (block_depth_ == 0) {  // closes the traceEvents array
        if (b[at] != ']') return error(StatusCode::kMalformed, "unexpected '}'", at);
        Status s = check_gap(gap_start_, at, GapEnd::kClose);
        if (!s.ok()) return s;
        block_mode_ = false;
        s = close_bracket(']', at);
        if (!s.ok()) return s;
        events_done_ = true;
        phase_ = root_is_array_ ? Phase::kAfterRoot : Phase::kRootAfterValue;
        *idx = at + 1;
        return Status::Ok();
      }
      Status s = close_bracket(b[at], at);  // bracket types must match, as on the byte-wise path
      if (!s.ok()) return s;
      if (--block_depth_ == 0) {
        element_done(at + 1);
        gap_start_ = at + 1;
        gap_needs_comma_ = true;
        gap_after_comma_ = false;
      }
    }
    if (stray) return error(StatusCode::kMalformed, "a backslash outside a string", i + __builtin_ctzll(stray));
    i += kBlockBytes;
  }
  *idx = i;
  return Status::Ok();
}

Status EventSplitter::scan(size_t block_limit) {
  const char* b = buf_.data();
  const size_t n = filled_;
  size_t i = pos_;
  while (i < n) {
    if (block_mode_) {
      Status s = scan_blocks(&i, block_limit);
      if (!s.ok()) return s;
      if (block_mode_) break;  // needs the next chunk (or finish() to pad the last block)
      continue;
    }
    if (in_string_) {
      while (i < n && !kClass.string_stop[u8(b[i])]) ++i;
      if (i >= n) break;
      if (b[i] == '\\') {
        if (i + 1 >= n) break;  // the escaped byte is in the next chunk: resume at the backslash
        i += 2;
        continue;
      }
      in_string_ = false;
      ++i;
      if (in_key_) {
        in_key_ = false;
        key_.assign(b + key_start_, i - 1 - key_start_);
        phase_ = Phase::kRootColon;
      } else if (phase_ == Phase::kRootValue) {
        end_root_value(i);
      }
      continue;
    }
    if (phase_ == Phase::kInElement || phase_ == Phase::kRootNested) {
      while (i < n && !kClass.nested_stop[u8(b[i])]) ++i;
      if (i >= n) break;
      char c = b[i];
      if (c == '"') {
        in_string_ = true;
      } else if (c == '\\') {
        return error(StatusCode::kMalformed, "a backslash outside a string", i);
      } else if (c == '{' || c == '[') {
        stack_.push_back(c);
      } else {
        Status s = close_bracket(c, i);
        if (!s.ok()) return s;
        if (phase_ == Phase::kInElement && stack_.size() == events_depth_) {
          element_done(i + 1);
          phase_ = Phase::kEventsAfter;
        } else if (phase_ == Phase::kRootNested && stack_.size() == 1) {
          end_root_value(i + 1);
        }
      }
      ++i;
      continue;
    }
    if (block_scan_ && (phase_ == Phase::kEventsValue || phase_ == Phase::kEventsAfter)) {
      enter_block_mode(i);
      continue;
    }
    const char c = b[i];
    if (kClass.space[u8(c)] && phase_ != Phase::kRootScalar) {
      ++i;
      continue;
    }
    switch (phase_) {
      case Phase::kBeforeRoot:
        if (base_ + i == 0 && u8(b[0]) == 0xEF) {  // a UTF-8 byte order mark, which a chunk may cut
          if (n == 1 || (n == 2 && u8(b[1]) == 0xBB)) {
            pos_ = i;  // wait for the rest of the mark in the next chunk
            return Status::Ok();
          }
          if (u8(b[1]) == 0xBB && u8(b[2]) == 0xBF) {
            i += 3;
            continue;
          }
        }
        if (c == '{') {
          stack_.push_back(c);
          phase_ = Phase::kRootKey;
          after_comma_ = false;
        } else if (c == '[') {
          stack_.push_back(c);
          root_is_array_ = true;
          saw_trace_events_ = true;
          events_depth_ = stack_.size();
          phase_ = Phase::kEventsValue;
          after_comma_ = false;
        } else {
          return error(StatusCode::kMalformed, "a trace must start with '{' or '['", i);
        }
        ++i;
        break;
      case Phase::kRootKey:
        if (c == '"') {
          in_string_ = true;
          in_key_ = true;
          key_start_ = i + 1;
        } else if (c == '}' && !after_comma_) {
          stack_.pop_back();
          phase_ = Phase::kAfterRoot;
        } else {
          return error(StatusCode::kMalformed, "expected a key in the root object", i);
        }
        ++i;
        break;
      case Phase::kRootColon:
        if (c != ':') return error(StatusCode::kMalformed, "expected ':' after key \"" + key_ + "\"", i);
        phase_ = Phase::kRootValue;
        ++i;
        break;
      case Phase::kRootValue:
        if (key_ == "traceEvents") {
          if (c != '[') return error(StatusCode::kMalformed, "traceEvents is not an array", i);
          // NOTES: JSON readers disagree on a repeated key (first, last, or both), so a second array is refused.
          // Batches also rely on it: one batch never spans two arrays.
          if (saw_trace_events_) return error(StatusCode::kMalformed, "a second \"traceEvents\" array", i);
          stack_.push_back(c);
          saw_trace_events_ = true;
          events_depth_ = stack_.size();
          phase_ = Phase::kEventsValue;
          after_comma_ = false;
          ++i;
          break;
        }
        capturing_ = key_ == "deviceProperties";
        capture_start_ = i;
        if (c == '{' || c == '[') {
          stack_.push_back(c);
          phase_ = Phase::kRootNested;
          ++i;
        } else if (c == '"') {
          in_string_ = true;  // phase stays kRootValue until the string closes
          ++i;
        } else if (kClass.scalar[u8(c)]) {
          phase_ = Phase::kRootScalar;
        } else {
          return error(StatusCode::kMalformed, std::string("unexpected '") + c + "' as a value", i);
        }
        break;
      case Phase::kRootScalar:
        while (i < n && kClass.scalar[u8(b[i])]) ++i;
        if (i < n) end_root_value(i);
        break;
      case Phase::kRootAfterValue:
        if (c == ',') {
          phase_ = Phase::kRootKey;
          after_comma_ = true;
        } else if (c == '}') {
          Status s = close_bracket(c, i);
          if (!s.ok()) return s;
          phase_ = Phase::kAfterRoot;
        } else {
          return error(StatusCode::kMalformed, "expected ',' or '}' in the root object", i);
        }
        ++i;
        break;
      case Phase::kEventsValue:
      case Phase::kEventsAfter:
        if (c == '{' && phase_ == Phase::kEventsValue) {
          elem_start_ = i;
          stack_.push_back(c);
          phase_ = Phase::kInElement;
        } else if (c == ',' && phase_ == Phase::kEventsAfter) {
          phase_ = Phase::kEventsValue;
          after_comma_ = true;
        } else if (c == ']' && !(phase_ == Phase::kEventsValue && after_comma_)) {
          Status s = close_bracket(c, i);
          if (!s.ok()) return s;
          events_done_ = true;
          phase_ = root_is_array_ ? Phase::kAfterRoot : Phase::kRootAfterValue;
        } else if (phase_ == Phase::kEventsValue && c != ']') {
          return error(StatusCode::kMalformed, "a traceEvents element is not an object", i);
        } else {
          return error(StatusCode::kMalformed, "expected ',' or ']' in the traceEvents array", i);
        }
        ++i;
        break;
      case Phase::kAfterRoot:
        return error(StatusCode::kMalformed, "data after the end of the JSON document", i);
      case Phase::kInElement:
      case Phase::kRootNested:
        break;  // handled above
    }
  }
  pos_ = i;
  return Status::Ok();
}

Status EventSplitter::emit_and_compact() {
  if (batch_count_ > 0) {
    batch_offset_ = base_ + batch_first_;
    Status s = sink_(buf_.data() + batch_first_, batch_end_ - batch_first_, batch_count_);
    batch_first_ = SIZE_MAX;
    batch_count_ = 0;
    if (!s.ok()) return s;
  }
  if (capturing_ && pos_ - capture_start_ > kMaxCaptureBytes) capturing_ = false;  // too big to keep
  // Keep only what a later scan still needs: the open element, gap, key or captured value.
  size_t keep = pos_;
  if (phase_ == Phase::kInElement || (block_mode_ && block_depth_ > 0)) keep = std::min(keep, elem_start_);
  if (block_mode_ && block_depth_ == 0) keep = std::min(keep, gap_start_);
  if (in_key_) keep = std::min(keep, key_start_);
  if (capturing_) keep = std::min(keep, capture_start_);
  if (keep > 0) {
    std::memmove(buf_.data(), buf_.data() + keep, filled_ - keep);
    filled_ -= keep;
    base_ += keep;
    pos_ -= keep;
    elem_start_ -= std::min(elem_start_, keep);
    gap_start_ -= std::min(gap_start_, keep);
    key_start_ -= std::min(key_start_, keep);
    capture_start_ -= std::min(capture_start_, keep);
  }
  return Status::Ok();
}

bool EventSplitter::open_element(const char** data, size_t* size, uint64_t* offset) const {
  if (!(phase_ == Phase::kInElement || (block_mode_ && block_depth_ > 0)) || elem_start_ > filled_) return false;
  *data = buf_.data() + elem_start_;
  *size = filled_ - elem_start_;
  *offset = base_ + elem_start_;
  return true;
}

Status EventSplitter::commit(size_t n) {
  filled_ += n;
  Status s = scan(filled_);
  if (!s.ok()) return s;
  return emit_and_compact();
}

Status EventSplitter::finish() {
  if (block_mode_ && pos_ < filled_) {
    // The last partial block: pad it with spaces, which change no state, and scan it.
    write_area(0);
    std::memset(buf_.data() + filled_, ' ', kBlockBytes);
    Status s = scan(filled_ + kBlockBytes);
    if (!s.ok()) return s;
    if (pos_ > filled_) pos_ = filled_;
    s = emit_and_compact();
    if (!s.ok()) return s;
  }
  if (block_mode_ && block_depth_ == 0) {
    // The block path checks a gap only when the next bracket comes; at the end of the input check what is there,
    // so that a stray byte is reported as malformed, as on the byte-wise path, and not as truncation.
    Status s = check_gap(gap_start_, filled_, GapEnd::kInput);
    if (!s.ok()) return s;
  }
  if (phase_ == Phase::kAfterRoot && !in_string_) {
    if (!saw_trace_events_)
      return Status::Error(StatusCode::kNoTraceEvents, "the JSON object has no \"traceEvents\" array");
    return Status::Ok();
  }
  uint64_t at = base_ + filled_;
  if (phase_ == Phase::kBeforeRoot) return Status::Error(StatusCode::kMalformed, "empty input: no JSON document");
  std::string where = "the JSON document";
  if (saw_trace_events_ && !events_done_)
    where = "the traceEvents array, after " + std::to_string(num_elements_) + " complete events";
  return Status::Error(StatusCode::kTruncated,
                       "truncated input: the file ends at byte " + std::to_string(at) + " inside " + where);
}

}  // namespace launchprof
