// Sequential byte sources for trace input: a plain file, a gzip file (sniffed by its magic bytes, not its name),
// or a memory buffer (tests, fuzzing). Reading is chunked so a trace is never held whole in memory.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "launchprof/analyze/status.h"

namespace launchprof {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Fills up to `capacity` bytes into `dst`; sets *num_read (0 only at end of input).
  virtual Status read(char* dst, size_t capacity, size_t* num_read) = 0;
  // Size of the stored input in bytes (compressed size for gzip).
  virtual size_t stored_bytes() const = 0;
};

// Opens `path`; gzip input (magic 1f 8b) is inflated on the fly, including multi-member files.
Status open_byte_source(const std::string& path, std::unique_ptr<ByteSource>* out);

// Wraps bytes owned by the caller (they must outlive the source). Gzip data is inflated here too.
std::unique_ptr<ByteSource> make_memory_source(const char* data, size_t size);

}  // namespace launchprof
