// Hand-built CUPTI activity buffers, laid out as CUPTI lays them out (records back to back, each starting with its
// kind), for feeding collector_ingest_buffer() on a machine with no GPU: the CPU test and launchprof-record-bench.
#pragma once

#include <cupti.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace launchprof::record::synthetic {

class ActivityBuffer {
 public:
  // One runtime (or driver) API record.
  void api(CUpti_ActivityKind kind, uint32_t cbid, uint64_t start_ns, uint64_t end_ns, uint32_t correlation,
           uint32_t tid = 1) {
    CUpti_ActivityAPI a;
    std::memset(&a, 0, sizeof(a));
    a.kind = kind;
    a.cbid = cbid;
    a.start = start_ns;
    a.end = end_ns;
    a.processId = 1;
    a.threadId = tid;
    a.correlationId = correlation;
    append(&a, sizeof(a));
  }
  void kernel(const char* mangled_name, uint64_t start_ns, uint64_t end_ns, uint32_t correlation, uint32_t stream = 7) {
    auto k =
        gpu_op<CUpti_ActivityKernel10>(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, start_ns, end_ns, correlation, stream);
    k.name = mangled_name;
    k.gridX = k.gridY = k.gridZ = 1;
    k.blockX = 32;
    k.blockY = k.blockZ = 1;
    append(&k, sizeof(k));
  }
  void memcpy_op(uint8_t copy_kind, uint8_t src_kind, uint8_t dst_kind, uint64_t start_ns, uint64_t end_ns,
                 uint32_t correlation, uint64_t bytes) {
    auto m = gpu_op<CUpti_ActivityMemcpy6>(CUPTI_ACTIVITY_KIND_MEMCPY, start_ns, end_ns, correlation, 7);
    m.copyKind = copy_kind;
    m.srcKind = src_kind;
    m.dstKind = dst_kind;
    m.bytes = bytes;
    append(&m, sizeof(m));
  }
  void memset_op(uint32_t memory_kind, uint64_t start_ns, uint64_t end_ns, uint32_t correlation, uint64_t bytes) {
    auto m = gpu_op<CUpti_ActivityMemset4>(CUPTI_ACTIVITY_KIND_MEMSET, start_ns, end_ns, correlation, 7);
    m.memoryKind = static_cast<uint16_t>(memory_kind);
    m.bytes = bytes;
    append(&m, sizeof(m));
  }
  uint8_t* data() { return reinterpret_cast<uint8_t*>(bytes_.data()); }
  size_t size() const { return bytes_.size(); }
  size_t records() const { return records_; }

 private:
  // A zeroed GPU-op record with the fields kernel, memcpy and memset records share.
  template <typename Record>
  static Record gpu_op(CUpti_ActivityKind kind, uint64_t start_ns, uint64_t end_ns, uint32_t correlation,
                       uint32_t stream) {
    Record r;
    std::memset(&r, 0, sizeof(r));
    r.kind = kind;
    r.start = start_ns;
    r.end = end_ns;
    r.correlationId = correlation;
    r.streamId = stream;
    return r;
  }
  void append(const void* record, size_t n) {
    bytes_.append(static_cast<const char*>(record), n);
    bytes_.append((8 - n % 8) % 8, '\0');  // records stay 8-byte aligned
    ++records_;
  }
  std::string bytes_;  // heap storage (records are larger than the small-string buffer): 16-byte aligned
  size_t records_ = 0;
};

}  // namespace launchprof::record::synthetic
