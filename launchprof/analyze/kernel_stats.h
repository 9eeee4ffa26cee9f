// Top-k tables: kernels by count and by total time, and the operators that launch the most kernels.
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
  uint64_t joined = 0;
  int64_t lq_ns = 0;  // summed over joined kernels
};

struct OpStat {
  std::string name;
  uint64_t launches = 0;
  uint64_t kernels = 0;
  int64_t lq_ns = 0;  // TKLQT of the kernels it launched
};

struct KernelTables {
  std::vector<KernelStat> by_count;
  std::vector<KernelStat> by_time;
  std::vector<OpStat> ops_by_kernels;
  uint64_t distinct_kernel_names = 0;
};

KernelTables top_tables(const TraceData& trace, const JoinResult& join, const PerKernelDerived& derived,
                        size_t top_n);

}  // namespace launchprof
