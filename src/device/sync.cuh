// Memory-ordering wrappers named by semantics and scope, and the one bounded spin-wait every
// device-side wait goes through. Scope "gpu" orders within one GPU; "sys" across GPUs (NVLink peers).
#pragma once

#include <cstdint>

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

__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Why a wait gave up; recorded in the error record for the host.
enum class WaitSite : uint32_t {
  kNone = 0,
  kPlanReady,
  kRowTileDispatched,
  kExpertHiddenDone,
  kExpertOutputDone,
  kDispatchDone,
};

struct WaitContext {
  uint64_t deadline_ns;  // absolute %globaltimer value
  uint32_t* abort_word;  // holds the epoch of a forward that gave up
  uint32_t epoch;
};

// Spins until *flag >= target (acquire). Returns false if the forward was aborted elsewhere or the deadline
// passed; the caller then unwinds. One thread per waiting group calls it.
__device__ __forceinline__ bool wait_at_least(const uint32_t* flag, uint32_t target, const WaitContext& ctx) {
  uint32_t spins = 0;
  while (ld_acquire_gpu(flag) < target) {
    if ((++spins & 63) == 0) {
      if (ld_relaxed_gpu(ctx.abort_word) == ctx.epoch) return false;
      if (global_timer_ns() > ctx.deadline_ns) return false;
    }
    __nanosleep(32);
  }
  return true;
}

}  // namespace onemoe::device
