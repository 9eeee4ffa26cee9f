// A minimal streaming JSON writer (indented, escaped, shortest round-trip doubles; non-finite -> null).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace launchprof {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  void key(std::string_view k);

  void value(std::string_view s);
  void value(const char* s) { value(std::string_view(s)); }
  void value(const std::string& s) { value(std::string_view(s)); }
  void value(double d);
  void value(int64_t i);
  void value(uint64_t u);
  void value(int32_t i) { value(static_cast<int64_t>(i)); }
  void value(uint32_t u) { value(static_cast<uint64_t>(u)); }
  void value(bool b);
  void null();

  template <typename T>
  void field(std::string_view k, const T& v) {
    key(k);
    value(v);
  }
  void null_field(std::string_view k) {
    key(k);
    null();
  }

 private:
  void open(char c);
  void close(char c);
  void before_value();
  void newline();

  std::string* out_;
  std::vector<bool> has_items_;  // per open container
  bool after_key_ = false;
};

std::string json_escape(std::string_view s);

}  // namespace launchprof
