// Memory-ordering wrappers named by semantics and scope, and the one bounded spin-wait every
// device-side wait goes through. Scope "gpu" orders within one GPU; "sys" across GPUs (NVLink peers).
#pragma once

#include <cstdint>

#include "kernel_params.h"

namespace onemoe::device {

__device__ __forceinline__ uint32_t ld_acquire_gpu(const uint32_t* p) {
  uint32_t v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ uint32_t ld_relaxed_gpu(const uint32_t* p) {
  uint32_t v;
  asm volatile("ld.relaxed.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ void st_release_gpu(uint32_t* p, uint32_t v) {
  asm volatile("st.release.gpu.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ void st_relaxed_gpu(uint32_t* p, uint32_t v) {
  asm volatile("st.relaxed.gpu.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

// Adds v with release semantics: everything this thread (and, through a preceding CTA barrier, its block)
// wrote before is visible to whoever acquires the new value.
__device__ __forceinline__ void red_add_release_gpu(uint32_t* p, uint32_t v) {
  asm volatile("red.release.gpu.global.add.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ uint32_t atomic_add_acq_rel_gpu(uint32_t* p, uint32_t v) {
  uint32_t old;
  asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], %2;" : "=r"(old) : "l"(p), "r"(v) : "memory");
  return old;
}

// System scope: flags shared with peer GPUs over NVLink (expert parallelism, docs/protocol.md).
__device__ __forceinline__ uint32_t ld_acquire_sys(const uint32_t* p) {
  uint32_t v;
  asm volatile("ld.acquire.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ uint64_t ld_relaxed_sys_u64(const uint64_t* p) {
  uint64_t v;
  asm volatile("ld.relaxed.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  return v;
}

__device__ __forceinline__ void st_relaxed_sys_u64(uint64_t* p, uint64_t v) {
  asm volatile("st.relaxed.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ void st_release_sys(uint32_t* p, uint32_t v) {
  asm volatile("st.release.sys.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ void red_add_release_sys(uint32_t* p, uint32_t v) {
  asm volatile("red.release.sys.global.add.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ uint32_t atomic_add_acq_rel_sys(uint32_t* p, uint32_t v) {
  uint32_t old;
  asm volatile("atom.acq_rel.sys.global.add.u32 %0, [%1], %2;" : "=r"(old) : "l"(p), "r"(v) : "memory");
  return old;
}

// Orders this thread's earlier generic-proxy view (what an acquire made visible) before later TMA reads.
__device__ __forceinline__ void fence_proxy_async_global() { asm volatile("fence.proxy.async.global;" ::: "memory"); }

__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

struct WaitContext {
  uint64_t deadline_ns;  // absolute %globaltimer value
  uint32_t* abort_word;  // holds the epoch of a forward that gave up
  uint32_t epoch;
};

// Spins until ready() holds. Returns false if the forward was aborted elsewhere or the deadline passed;
// the caller then unwinds. One thread per waiting group calls it. The pause between polls grows to
// kMaxPollSleepNs: hundreds of blocks polling a few flags every 32 ns slow down the tasks they wait for.
inline constexpr uint32_t kMaxPollSleepNs = 512;
template <class Ready>
__device__ __forceinline__ bool wait_until(Ready&& ready, const WaitContext& ctx) {
  uint32_t spins = 0, sleep_ns = 32;
  while (!ready()) {
    if ((++spins & 63) == 0) {
      if (ld_relaxed_gpu(ctx.abort_word) == ctx.epoch) return false;
      if (global_timer_ns() > ctx.deadline_ns) return false;
    }
    __nanosleep(sleep_ns);
    if (sleep_ns < kMaxPollSleepNs) sleep_ns *= 2;
  }
  return true;
}

// Spins until *flag >= target (acquire, this GPU).
__device__ __forceinline__ bool wait_at_least(const uint32_t* flag, uint32_t target, const WaitContext& ctx) {
  return wait_until([&] { return ld_acquire_gpu(flag) >= target; }, ctx);
}

}  // namespace onemoe::device
