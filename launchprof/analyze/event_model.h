// The compact event model: only the fields the analysis needs, times in integer nanoseconds.
// A 1 GB trace becomes a few hundred MB of these records; names are interned once.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace launchprof {

constexpr int64_t kNoId = INT64_MIN;  // a missing correlation / External id

// Records hold times as offsets from the first timestamped event (TraceData::time_base_ns). Offsets and
// durations beyond 2^50 ns (13 days) are rejected as out of range, so that ends, differences and sums stay far
// from int64 overflow even on garbage input.
constexpr int64_t kMaxTimeOffsetNs = int64_t{1} << 50;

// Interns strings so that each record carries a 32-bit id instead of a copy of its name.
class StringTable {
 public:
  uint32_t intern(std::string_view s);
  std::string_view name(uint32_t id) const { return strings_[id]; }
  size_t size() const { return strings_.size(); }

 private:
  std::deque<std::string> strings_;  // deque: stable addresses for the string_view keys below
  std::unordered_map<std::string_view, uint32_t> ids_;
};

// What a runtime/driver API call does, judged from its name (see api_kind.cpp).
enum class ApiKind : uint8_t {
  kKernelLaunch,  // cudaLaunchKernel*, cudaLaunchCooperativeKernel*, cuLaunchKernel*, ...
  kGraphLaunch,   // cudaGraphLaunch, cuGraphLaunch: many kernels share its correlation
  kMemcpyAsync,
  kMemcpySync,    // cudaMemcpy and friends without Async: the host waits, so fusion chains split here
  kMemset,
  kSync,          // device / stream / event / context synchronize
  kOther,
};

enum class OpKind : uint8_t { kCpuOp, kUserAnnotation };

struct KernelRec {
  int64_t ts_ns;
  int64_t dur_ns;
  int64_t correlation;  // kNoId when absent
  int64_t stream;
  int32_t device;
  uint32_t name;
};

struct ApiRec {
  int64_t ts_ns;
  int64_t dur_ns;
  int64_t correlation;  // kNoId when absent
  int64_t external_id;  // kNoId when absent
  int64_t pid;
  int64_t tid;
  uint32_t name;
  ApiKind kind;
  bool is_driver;
};

struct OpRec {
  int64_t ts_ns;
  int64_t dur_ns;
  int64_t external_id;  // kNoId when absent
  int64_t pid;
  int64_t tid;
  uint32_t name;
  OpKind kind;
};

struct MemRec {  // gpu_memcpy / gpu_memset activity
  int64_t ts_ns;
  int64_t dur_ns;
  int64_t stream;
  int64_t bytes;  // args.bytes, kNoId when absent
  int32_t device;
  uint32_t name;  // "Memcpy HtoD (Pageable -> Device)", "Memset (Device)", ...
  bool is_memset;
};

struct TaskRec {  // a task inside a kernel, merged from onemoe-bench's timeline by `launchprof timeline`
  int64_t ts_ns;
  int64_t dur_ns;
  int64_t pid;
  int64_t tid;    // one track per SM (and lane, when tasks on one SM overlap)
  uint32_t name;  // the stage: route, plan, dispatch, gather, gemm1, gemm2, combine
};

struct FlowRec {  // "ac2g" launch-to-kernel flow arrows; only counted, the join uses correlation ids
  int64_t id;
  char phase;  // 's' or 'f'
};

// Counts of what the reader saw and skipped; nothing is dropped without being counted here.
struct ReadCounts {
  uint64_t events = 0;
  uint64_t kernels = 0;
  uint64_t runtime = 0;
  uint64_t driver = 0;
  uint64_t memcpy = 0;
  uint64_t memset = 0;
  uint64_t cpu_ops = 0;
  uint64_t user_annotations = 0;
  uint64_t gpu_user_annotations = 0;
  uint64_t gpu_syncs = 0;  // Kineto "cuda_sync" (counted; host-side sync API calls split fusion chains)
  uint64_t flows = 0;
  uint64_t in_kernel_tasks = 0;  // onemoe_task slices (launchprof timeline)
  uint64_t in_kernel_marks = 0;  // onemoe_mark instants
  uint64_t other = 0;                 // categories the analysis does not use (python_function, Trace, ...)
  uint64_t skipped_bad_phase = 0;     // a used category with a phase other than "X" (or s/f for flows)
  uint64_t skipped_missing_time = 0;  // a used category without a numeric ts or dur, or one out of range
                                      // (more than kMaxTimeOffsetNs from the trace's first event)
  uint64_t negative_durations = 0;    // kept as is, reported
  uint64_t input_bytes = 0;           // uncompressed JSON bytes
  uint64_t stored_bytes = 0;          // bytes on disk
};

struct TraceData {
  std::vector<KernelRec> kernels;
  std::vector<ApiRec> apis;
  std::vector<OpRec> ops;
  std::vector<MemRec> mems;
  std::vector<FlowRec> flows;
  std::vector<TaskRec> tasks;
  StringTable names;
  std::string gpu_name;       // from the Kineto "deviceProperties" header, if any
  int64_t time_base_ns = 0;   // absolute time of offset 0
  bool has_time_base = false;
  ReadCounts counts;
};

}  // namespace launchprof
