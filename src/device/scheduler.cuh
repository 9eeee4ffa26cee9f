// The task queue of the persistent grid. Blocks take tickets from one counter; tickets are numbered in
// dependency order ([route][dispatch][gathers and gemm1][gemm2 and combine], see ticket_layout.h) and a task only ever
// waits on tasks with smaller tickets. Since every block is resident (cooperative launch), the smallest unfinished ticket
// can always run, so the waits cannot form a cycle.
#pragma once

#include "block_sync.cuh"
#include "kernel_params.h"
#include "ticket_layout.h"

namespace onemoe::device {

enum class Phase { kRoute, kDispatch, kGather, kGemm1, kGemm2, kCombine, kDone };

struct Task {
  Phase phase;
  int index;      // route tile, expert tile (gather), the task's index within its GEMM stage (or GEMM2 group),
                  // or the combine task
  int group = 0;  // GEMM2: the column group (ticket_layout.h)
};

// Not inlined: its loop and 64-bit arithmetic would otherwise take registers from the GEMM tiles around it.
static __device__ __noinline__ Task decode_late_ticket(const KernelParams& p, uint32_t ticket) {
  const LateTicket late = locate_late_ticket(ticket - p.first_gemm2_ticket, p.max_expert_tiles, p.gemm2_n_tiles,
                                             p.gemm2_groups, p.num_route_tiles, p.combine_parts);
  return late.combine ? Task{Phase::kCombine, late.index} : Task{Phase::kGemm2, late.index, late.group};
}

__device__ inline Task decode_ticket(const KernelParams& p, uint32_t ticket) {
  if (ticket < p.first_dispatch_ticket) return {Phase::kRoute, int(ticket)};
  if (ticket < p.first_gemm1_ticket) return {Phase::kDispatch, int(ticket - p.first_dispatch_ticket)};
  if (ticket < p.first_gemm2_ticket) {
    const EarlyTicket early =
        locate_gemm1_ticket(ticket - p.first_gemm1_ticket, p.max_expert_tiles, p.gemm1_n_tiles, p.gather_lead);
    return {early.gather ? Phase::kGather : Phase::kGemm1, early.index};
  }
  if (ticket >= p.num_tickets) return {Phase::kDone, 0};
  return decode_late_ticket(p, ticket);
}

// Block-wide: the block's first ticket (num_tickets once the forward is over or aborted).
__device__ inline uint32_t fetch_ticket(const KernelParams& p, const WaitContext& ctx, uint32_t* s_ticket) {
  if (threadIdx.x == 0) *s_ticket = forward_aborted(ctx) ? p.num_tickets : atomicAdd(&p.counters->ticket, 1u);
  __syncthreads();
  const uint32_t ticket = *s_ticket;
  __syncthreads();
  return ticket;
}

// Called as a task starts: the last thread takes the block's next ticket while the task runs, so the
// counter's atomic and the abort check (an L2 round trip each) overlap the task's own first waits instead of
// following its end. With one block per SM nothing else covers that gap (GEMM tasks: ~2.3 µs from start to
// inputs ready, run 51). A block then holds two tickets, the running one and the next; still deadlock-free
// (docs/protocol.md, "Why it cannot deadlock"). Not thread 0, which issues the GEMMs' TMA loads.
__device__ inline void prefetch_next_ticket(const KernelParams& p, const WaitContext& ctx, uint32_t* s_ticket) {
  if (threadIdx.x == blockDim.x - 1) {
    const uint32_t taken = atomicAdd(&p.counters->ticket, 1u);  // both loads in flight at once
    *s_ticket = forward_aborted(ctx) ? p.num_tickets : taken;
  }
}

// GEMM and combine tasks take their next ticket late instead, after their last wait: a GEMM task when its
// mainloop is done (TileMarks, ~2 µs before it ends, so the atomic still overlaps the epilogue), a combine task
// when its rows are ready. Held from the start, through a ~30 µs GEMM or a combine's wait for the last GEMM2, the
// last tickets of a stage waited behind busy blocks while other blocks had nothing to take (decode: two of the 32
// combine tasks started after GEMM2's end and ran 6 µs past the others, run 62).
inline constexpr uint32_t kTicketDeferred = 0xFFFFFFFFu;
__device__ inline void defer_next_ticket(uint32_t* s_ticket) {
  if (threadIdx.x == blockDim.x - 1) *s_ticket = kTicketDeferred;  // the only thread that writes it in a task
}
__device__ inline void take_deferred_ticket(const KernelParams& p, const WaitContext& ctx, uint32_t* s_ticket) {
  if (threadIdx.x == blockDim.x - 1 && *s_ticket == kTicketDeferred) prefetch_next_ticket(p, ctx, s_ticket);
}

// Block-wide, after the task: the ticket prefetch_next_ticket took (taken now if the task deferred it and
// returned before its mainloop).
__device__ inline uint32_t take_prefetched_ticket(const KernelParams& p, const WaitContext& ctx, uint32_t* s_ticket) {
  take_deferred_ticket(p, ctx, s_ticket);
  __syncthreads();
  const uint32_t ticket = *s_ticket;
  __syncthreads();
  return ticket;
}

// Thread 0: the span of the task of `ticket` into the timeline, when one is attached, with the marks the task
// left in marks_ns (see mark_task); clears them for the next task.
__device__ inline void record_task_span(const KernelParams& p, const WaitContext& ctx, uint32_t ticket,
                                        uint64_t start_ns, uint64_t* marks_ns, uint32_t stage = kSpanStageFromTicket,
                                        int32_t index = 0) {
  if (p.task_spans == nullptr || threadIdx.x != 0 || ticket >= p.num_tickets) return;
  uint32_t sm;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
  TaskSpanRecord r{start_ns, global_timer_ns(), blockIdx.x, sm, ctx.epoch, {}, stage, index};
  for (int i = 0; i < kTaskMarks; ++i) {
    r.mark_offset_ns[i] = marks_ns[i] >= start_ns ? uint32_t(marks_ns[i] - start_ns) + 1 : 0;
    marks_ns[i] = 0;
  }
  p.task_spans[ticket] = r;
}

// The last block out returns every counter to zero, so the next forward starts clean without a memset, and
// stores this forward's epoch, from which the next forward takes its own (this_forward_epoch). Every other block
// read the epoch before its acq_rel add to blocks_done, so none can see the new value.
__device__ inline void finish_block(const KernelParams& p, const WaitContext& ctx, int32_t* s_is_last) {
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    *s_is_last = atomic_add_acq_rel_gpu(&p.counters->blocks_done, 1) == gridDim.x - 1;
  }
  __syncthreads();
  if (!*s_is_last) return;
  for (int i = threadIdx.x; i < p.max_expert_tiles; i += blockDim.x) {
    p.row_tile_ready[i] = 0;
    if (p.row_tile_gathered != nullptr) p.row_tile_gathered[i] = 0;
    p.gemm1_tiles_done[i] = 0;
  }
  for (int i = threadIdx.x; i < p.max_expert_tiles * p.gemm2_groups; i += blockDim.x) p.gemm2_tiles_done[i] = 0;
  for (int i = threadIdx.x; i < p.num_route_tiles; i += blockDim.x) p.dispatch_done[i] = 0;
  if (threadIdx.x == 0) {
    *p.counters = SyncCounters{};
    *p.forward_epoch = ctx.epoch;
  }
  __threadfence();
}

}  // namespace onemoe::device
