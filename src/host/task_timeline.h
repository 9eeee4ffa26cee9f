// The optional per-task timeline of a context (ContextOptions::record_task_timeline): a device buffer of one
// TaskSpanRecord per ticket, attached to each forward's parameters and read back as TaskSpans.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "device/kernel_params.h"
#include "onemoe/onemoe.h"

namespace onemoe::host {

class TaskTimeline {
 public:
  TaskTimeline() = default;
  TaskTimeline(const TaskTimeline&) = delete;
  TaskTimeline& operator=(const TaskTimeline&) = delete;
  ~TaskTimeline();

  // Room for the most tasks any forward of up to max_tokens tokens has; tickets_for(T) gives a forward's count.
  // Call with the context's device current.
  template <class TicketsFor>
  Result allocate_for(int64_t max_tokens, TicketsFor&& tickets_for) {
    uint32_t most = 0;
    for (int64_t t = 1; t <= max_tokens + device::kTileM - 1; t += device::kTileM)  // every route-tile count
      most = std::max(most, tickets_for(std::min(t + device::kTileM - 1, max_tokens)));
    return allocate(most);
  }
  Result allocate(uint32_t tickets);
  bool enabled() const { return spans_ != nullptr; }
  // Attaches the buffer to a forward's parameters (no-op when not allocated) and remembers its ticket ranges.
  void attach(device::KernelParams* p);
  // The last attached forward's tasks, in ticket order; call after the forward has completed.
  Result read(std::vector<TaskSpan>* out) const;

 private:
  device::TaskSpanRecord* spans_ = nullptr;
  uint32_t capacity_ = 0;
  int device_ = 0;
  device::KernelParams last_{};  // the last attached forward (task_spans null: none recorded)
};

}  // namespace onemoe::host
