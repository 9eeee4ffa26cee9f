// Test hooks of the library (not installed, not part of the API): make one chosen forward fail at a chosen wait,
// so that the tests can drive every timeout path (recovery on one GPU, the unusable state under expert
// parallelism, CUDA-graph replays) without depending on timing.
#pragma once

#include <cstdint>

#include "device/kernel_params.h"
#include "onemoe/distributed.h"
#include "onemoe/onemoe.h"

namespace onemoe::internal {

// The friend of Context and DistributedContext that these hooks reach the implementations through.
struct ContextAccess {
  static ContextImpl& impl(Context& c) { return *c.impl_; }
  static DistributedContextImpl& impl(DistributedContext& c) { return *c.impl_; }
};

// The forward `forwards_ahead` forwards after the last one that ran on the context (1: the next) gives up at its
// first block-wide wait on `site`, exactly as if that wait had timed out. Synchronises the device (it reads the
// device's epoch), so call it before capturing a graph to make one of its replays fail. forwards_ahead 0 clears it.
Result inject_wait_timeout(Context& ctx, device::WaitSite site, uint32_t forwards_ahead);
Result inject_wait_timeout(DistributedContext& ctx, device::WaitSite site, uint32_t forwards_ahead);

// Shared by both: the epoch of the forward `forwards_ahead` after the last one, read from the device word
// d_forward_epoch of `device` once its work is done (0 when forwards_ahead is 0).
Result epoch_ahead(int device, const void* d_forward_epoch, uint32_t forwards_ahead, uint32_t* epoch);

}  // namespace onemoe::internal
