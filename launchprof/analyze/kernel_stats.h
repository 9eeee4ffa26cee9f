// Top-k tables: kernels by count and by total time (with min, max, standard deviation and share of GPU time),
// operators by kernels launched and by GPU time (with their CPU time), API calls by name, and copies and sets by
// kind and size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launchprof/analyze/event_model.h"
#include "launchprof/analyze/join.h"
#include "launchprof/analyze/metrics.h"

namespace launchprof {

struct KernelStat {
  std::string name;
  uint64_t count = 0;
  int64_t total_ns = 0;
  int64_t min_ns = 0, max_ns = 0;
  double std_ns = 0.0;  // population standard deviation of the durations
  uint64_t joined = 0;
  int64_t lq_ns = 0;  // summed over joined kernels
};

struct OpStat {
  std::string name;
  uint64_t calls = 0;    // operator events with this name
  int64_t cpu_ns = 0;    // their summed durations (inclusive of nested operators)
  uint64_t launches = 0;
  uint64_t kernels = 0;
  int64_t gpu_ns = 0;    // summed durations of the kernels it launched (as the innermost operator of the launch)
  int64_t lq_ns = 0;     // TKLQT of the kernels it launched
};

struct ApiStat {  // runtime and driver calls by name, like nsys's cuda_api_sum
  std::string name;
  bool is_driver = false;
  uint64_t calls = 0;
  int64_t total_ns = 0, min_ns = 0, max_ns = 0;
  uint64_t kernels = 0;  // kernels joined to these calls
};

struct MemStat {  // copies and sets by kind (the event name) and size class
  std::string kind;      // "Memcpy HtoD (Pageable -> Device)", "Memset (Device)", ...
  std::string size;      // "<= 4 KiB", "<= 64 KiB", "<= 1 MiB", "<= 16 MiB", "> 16 MiB", "unknown"
  uint64_t count = 0;
  int64_t bytes = 0;
  int64_t total_ns = 0;
};

struct KernelTables {
  std::vector<KernelStat> by_count;
  std::vector<KernelStat> by_time;
  std::vector<OpStat> ops_by_kernels;
  std::vector<OpStat> ops_by_gpu_time;
  std::vector<ApiStat> apis_by_time;
  std::vector<MemStat> mems;  // every (kind, size) group, by total time
  uint64_t distinct_kernel_names = 0;
  int64_t kernel_time_ns = 0;  // all kernels: the denominator of a kernel's share of GPU time
};

KernelTables top_tables(const TraceData& trace, const JoinResult& join, const PerKernelDerived& derived,
                        size_t top_n);

}  // namespace launchprof
