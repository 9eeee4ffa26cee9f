// Block-level helpers on top of sync.cuh: one thread waits, the block follows; timeouts are recorded once.
#pragma once

#include "kernel_params.h"
#include "sync.cuh"

namespace onemoe::device {

// This forward's epoch: one past the last forward's, which that forward's last block stored (finish_block), and
// never 0. It lives in device memory, not in the launch parameters, so that every replay of a captured CUDA graph
// is a new forward: a replayed parameter would let a replay accept the previous replay's flags and inbox words.
// A plain load suffices: the previous forward's kernel has completed before this one starts (stream order).
__device__ inline uint32_t this_forward_epoch(const KernelParams& p) {
  const uint32_t next = ld_relaxed_gpu(p.forward_epoch) + 1;
  return next == 0 ? 1 : next;
}

__device__ inline WaitContext make_wait_context(const KernelParams& p, uint64_t start_ns) {
  return WaitContext{start_ns + p.wait_timeout_ns, &p.error->abort_epoch, this_forward_epoch(p)};
}

// Records the first failure of this forward and tells every other waiter to give up.
__device__ inline void record_failure(const KernelParams& p, const WaitContext& ctx, WaitSite site, uint32_t index,
                                      uint32_t have, uint32_t want) {
  if (atomicCAS(&p.error->code, 0u, 1u) == 0u) {
    p.error->site = uint32_t(site);
    p.error->block = blockIdx.x;
    p.error->index = index;
    p.error->have = have;
    p.error->want = want;
    __threadfence();
  }
  atomicExch(&p.error->abort_epoch, ctx.epoch);
}

__device__ inline void record_timeout(const KernelParams& p, const WaitContext& ctx, WaitSite site, uint32_t index,
                                      const uint32_t* flag, uint32_t want) {
  record_failure(p, ctx, site, index, ld_relaxed_gpu(flag), want);
}

// Per thread: whether some block gave this forward up. Threads of a block may read different answers; a decision
// that precedes a block barrier must be made block-uniform first (block_aborted).
__device__ inline bool forward_aborted(const WaitContext& ctx) { return ld_relaxed_gpu(ctx.abort_word) == ctx.epoch; }

// Block-wide (every thread calls it, at a block barrier): whether the forward was given up, the same answer on
// every thread of the block.
__device__ inline bool block_aborted(const WaitContext& ctx) { return __syncthreads_or(forward_aborted(ctx)); }

// Expert parallelism keeps a failed forward's error record (the host never clears it there): a peer may still
// add to this rank's window counters after its timeout, so no later forward of the context can trust them. A
// forward that finds a record gives up before its first ticket, on every block (thread 0 decides for its block).
// The host refuses run() on such a context too, but a replayed CUDA graph launches without asking it.
__device__ inline void give_up_if_context_failed(const KernelParams& p, const WaitContext& ctx) {
  if (threadIdx.x == 0 && ld_relaxed_gpu(&p.error->code) != 0) atomicExch(&p.error->abort_epoch, ctx.epoch);
}

// Timeline only: thread 0 notes when the running task passed its mark `which` (kept in StageSmem::task_mark_ns).
__device__ inline void mark_task(const KernelParams& p, uint64_t* marks_ns, int which) {
  if (p.task_spans != nullptr && threadIdx.x == 0) marks_ns[which] = global_timer_ns();
}

// The test hook of KernelParams::inject_epoch: this wait of this forward is to fail as a timeout would.
__device__ inline bool injected_timeout(const KernelParams& p, const WaitContext& ctx, WaitSite site) {
  return p.inject_epoch == ctx.epoch && p.inject_site == uint32_t(site);
}

// Thread 0 waits for *flag >= want; every thread gets the outcome. Reads the block makes after a true
// return are ordered after the acquire (bar.sync is cumulative); thread 0, which issues the TMA loads, also
// fences the async proxy so those loads see what the generic-proxy stores published (expert rows, hidden).
__device__ inline bool block_wait_at_least(const KernelParams& p, const WaitContext& ctx, const uint32_t* flag,
                                           uint32_t want, WaitSite site, uint32_t index, int* s_flag) {
  if (threadIdx.x == 0) {
    const bool ok = !injected_timeout(p, ctx, site) && wait_at_least(flag, want, ctx);
    if (ok) fence_proxy_async_global();
    if (!ok && !forward_aborted(ctx)) record_timeout(p, ctx, site, index, flag, want);
    *s_flag = ok;
  }
  __syncthreads();
  const bool ok = *s_flag != 0;
  __syncthreads();
  return ok;
}

// Thread 0 waits until ready() holds (a system-scope flag of the expert-parallel protocol), then orders
// what the acquire made visible before its later TMA reads; every thread gets the outcome. On timeout
// `have()` is recorded.
template <class Ready, class Have>
__device__ inline bool block_wait_until(const KernelParams& p, const WaitContext& ctx, Ready&& ready, Have&& have,
                                        uint32_t want, WaitSite site, uint32_t index, int* s_flag) {
  if (threadIdx.x == 0) {
    const bool ok = !injected_timeout(p, ctx, site) && wait_until(ready, ctx);
    if (ok) fence_proxy_async_global();
    if (!ok && !forward_aborted(ctx)) record_failure(p, ctx, site, index, have(), want);
    *s_flag = ok;
  }
  __syncthreads();
  const bool ok = *s_flag != 0;
  __syncthreads();
  return ok;
}

// Every thread's global writes so far become visible before thread 0 publishes them with a release add.
__device__ inline void block_publish_add(uint32_t* counter, uint32_t value) {
  // No fence per thread: the barrier orders every thread's stores before thread 0's release, and a release is
  // cumulative over what it has observed (docs/protocol.md).
  __syncthreads();
  if (threadIdx.x == 0) red_add_release_gpu(counter, value);
}

// Called by a GEMM task that finds no expert tile (its tile is past the forward's last one): every ticket from
// here to `end` is such a no-op, the tail of a range sized for the worst-case routing (on two GPUs at T=16384,
// over half of the GEMM tickets; each cost a block ~1.5 us, run 58). Moving the counter past them skips them.
__device__ inline void skip_empty_gemm_tickets(const KernelParams& p, uint32_t end) {
  if (threadIdx.x == 0) atomicMax(&p.counters->ticket, end);
}

}  // namespace onemoe::device
