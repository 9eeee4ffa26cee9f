#include "output_file.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#ifdef LAUNCHPROF_HAVE_ZLIB
#include <zlib.h>
#endif

namespace launchprof::record {
namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool have_zlib() {
#ifdef LAUNCHPROF_HAVE_ZLIB
  return true;
#else
  return false;
#endif
}

std::unique_ptr<FileSink> FileSink::open(const std::string& path, std::string* error) {
  std::unique_ptr<FileSink> sink(new FileSink());
  sink->path_ = path;
  sink->tmp_path_ = path + ".tmp";
  if (ends_with(path, ".gz") && have_zlib()) {
#ifdef LAUNCHPROF_HAVE_ZLIB
    // Level 1: the trace is written at process exit, where speed matters more than the last few percent of size.
    gzFile gz = gzopen(sink->tmp_path_.c_str(), "wb1");
    if (gz == nullptr) {
      *error = "cannot open " + sink->tmp_path_ + ": " + std::strerror(errno);
      return nullptr;
    }
    gzbuffer(gz, 1 << 20);
    sink->gz_ = gz;
    sink->compressed_ = true;
#endif
  } else {
    FILE* f = std::fopen(sink->tmp_path_.c_str(), "wb");
    if (f == nullptr) {
      *error = "cannot open " + sink->tmp_path_ + ": " + std::strerror(errno);
      return nullptr;
    }
    sink->file_ = f;
  }
  return sink;
}

FileSink::~FileSink() {
  std::string ignored;
  if (gz_ != nullptr || file_ != nullptr) {
    failed_ = true;  // destroyed without close(): do not publish a partial file
    close(&ignored);
  }
}

bool FileSink::write(std::string_view data) {
  if (failed_ || data.empty()) return !failed_;
#ifdef LAUNCHPROF_HAVE_ZLIB
  if (gz_ != nullptr) {
    size_t done = 0;
    while (done < data.size()) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(data.size() - done, 1u << 30));
      int n = gzwrite(static_cast<gzFile>(gz_), data.data() + done, chunk);
      if (n <= 0) {
        failed_ = true;
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }
#endif
  if (std::fwrite(data.data(), 1, data.size(), static_cast<FILE*>(file_)) != data.size()) failed_ = true;
  return !failed_;
}

bool FileSink::close(std::string* error) {
  bool ok = !failed_;
#ifdef LAUNCHPROF_HAVE_ZLIB
  if (gz_ != nullptr) {
    ok = gzclose(static_cast<gzFile>(gz_)) == Z_OK && ok;
    gz_ = nullptr;
  }
#endif
  if (file_ != nullptr) {
    ok = std::fclose(static_cast<FILE*>(file_)) == 0 && ok;
    file_ = nullptr;
  }
  if (!ok) {
    std::remove(tmp_path_.c_str());
    *error = "write to " + tmp_path_ + " failed";
    return false;
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    *error = "cannot rename " + tmp_path_ + " to " + path_ + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace launchprof::record
