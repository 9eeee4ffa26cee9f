#include "launchprof/analyze/json_fault.h"

#include <cstring>
#include <vector>

namespace launchprof {
namespace {

// A recursive-descent check with an explicit stack, so that deep nesting cannot overflow the call stack. Each
// container's state says what may come next; a parent's state is set to "after a value" before its child is read.
class FaultFinder {
 public:
  FaultFinder(const char* d, size_t n) : d_(d), n_(n) {}

  size_t run(bool sequence, std::string* what) {
    while (true) {
      if (!value()) break;
      skip_space();
      if (i_ >= n_) return kNoJsonFault;
      if (!sequence || d_[i_] != ',') {
        why_ = "unexpected text after a complete value";
        break;
      }
      ++i_;
    }
    if (i_ >= n_) {
      *what = "the text ends inside a value";
      return n_;
    }
    *what = why_;
    return i_;
  }

 private:
  enum State : char { kKeyOrEnd, kKey, kObjectNext, kValueOrEnd, kArrayNext };

  bool fail(const char* why) {
    why_ = why;
    return false;
  }
  void skip_space() {
    while (i_ < n_ && (d_[i_] == ' ' || d_[i_] == '\n' || d_[i_] == '\r' || d_[i_] == '\t')) ++i_;
  }
  bool at(char c) const { return i_ < n_ && d_[i_] == c; }
  bool string() {
    ++i_;  // the opening quote
    while (i_ < n_) {
      unsigned char c = static_cast<unsigned char>(d_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return fail("a control character inside a string");
      if (c == '\\') {
        if (++i_ >= n_) return false;
        char e = d_[i_];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k) {
            if (++i_ >= n_) return false;
            if (!std::strchr("0123456789abcdefABCDEF", d_[i_]) || d_[i_] == '\0') return fail("a bad \\u escape");
          }
        } else if (e == '\0' || !std::strchr("\"\\/bfnrt", e)) {
          return fail("a bad escape in a string");
        }
      }
      ++i_;
    }
    return false;
  }
  size_t digits() {
    size_t s = i_;
    while (i_ < n_ && d_[i_] >= '0' && d_[i_] <= '9') ++i_;
    return i_ - s;
  }
  bool number() {
    if (at('-')) ++i_;
    if (at('0')) {
      ++i_;
    } else if (digits() == 0) {
      return i_ < n_ ? fail("a bad number") : false;
    }
    if (at('.')) {
      ++i_;
      if (digits() == 0) return i_ < n_ ? fail("a bad number") : false;
    }
    if (at('e') || at('E')) {
      ++i_;
      if (at('+') || at('-')) ++i_;
      if (digits() == 0) return i_ < n_ ? fail("a bad number") : false;
    }
    return true;
  }
  // A scalar, or the opening bracket of a container (pushed).
  bool start_value() {
    skip_space();
    if (i_ >= n_) return false;
    char c = d_[i_];
    if (c == '{' || c == '[') {
      stack_.push_back(c == '{' ? kKeyOrEnd : kValueOrEnd);
      ++i_;
      return true;
    }
    if (c == '"') return string();
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    const char* word = c == 't' ? "true" : c == 'f' ? "false" : c == 'n' ? "null" : nullptr;
    if (word == nullptr) return fail(c == '}' || c == ']' || c == ',' ? "expected a value" : "unexpected byte");
    for (const char* w = word; *w; ++w, ++i_)
      if (i_ >= n_ || d_[i_] != *w) return i_ < n_ ? fail("a bad literal (expected true, false or null)") : false;
    return true;
  }
  bool value() {
    if (!start_value()) return false;
    while (!stack_.empty()) {
      skip_space();
      if (i_ >= n_) return false;
      char c = d_[i_];
      State& top = stack_.back();
      switch (top) {
        case kKeyOrEnd:
          if (c == '}') {
            ++i_;
            stack_.pop_back();
            break;
          }
          [[fallthrough]];
        case kKey:
          if (c != '"') return fail(top == kKey ? "expected a key after ','" : "expected a key or '}'");
          if (!string()) return false;
          skip_space();
          if (i_ >= n_) return false;
          if (d_[i_] != ':') return fail("expected ':' after a key");
          ++i_;
          top = kObjectNext;
          if (!start_value()) return false;
          break;
        case kObjectNext:
          if (c == ',') {
            ++i_;
            top = kKey;
          } else if (c == '}') {
            ++i_;
            stack_.pop_back();
          } else {
            return fail("expected ',' or '}' in an object");
          }
          break;
        case kValueOrEnd:
          if (c == ']') {
            ++i_;
            stack_.pop_back();
            break;
          }
          top = kArrayNext;
          if (!start_value()) return false;
          break;
        case kArrayNext:
          if (c == ',') {
            ++i_;
            if (!start_value()) return false;
          } else if (c == ']') {
            ++i_;
            stack_.pop_back();
          } else {
            return fail("expected ',' or ']' in an array");
          }
          break;
      }
    }
    return true;
  }

  const char* d_;
  size_t n_;
  size_t i_ = 0;
  const char* why_ = "";
  std::vector<State> stack_;
};

}  // namespace

size_t find_json_fault(const char* data, size_t size, bool sequence, std::string* what) {
  FaultFinder f(data, size);
  return f.run(sequence, what);
}

}  // namespace launchprof
