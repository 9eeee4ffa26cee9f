// Per-thread log of API calls written from CUPTI callbacks (the "callback" API source; see cupti_collector.h).
// The launching thread appends without a lock: each thread owns its log, and a reader takes what a release store
// of the count has published. Only a thread's first call (registering its log) and a full chunk (one allocation
// per kChunkCalls calls) cost more than a few stores. No CUPTI types here, so the CPU tests drive it directly.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace launchprof::record {

struct LoggedCall {
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  uint32_t correlation = 0;
  uint32_t cbid = 0;
  uint32_t tid = 0;
  uint32_t return_value = 0;
  uint8_t domain = 0;  // ApiDomain value
};

class ApiCallLog {
 public:
  static constexpr size_t kChunkCalls = 16384;  // 640 KiB per chunk
  static constexpr size_t kMaxChunks = 4096;    // per thread: 67 M calls, then calls are counted as lost

  // Appends on the calling thread's log. tid is the caller's thread id (cached by the caller).
  void append(const LoggedCall& call);
  // Moves every published call not taken before into out (thread by thread, each in call order).
  void take(std::vector<LoggedCall>& out);
  // Calls that found their thread's log full.
  uint64_t lost() const { return lost_.load(std::memory_order_relaxed); }

 private:
  struct ThreadLog;
  ThreadLog* thread_log();

  static uint64_t next_serial();
  const uint64_t serial_ = next_serial();  // tells this log's thread entries from those of an earlier log
  std::atomic<ThreadLog*> head_{nullptr};  // every thread's log, newest first; never freed (threads may outlive us)
  std::atomic<uint64_t> lost_{0};
};

}  // namespace launchprof::record
