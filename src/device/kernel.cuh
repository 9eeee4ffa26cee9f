// The fused MoE forward: one persistent kernel runs routing, dispatch, both expert GEMMs and the combine.
#pragma once

#include "combine.cuh"
#include "dispatch.cuh"
#include "expert_ffn.cuh"
#include "gather.cuh"
#include "router.cuh"
#include "scheduler.cuh"

namespace onemoe::device {

template <class Elem, bool kExactFp32>
__global__ void __launch_bounds__(kThreadsPerBlock, kMinBlocksPerSm) moe_forward_kernel(const __grid_constant__ KernelParams p) {
  static_assert(sizeof(DispatchSmem) <= gemm_smem_scratch_bytes<Elem, kExactFp32>() &&
                    kCombineSmemFloor <= gemm_smem_scratch_bytes<Elem, kExactFp32>(),
                "dispatch and combine stage their pair lists (and the combine its rows) in the GEMM smem");
  extern __shared__ uint8_t dynamic_smem[];
  __shared__ StageSmem ss;
  // Offset from the __shared__ array itself (no integer round trip of the pointer), so the compiler keeps
  // knowing the scratch users' accesses are shared memory (LDS/STS, not generic LD/ST).
  const GemmSmem gemm_smem{
      dynamic_smem + ((1024u - (uint32_t(__cvta_generic_to_shared(dynamic_smem)) & 1023u)) & 1023u), &ss.pipeline};
  void* const scratch = gemm_smem.operands;  // what the stages without a GEMM use between tiles
  const WaitContext wait_ctx = make_wait_context(p, global_timer_ns());
  if (threadIdx.x == 0) {
    for (uint64_t& m : ss.task_mark_ns) m = 0;
    ss.plan_cached = 0;
  }

  for (uint32_t ticket = fetch_ticket(p, wait_ctx, &ss.ticket);;
       ticket = take_prefetched_ticket(p, wait_ctx, &ss.ticket)) {
    const Task ticket_task = decode_ticket(p, ticket);
    if (ticket_task.phase == Phase::kDone) break;
    if (ticket_task.phase == Phase::kGemm1 || ticket_task.phase == Phase::kGemm2 ||
        ticket_task.phase == Phase::kCombine)
      defer_next_ticket(&ss.ticket);
    else prefetch_next_ticket(p, wait_ctx, &ss.ticket);
    // A warm-up pass through the GEMM1 case first where it applies (warm_gemm1_first), then the ticket's task.
    for (bool warm = warm_gemm1_first(p, ticket);; warm = false) {
      const Task task = warm ? Task{Phase::kGemm1, kWarmGemm1Task} : ticket_task;
      const uint64_t start_ns = p.task_spans != nullptr ? global_timer_ns() : 0;
      switch (task.phase) {
        case Phase::kRoute:
          route_tile<Elem, kExactFp32>(p, wait_ctx, task.index, gemm_smem, ss);
          break;
        case Phase::kDispatch:
          dispatch_tile(p, wait_ctx, task.index, ss);
          break;
        case Phase::kGather:
          gather_task<Elem>(p, wait_ctx, task.index, scratch, gemm_smem_scratch_bytes<Elem, kExactFp32>(), ss);
          break;
        case Phase::kGemm1:
          gemm1_task<Elem, kExactFp32>(p, wait_ctx, task.index, gemm_smem, ss);
          break;
        case Phase::kGemm2:
          gemm2_task<Elem, kExactFp32>(p, wait_ctx, task.index, task.group, gemm_smem, ss);
          break;
        case Phase::kCombine:
          combine_tile<Elem>(p, wait_ctx, task.index, scratch, gemm_smem_scratch_bytes<Elem, kExactFp32>(), ss);
          break;
        default:
          break;
      }
      if (!warm) {
        record_task_span(p, wait_ctx, ticket, start_ns, ss.task_mark_ns);
        break;
      }
    }
  }
  finish_block(p, wait_ctx, &ss.is_last);
}

}  // namespace onemoe::device
