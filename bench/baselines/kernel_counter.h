// Counts the device kernels, memcpys and memsets executed in a region, with CUPTI's activity API.
//
//   KernelCounter counter;
//   counter.start();            // with the device idle: work enqueued before start is not counted
//   ... launches ...
//   counter.stop_and_flush();   // synchronizes the device, flushes CUPTI, stops recording
//   counter.kernels();
//
// CUPTI activity buffers are process-wide, so one counter records at a time (start fails otherwise). It
// does not mix with another CUPTI activity client in the same process (e.g. launchprof's injection).
// Nothing here aborts: a CUPTI or CUDA failure (e.g. no GPU) comes back as a Result.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "onemoe/onemoe.h"

namespace onemoe::baselines {

class KernelCounter {
 public:
  KernelCounter() = default;
  ~KernelCounter();  // stops recording if still active
  KernelCounter(const KernelCounter&) = delete;
  KernelCounter& operator=(const KernelCounter&) = delete;

  // Resets the counts and starts recording. Fails if no device is visible or CUPTI cannot enable activities.
  Result start();
  // Waits for the device, delivers every record, and stops recording. Counts are final after this.
  Result stop_and_flush();

  int64_t kernels() const { return kernels_.load(); }
  int64_t memcpys() const { return memcpys_.load(); }
  int64_t memsets() const { return memsets_.load(); }
  int64_t dropped_records() const { return dropped_.load(); }  // non-zero means the counts are low
  // Kernel names in delivery order (only kept after set_keep_names(true)); for debugging launch counts.
  void set_keep_names(bool keep) { keep_names_ = keep; }
  std::vector<std::string> kernel_names() const;

  // Called by the CUPTI buffer callback; not for users.
  void on_records(uint8_t* buffer, size_t valid_bytes);

 private:
  bool active_ = false;
  bool keep_names_ = false;
  std::atomic<int64_t> kernels_{0};
  std::atomic<int64_t> memcpys_{0};
  std::atomic<int64_t> memsets_{0};
  std::atomic<int64_t> dropped_{0};
  mutable std::mutex names_mutex_;
  std::vector<std::string> names_;
};

}  // namespace onemoe::baselines
