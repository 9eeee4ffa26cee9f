#include "launchprof/analyze/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace launchprof {
namespace {

// Raw bytes from a file descriptor or from memory; the gzip layer sits on top of either.
class RawInput {
 public:
  virtual ~RawInput() = default;
  virtual Status read(char* dst, size_t capacity, size_t* num_read) = 0;
  virtual size_t size() const = 0;
};

class FdInput final : public RawInput {
 public:
  FdInput(int fd, size_t size, std::string path) : fd_(fd), size_(size), path_(std::move(path)) {}
  ~FdInput() override { ::close(fd_); }
  Status read(char* dst, size_t capacity, size_t* num_read) override {
    while (true) {
      ssize_t n = ::read(fd_, dst, capacity);
      if (n >= 0) {
        *num_read = static_cast<size_t>(n);
        return Status::Ok();
      }
      if (errno != EINTR) return Status::Error(StatusCode::kIoError, path_ + ": read failed: " + std::strerror(errno));
    }
  }
  size_t size() const override { return size_; }

 private:
  int fd_;
  size_t size_;
  std::string path_;
};

class MemoryInput final : public RawInput {
 public:
  MemoryInput(const char* data, size_t size) : data_(data), size_(size) {}
  Status read(char* dst, size_t capacity, size_t* num_read) override {
    size_t n = std::min(capacity, size_ - pos_);
    if (n > 0) std::memcpy(dst, data_ + pos_, n);
    pos_ += n;
    *num_read = n;
    return Status::Ok();
  }
  size_t size() const override { return size_; }

 private:
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

// A prefix already read to sniff the format is replayed before the rest of the input.
class PlainSource final : public ByteSource {
 public:
  PlainSource(std::unique_ptr<RawInput> in, std::string prefix) : in_(std::move(in)), prefix_(std::move(prefix)) {}
  Status read(char* dst, size_t capacity, size_t* num_read) override {
    if (prefix_pos_ < prefix_.size()) {
      size_t n = std::min(capacity, prefix_.size() - prefix_pos_);
      std::memcpy(dst, prefix_.data() + prefix_pos_, n);
      prefix_pos_ += n;
      *num_read = n;
      return Status::Ok();
    }
    return in_->read(dst, capacity, num_read);
  }
  size_t stored_bytes() const override { return in_->size(); }

 private:
  std::unique_ptr<RawInput> in_;
  std::string prefix_;
  size_t prefix_pos_ = 0;
};

class GzipSource final : public ByteSource {
 public:
  GzipSource(std::unique_ptr<RawInput> in, std::string prefix, std::string name)
      : in_(std::move(in)), name_(std::move(name)), inbuf_(kInBufBytes) {
    std::memset(&zs_, 0, sizeof(zs_));
    init_ok_ = inflateInit2(&zs_, 15 + 32) == Z_OK;  // 15+32: accept gzip or zlib headers
    std::memcpy(inbuf_.data(), prefix.data(), prefix.size());
    zs_.next_in = reinterpret_cast<Bytef*>(inbuf_.data());
    zs_.avail_in = static_cast<uInt>(prefix.size());
  }
  ~GzipSource() override { inflateEnd(&zs_); }

  Status read(char* dst, size_t capacity, size_t* num_read) override {
    *num_read = 0;
    if (!init_ok_) return Status::Error(StatusCode::kIoError, name_ + ": zlib initialisation failed");
    if (finished_) return Status::Ok();
    zs_.next_out = reinterpret_cast<Bytef*>(dst);
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(capacity, 1u << 30));
    while (zs_.avail_out > 0) {
      if (zs_.avail_in == 0 && !input_eof_) {
        size_t n = 0;
        Status s = in_->read(inbuf_.data(), inbuf_.size(), &n);
        if (!s.ok()) return s;
        if (n == 0) input_eof_ = true;
        zs_.next_in = reinterpret_cast<Bytef*>(inbuf_.data());
        zs_.avail_in = static_cast<uInt>(n);
      }
      if (zs_.avail_in == 0 && input_eof_) {
        if (!member_done_) return Status::Error(StatusCode::kTruncated, name_ + ": gzip stream is truncated");
        finished_ = true;
        break;
      }
      if (member_done_) {
        // Concatenated gzip members form one stream (gzip -c a >> f); start the next member.
        if (inflateReset(&zs_) != Z_OK) return Status::Error(StatusCode::kMalformed, name_ + ": gzip reset failed");
        member_done_ = false;
      }
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        member_done_ = true;
      } else if (rc == Z_BUF_ERROR) {
        continue;  // needs more input; loop reads it or reports truncation
      } else if (rc != Z_OK) {
        return Status::Error(StatusCode::kMalformed,
                             name_ + ": gzip data error: " + (zs_.msg ? zs_.msg : "inflate failed"));
      }
    }
    *num_read = static_cast<size_t>(reinterpret_cast<char*>(zs_.next_out) - dst);
    return Status::Ok();
  }
  size_t stored_bytes() const override { return in_->size(); }

 private:
  static constexpr size_t kInBufBytes = 1 << 20;
  std::unique_ptr<RawInput> in_;
  std::string name_;
  std::vector<char> inbuf_;
  z_stream zs_;
  bool init_ok_ = false;
  bool input_eof_ = false;
  bool member_done_ = false;
  bool finished_ = false;
};

std::unique_ptr<ByteSource> wrap(std::unique_ptr<RawInput> in, const std::string& name, Status* status) {
  char magic[2];
  size_t got = 0;
  while (got < 2) {
    size_t n = 0;
    *status = in->read(magic + got, 2 - got, &n);
    if (!status->ok()) return nullptr;
    if (n == 0) break;
    got += n;
  }
  std::string prefix(magic, got);
  bool gzip = got == 2 && static_cast<unsigned char>(magic[0]) == 0x1f && static_cast<unsigned char>(magic[1]) == 0x8b;
  if (gzip) return std::make_unique<GzipSource>(std::move(in), std::move(prefix), name);
  return std::make_unique<PlainSource>(std::move(in), std::move(prefix));
}

}  // namespace

Status open_byte_source(const std::string& path, std::unique_ptr<ByteSource>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error(StatusCode::kIoError, path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::Error(StatusCode::kIoError, path + ": not a regular file");
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Status s;
  *out = wrap(std::make_unique<FdInput>(fd, static_cast<size_t>(st.st_size), path), path, &s);
  return s;
}

std::unique_ptr<ByteSource> make_memory_source(const char* data, size_t size) {
  Status s;
  auto src = wrap(std::make_unique<MemoryInput>(data, size), "<memory>", &s);
  return src;  // memory reads cannot fail
}

}  // namespace launchprof
