// Plain records of one recorded process. They hold no CUPTI types, so that the join, the summary and the
// Chrome-trace writer can be unit-tested on a machine with no GPU.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace launchprof::record {

// Where a host-side API record came from. kInternal is CUPTI's INTERNAL_LAUNCH_API: a driver launch made outside
// any public API call (for example by a CUDA library); it has no cbid.
enum class ApiDomain : uint8_t { kRuntime, kDriver, kInternal };

// One runtime or driver API call on a host thread.
struct ApiCall {
  ApiDomain domain = ApiDomain::kRuntime;
  uint32_t cbid = 0;
  uint32_t name_idx = 0;  // into TraceModel::strings; the name has no "_vNNNN" suffix
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  uint32_t pid = 0;
  uint32_t tid = 0;  // system thread id (gettid); CUPTI's default id (pthread_self) with thread_ids "cupti"
  uint32_t correlation = 0;
  uint32_t return_value = 0;
};

enum class GpuOpKind : uint8_t { kKernel, kMemcpy, kMemset };

// One kernel, memcpy or memset executed on a device.
struct GpuOp {
  GpuOpKind kind = GpuOpKind::kKernel;
  uint32_t name_idx = 0;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  uint64_t queued_ns = 0;     // 0: not collected (see LAUNCHPROF_LATENCY)
  uint64_t submitted_ns = 0;  // 0: not collected
  uint32_t device = 0;
  uint32_t context = 0;
  uint32_t stream = 0;
  uint32_t correlation = 0;          // CUPTI's correlation id (the driver call's, for memcpy)
  uint32_t runtime_correlation = 0;  // memcpy only: the runtime call's correlation id, 0 if none
  int32_t grid[3] = {0, 0, 0};
  int32_t block[3] = {0, 0, 0};
  uint32_t registers_per_thread = 0;
  uint32_t shared_memory = 0;  // static + dynamic, bytes
  uint64_t bytes = 0;          // memcpy / memset
  uint32_t graph_id = 0;       // non-zero when the op ran as part of a graph launch
  uint64_t graph_node_id = 0;
};

// One synchronization (stream, event, context) as reported by CUPTI_ACTIVITY_KIND_SYNCHRONIZATION.
struct SyncOp {
  uint32_t name_idx = 0;  // "Stream Sync", "Event Sync", ...
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  uint32_t correlation = 0;
  uint32_t context = 0;
  int64_t stream = -1;  // -1: not applicable (context sync, event sync)
  int64_t event = -1;   // -1: not applicable
};

// One closed NVTX range on a host thread: these are the "operators".
struct Range {
  uint32_t name_idx = 0;
  uint32_t domain_idx = 0;  // 0 = the default domain (empty string)
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint64_t id = 0;  // unique within the trace; written as "External id"
};

struct DeviceInfo {
  uint32_t id = 0;
  uint32_t name_idx = 0;
  uint32_t compute_major = 0;
  uint32_t compute_minor = 0;
  uint32_t num_sms = 0;
  uint64_t global_memory = 0;
};

// Interns strings so that a name shared by thousands of records is stored once. Index 0 is the empty string.
class StringTable {
 public:
  StringTable() { intern(""); }
  uint32_t intern(std::string_view s) {
    auto it = index_.find(std::string(s));
    if (it != index_.end()) return it->second;
    uint32_t idx = static_cast<uint32_t>(strings_.size());
    strings_.emplace_back(s);
    index_.emplace(strings_.back(), idx);
    return idx;
  }
  const std::string& at(uint32_t idx) const { return strings_.at(idx); }
  size_t size() const { return strings_.size(); }

 private:
  std::vector<std::string> strings_;
  std::unordered_map<std::string, uint32_t> index_;
};

// Counts of things the collector saw but could not turn into events. Reported, never hidden.
struct CollectorCounts {
  uint64_t dropped_records = 0;         // cuptiActivityGetNumDroppedRecords, summed
  uint64_t ops_without_timestamps = 0;  // GPU ops with start == end == 0 (not written)
  uint64_t unclosed_ranges = 0;         // NVTX start markers with no end at exit
  uint64_t unmatched_range_ends = 0;    // NVTX end markers with no start
  uint64_t instant_markers = 0;         // nvtxMark: not written
  uint64_t unknown_records = 0;         // activity kinds we enabled but do not convert
  uint64_t buffers_completed = 0;
  uint64_t buffers_allocated_on_request = 0;  // buffer requests the pool could not serve: zeroed on the app thread
  uint64_t api_calls_lost = 0;  // callback API source: calls that found their thread's log full (or no memory)
};

struct TraceModel {
  StringTable strings;
  std::vector<ApiCall> api_calls;
  std::vector<GpuOp> gpu_ops;
  std::vector<SyncOp> syncs;
  std::vector<Range> ranges;
  std::vector<DeviceInfo> devices;
  std::unordered_map<uint32_t, uint32_t> context_device;  // context id -> device id
  CollectorCounts counts;
  uint32_t pid = 0;
  std::string cupti_version;  // e.g. "130001"
  std::string clock = "CLOCK_MONOTONIC";
  std::string runtime_apis = "all";     // "all", or "no host queries" (see is_host_query_runtime_api)
  std::string api_source = "activity";  // API calls from CUPTI "activity" records or from our own "callback"
  std::string thread_ids = "system";    // "system" (gettid) or "cupti" (CUPTI's default, pthread_self)
};

}  // namespace launchprof::record
