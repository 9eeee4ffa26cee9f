#include "launchprof/analyze/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace launchprof {

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

void JsonWriter::newline() {
  *out_ += '\n';
  out_->append(2 * has_items_.size(), ' ');
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_items_.empty()) {
    if (has_items_.back()) *out_ += ',';
    has_items_.back() = true;
    newline();
  }
}

void JsonWriter::open(char c) {
  before_value();
  *out_ += c;
  has_items_.push_back(false);
}

void JsonWriter::close(char c) {
  bool had = has_items_.back();
  has_items_.pop_back();
  if (had) newline();
  *out_ += c;
  if (has_items_.empty()) *out_ += '\n';
}

void JsonWriter::key(std::string_view k) {
  before_value();
  *out_ += '"';
  *out_ += json_escape(k);
  *out_ += "\": ";
  after_key_ = true;
}

void JsonWriter::value(std::string_view s) {
  before_value();
  *out_ += '"';
  *out_ += json_escape(s);
  *out_ += '"';
}

void JsonWriter::value(double d) {
  if (!std::isfinite(d)) return null();
  before_value();
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), d);
  out_->append(buf, r.ptr);
}

void JsonWriter::value(int64_t i) {
  before_value();
  *out_ += std::to_string(i);
}

void JsonWriter::value(uint64_t u) {
  before_value();
  *out_ += std::to_string(u);
}

void JsonWriter::value(bool b) {
  before_value();
  *out_ += b ? "true" : "false";
}

void JsonWriter::null() {
  before_value();
  *out_ += "null";
}

}  // namespace launchprof
