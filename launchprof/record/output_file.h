// Where a trace goes: a string (tests) or a file, gzip-compressed when the path ends in ".gz" and zlib is built in.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace launchprof::record {

class Sink {
 public:
  virtual ~Sink() = default;
  virtual bool write(std::string_view data) = 0;
};

class StringSink : public Sink {
 public:
  bool write(std::string_view data) override {
    data_.append(data);
    return true;
  }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

// Writes to "<path>.tmp" and renames it to the path on close(), so a crash never leaves a half trace under the name.
class FileSink : public Sink {
 public:
  // Returns nullptr and sets *error when the file cannot be opened.
  static std::unique_ptr<FileSink> open(const std::string& path, std::string* error);
  ~FileSink() override;
  bool write(std::string_view data) override;
  bool close(std::string* error);
  // Whether the file is gzip. Stays valid after close(), so the exit message can still tell.
  bool compressed() const { return compressed_; }
  const std::string& path() const { return path_; }

 private:
  FileSink() = default;
  std::string path_;
  std::string tmp_path_;
  void* gz_ = nullptr;    // gzFile when compressed
  void* file_ = nullptr;  // FILE* otherwise
  bool compressed_ = false;
  bool failed_ = false;
};

// True when the library was built with zlib (a ".gz" path is then really compressed).
bool have_zlib();

}  // namespace launchprof::record
