// The expert-parallel MoE forward: one persistent kernel per GPU runs routing, the plan exchange, dispatch
// into the owners' windows, the owners' expert GEMMs, the return of output rows and the combine.
// Tickets, in dependency order on every rank: [route][plan][dispatch][gemm1][gemm2][combine]. A task waits
// only on tasks of earlier stages, here or on a peer, so with every block resident the waits cannot form a
// cycle (docs/protocol.md, "Why it cannot deadlock").
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

// The plan's single ticket sits between the route tickets and first_dispatch_ticket.
__device__ inline EpPhase decode_ep_ticket(const KernelParams& p, uint32_t ticket, int* index) {
  if (ticket < uint32_t(p.num_route_tiles)) return *index = int(ticket), EpPhase::kRoute;
  if (ticket < p.first_dispatch_ticket) return *index = 0, EpPhase::kPlan;
  const Task task = decode_ticket(p, ticket);
  *index = task.index;
  switch (task.phase) {
    case Phase::kDispatch: return EpPhase::kDispatch;
    case Phase::kGemm1: return EpPhase::kGemm1;
    case Phase::kGemm2: return EpPhase::kGemm2;
    case Phase::kCombine: return EpPhase::kCombine;
    default: return EpPhase::kDone;
  }
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
  void* gemm_smem = dynamic_smem + ((1024u - (uint32_t(__cvta_generic_to_shared(dynamic_smem)) & 1023u)) & 1023u);
  const WaitContext wait_ctx = make_wait_context(p, global_timer_ns());
  // The plan gives up first, so that a silent peer is reported as such and not as a task waiting on the plan.
  WaitContext plan_wait_ctx = wait_ctx;
  plan_wait_ctx.deadline_ns -= p.wait_timeout_ns / 8;
  if (threadIdx.x == 0)
    for (uint64_t& m : es.base.task_mark_ns) m = 0;
  if (threadIdx.x < ep.world_size)
    es.peer_base[threadIdx.x] = static_cast<char*>(ncclGetPeerPointer(ep.window, 0, int(threadIdx.x)));

  for (uint32_t ticket = fetch_ticket(p, &es.base.ticket);; ticket = take_prefetched_ticket(&es.base.ticket)) {
    int index = 0;
    const EpPhase phase = decode_ep_ticket(p, ticket, &index);
    if (phase == EpPhase::kDone) break;
    prefetch_next_ticket(p, &es.base.ticket);
    const uint64_t start_ns = p.task_spans != nullptr ? global_timer_ns() : 0;
    switch (phase) {
      case EpPhase::kRoute:
        route_tile<Elem, kExactFp32, false>(p, wait_ctx, index, gemm_smem, es.base);
        break;
      case EpPhase::kPlan:
        ep_plan_task(ep, plan_wait_ctx, gemm_smem, es);
        break;
      case EpPhase::kDispatch:
        ep_dispatch_tile<Elem>(ep, wait_ctx, index, gemm_smem, es);
        break;
      case EpPhase::kGemm1:
        ep_gemm1_task<Elem, kExactFp32>(ep, wait_ctx, index, gemm_smem, es);
        break;
      case EpPhase::kGemm2:
        ep_gemm2_task<Elem, kExactFp32>(ep, wait_ctx, index, gemm_smem, es);
        break;
      case EpPhase::kCombine:
        ep_combine_tile<Elem>(ep, wait_ctx, index, gemm_smem, gemm_smem_scratch_bytes<Elem, kExactFp32>(), es);
        break;
      default:
        break;
    }
    record_task_span(p, ticket, start_ns, es.base.task_mark_ns);
  }
  finish_block(p, &es.base.is_last);
}

}  // namespace onemoe::device
