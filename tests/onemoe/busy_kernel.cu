#include "busy_kernel.h"

#include <cstdint>

namespace onemoe::testing {
namespace {

// Spins for `ns` nanoseconds of %globaltimer: bounded by construction, whatever else runs.
__global__ void spin_for(uint64_t ns) {
  uint64_t start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    __nanosleep(1000);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
}

}  // namespace

cudaError_t launch_busy_kernel(int blocks, int threads, double milliseconds, cudaStream_t stream) {
  spin_for<<<blocks, threads, 0, stream>>>(uint64_t(milliseconds * 1e6));
  return cudaGetLastError();
}

}  // namespace onemoe::testing
