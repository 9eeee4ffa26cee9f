// The expert-parallel MoE forward: one persistent kernel per GPU runs routing, the plan exchange, dispatch
// into the owners' windows, the owners' expert GEMMs, the return of output rows and the combine.
// Tickets, in dependency order on every rank: [route][plan][dispatch chunks and gemm1][gemm2][combine], the
// dispatch of chunk c before every GEMM1 task of chunk c (ticket_layout.h). A task waits only on tasks of
// earlier stages (or of its chunk's dispatch), here or on a peer, so with every block resident the waits cannot
// form a cycle (docs/protocol.md, "Why it cannot deadlock").
#pragma once

#include <nccl_device.h>

#include "ep_combine.cuh"
#include "ep_dispatch.cuh"
#include "ep_expert_ffn.cuh"
#include "ep_plan.cuh"
#include "router.cuh"
#include "scheduler.cuh"

namespace onemoe::device {

enum class EpPhase { kRoute, kPlan, kDispatch, kGemm1, kGemm2, kCombine, kDone };

// Block-wide: this rank's window tiles of each dispatch chunk, from the plan (waited for once per block).
__device__ inline bool ep_chunk_tiles(const EpKernelParams& ep, const WaitContext& wait_ctx, EpStageSmem& es) {
  if (es.chunk_tiles_known) return true;
  const KernelParams& p = ep.base;
  if (!block_wait_at_least(p, wait_ctx, &p.counters->plan_ready, 1, WaitSite::kPlanReady, 0, &es.base.flag))
    return false;
  if (threadIdx.x <= kEpDispatchChunks)
    es.chunk_tile_begin[threadIdx.x] = ep.local_tile_offset[ep.local_chunk_first[threadIdx.x]];
  if (threadIdx.x == 0) es.chunk_tiles_known = 1;
  __syncthreads();
  return true;
}

// The plan's single ticket sits between the route tickets and first_dispatch_ticket. Dispatch and GEMM1
// tickets are placed by the plan's tiles (locate_ep_middle_ticket), so decoding one waits for the plan.
// *index: the route tile, the GEMM task, the combine task, or (dispatch) chunk * route tiles + route tile.
__device__ inline EpPhase decode_ep_ticket(const EpKernelParams& ep, const WaitContext& wait_ctx, uint32_t ticket,
                                           int* index, EpStageSmem& es) {
  const KernelParams& p = ep.base;
  if (ticket < uint32_t(p.num_route_tiles)) return *index = int(ticket), EpPhase::kRoute;
  if (ticket < p.first_dispatch_ticket) return *index = 0, EpPhase::kPlan;
  if (ticket >= p.num_tickets) return EpPhase::kDone;
  if (ticket >= p.first_gemm2_ticket) {
    const Task task = decode_late_ticket(p, ticket);
    *index = task.index;
    return task.phase == Phase::kCombine ? EpPhase::kCombine : EpPhase::kGemm2;
  }
  if (!ep_chunk_tiles(ep, wait_ctx, es)) return EpPhase::kDone;  // the forward gave up
  const EpMiddleTicket t =
      locate_ep_middle_ticket(ticket - p.first_dispatch_ticket, p.num_route_tiles, p.dispatch_parts,
                              ep.dispatch_lead_chunks, es.chunk_tile_begin, p.gemm1_n_tiles);
  if (!t.dispatch) return *index = t.index, EpPhase::kGemm1;
  *index = t.chunk * p.num_route_tiles + t.index;
  return EpPhase::kDispatch;
}

// The timeline's stage of a task: dispatch and GEMM1 tickets interleave (the plan places them), so those two
// stages are named here; every other stage follows from the ticket's range.
__device__ inline uint32_t span_stage(EpPhase phase) {
  if (phase == EpPhase::kDispatch) return kSpanStageDispatch;
  if (phase == EpPhase::kGemm1) return kSpanStageGemm1;
  return kSpanStageFromTicket;
}

template <class Elem, bool kExactFp32>
__global__ void __launch_bounds__(kThreadsPerBlock, kMinBlocksPerSm) moe_ep_forward_kernel(const __grid_constant__ EpKernelParams ep) {
  static_assert(sizeof(DispatchSmem) <= gemm_smem_scratch_bytes<Elem, kExactFp32>() &&
                    kCombineSmemFloor <= gemm_smem_scratch_bytes<Elem, kExactFp32>(),
                "dispatch and combine stage their pair lists (and the combine its rows) in the GEMM smem");
  extern __shared__ uint8_t dynamic_smem[];
  __shared__ EpStageSmem es;
  const KernelParams& p = ep.base;
  // Offset from the __shared__ array itself (no integer round trip of the pointer), so the compiler keeps
  // knowing the scratch users' accesses are shared memory (LDS/STS, not generic LD/ST).
  const GemmSmem gemm_smem{
      dynamic_smem + ((1024u - (uint32_t(__cvta_generic_to_shared(dynamic_smem)) & 1023u)) & 1023u),
      &es.base.pipeline};
  void* const scratch = gemm_smem.operands;  // what the stages without a GEMM use between tiles
  const WaitContext wait_ctx = make_wait_context(p, global_timer_ns());
  // The plan gives up first, so that a silent peer is reported as such and not as a task waiting on the plan.
  WaitContext plan_wait_ctx = wait_ctx;
  plan_wait_ctx.deadline_ns -= p.wait_timeout_ns / 8;
  if (threadIdx.x == 0) {
    for (uint64_t& m : es.base.task_mark_ns) m = 0;
    es.chunk_tiles_known = 0;
  }
  if (threadIdx.x < ep.world_size)
    es.peer_base[threadIdx.x] = static_cast<char*>(ncclGetPeerPointer(ep.window, 0, int(threadIdx.x)));
  give_up_if_context_failed(p, wait_ctx);

  for (uint32_t ticket = fetch_ticket(p, wait_ctx, &es.base.ticket);;
       ticket = take_prefetched_ticket(p, wait_ctx, &es.base.ticket)) {
    bool done = false;
    // A warm-up pass through the GEMM1 case first where it applies (warm_gemm1_first), before decoding the
    // ticket (which waits for the plan), then the ticket's task.
    for (bool warm = ticket < p.num_tickets && warm_gemm1_first(p, ticket);; warm = false) {
      int index = kWarmGemm1Task;
      const EpPhase phase = warm ? EpPhase::kGemm1 : decode_ep_ticket(ep, wait_ctx, ticket, &index, es);
      if (phase == EpPhase::kDone) {
        done = true;
        break;
      }
      if (!warm) {
        if (phase == EpPhase::kGemm1 || phase == EpPhase::kGemm2 || phase == EpPhase::kCombine)
          defer_next_ticket(&es.base.ticket);
        else prefetch_next_ticket(p, wait_ctx, &es.base.ticket);
      }
      const uint64_t start_ns = p.task_spans != nullptr ? global_timer_ns() : 0;
      switch (phase) {
        case EpPhase::kRoute:
          route_tile<Elem, kExactFp32, false>(p, wait_ctx, index, gemm_smem, es.base);
          break;
        case EpPhase::kPlan:
          ep_plan_task(ep, plan_wait_ctx, scratch, es);
          break;
        case EpPhase::kDispatch:
          ep_dispatch_task<Elem>(ep, index / p.num_route_tiles, index % p.num_route_tiles, scratch, es);
          break;
        case EpPhase::kGemm1:
          ep_gemm1_task<Elem, kExactFp32>(ep, wait_ctx, index, gemm_smem, es);
          break;
        case EpPhase::kGemm2:
          ep_gemm2_task<Elem, kExactFp32>(ep, wait_ctx, index, gemm_smem, es);
          break;
        case EpPhase::kCombine:
          ep_combine_tile<Elem>(ep, wait_ctx, index, scratch, gemm_smem_scratch_bytes<Elem, kExactFp32>(), es);
          break;
        default:
          break;
      }
      if (!warm) {
        record_task_span(p, wait_ctx, ticket, start_ns, es.base.task_mark_ns, span_stage(phase), index);
        break;
      }
    }
    if (done) break;
  }
  finish_block(p, wait_ctx, &es.base.is_last);
}

}  // namespace onemoe::device
