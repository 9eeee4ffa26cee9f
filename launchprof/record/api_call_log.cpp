#include "api_call_log.h"

#include <new>

namespace launchprof::record {

struct ApiCallLog::ThreadLog {
  uint64_t owner = 0;  // serial_ of the log it belongs to
  ThreadLog* next = nullptr;
  std::atomic<size_t> published{0};  // calls written; a release store makes them visible to take()
  size_t taken = 0;                  // read by take() only (under its caller's lock)
  size_t freed = 0;                  // chunks [0, freed) were taken whole and freed by take()
  LoggedCall* chunks[kMaxChunks] = {};
};

uint64_t ApiCallLog::next_serial() {
  static std::atomic<uint64_t> serial{0};
  return serial.fetch_add(1, std::memory_order_relaxed) + 1;
}

ApiCallLog::ThreadLog* ApiCallLog::thread_log() {
  // One pointer per thread, shared by every ApiCallLog: there is one collector per process. A thread that writes
  // to another log (the tests) gets a new entry there; the old one stays with its owner.
  thread_local ThreadLog* mine = nullptr;
  if (mine != nullptr && mine->owner == serial_) return mine;
  auto* log = new ThreadLog();
  log->owner = serial_;
  ThreadLog* old_head = head_.load(std::memory_order_relaxed);
  do {
    log->next = old_head;
  } while (!head_.compare_exchange_weak(old_head, log, std::memory_order_release, std::memory_order_relaxed));
  mine = log;
  return log;
}

void ApiCallLog::append(const LoggedCall& call) {
  ThreadLog* log = thread_log();
  const size_t n = log->published.load(std::memory_order_relaxed);
  const size_t chunk = n / kChunkCalls;
  if (chunk >= kMaxChunks) {
    lost_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (log->chunks[chunk] == nullptr) {
    log->chunks[chunk] = new (std::nothrow) LoggedCall[kChunkCalls];
    if (log->chunks[chunk] == nullptr) {
      lost_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  log->chunks[chunk][n % kChunkCalls] = call;
  log->published.store(n + 1, std::memory_order_release);
}

void ApiCallLog::take(std::vector<LoggedCall>& out) {
  for (ThreadLog* log = head_.load(std::memory_order_acquire); log != nullptr; log = log->next) {
    const size_t n = log->published.load(std::memory_order_acquire);
    for (size_t i = log->taken; i < n; ++i) out.push_back(log->chunks[i / kChunkCalls][i % kChunkCalls]);
    log->taken = n;
    // A chunk before the one the writer fills now is never touched again: free it once taken.
    for (; log->freed < n / kChunkCalls; ++log->freed) {
      delete[] log->chunks[log->freed];
      log->chunks[log->freed] = nullptr;
    }
  }
}

}  // namespace launchprof::record
