// Gather stage (one GPU), one task per expert tile: once every row of the tile is named (dispatch.cuh), copy
// the named token rows of x into the tile's rows of expert_in, then publish row_tile_gathered[tile] for its
// GEMM1 tasks. The tickets interleave gathers with GEMM1 (ticket_layout.h), so the copies of later tiles run
// while earlier tiles compute, instead of every GEMM1 task waiting for the whole dispatch.
//
// Thread 0 moves the rows with bulk async copies (TMA, no tensor map) through the idle GEMM smem, a ring of
// slots: loads run ahead into free slots while the stores drain the oldest one. A block keeps ~3/4 of its
// scratch in flight this way, where 16-byte register copies keep 16 KB.
#pragma once

#include <cute/arch/copy_sm90_tma.hpp>
#include <cutlass/arch/barrier.h>

#include "expert_ffn.cuh"

namespace onemoe::device {

// Waits until every bulk store this thread committed has been performed (not only read out of smem).
__device__ __forceinline__ void bulk_store_wait_all() { asm volatile("cp.async.bulk.wait_group 0;" ::: "memory"); }

// Thread 0: copies `rows` rows of `row_bytes` (a multiple of 16) from src_row(m) to dst_row(m) through
// smem_bytes of smem at `smem` (16-byte aligned), a ring of kGatherSlots slots: loads fill up to
// kGatherSlots - 1 slots ahead while the stores drain the oldest. Returns false if a load passed deadline_ns.
template <class SrcRow, class DstRow>
__device__ bool bulk_copy_rows(int rows, int row_bytes, uint8_t* smem, size_t smem_bytes,
                               uint64_t (&barrier)[kGatherSlots], uint64_t deadline_ns, SrcRow&& src_row,
                               DstRow&& dst_row) {
  using cutlass::arch::ClusterTransactionBarrier;
  const int slot_bytes = int(smem_bytes / kGatherSlots) & ~15;
  const int piece = row_bytes < slot_bytes ? row_bytes : slot_bytes;  // rows wider than a slot go in pieces
  const int pieces_per_row = (row_bytes + piece - 1) / piece;
  const int per_slot = slot_bytes / piece;
  const int items = rows * pieces_per_row;
  const int batches = (items + per_slot - 1) / per_slot;
  auto piece_len = [&](int item) {
    const int rest = row_bytes - (item % pieces_per_row) * piece;
    return rest < piece ? rest : piece;
  };
  auto issue_loads = [&](int batch) {
    const int slot = batch % kGatherSlots, first = batch * per_slot;
    const int n = items - first < per_slot ? items - first : per_slot;
    uint32_t bytes = 0;
    for (int j = 0; j < n; ++j) bytes += uint32_t(piece_len(first + j));
    ClusterTransactionBarrier::arrive_and_expect_tx(&barrier[slot], bytes);
    for (int j = 0; j < n; ++j) {
      const int item = first + j;
      cute::SM90_BULK_COPY_G2S::copy(src_row(item / pieces_per_row) + (item % pieces_per_row) * piece, &barrier[slot],
                                     smem + slot * slot_bytes + j * piece, piece_len(item));
    }
  };
  for (int b = 0; b < kGatherSlots; ++b) ClusterTransactionBarrier::init(&barrier[b], 1);
  cutlass::arch::fence_barrier_init();
  for (int b = 0; b < kGatherSlots - 1 && b < batches; ++b) issue_loads(b);
  bool failed = false;
  for (int b = 0; b < batches; ++b) {
    const int slot = b % kGatherSlots, first = b * per_slot;
    const int n = items - first < per_slot ? items - first : per_slot;
    bounded_phase_wait(&barrier[slot], uint32_t(b / kGatherSlots) & 1, deadline_ns, &failed);
    if (failed) break;
    for (int j = 0; j < n; ++j) {
      const int item = first + j;
      cute::SM90_BULK_COPY_S2G::copy(smem + slot * slot_bytes + j * piece,
                                     dst_row(item / pieces_per_row) + (item % pieces_per_row) * piece, piece_len(item));
    }
    cute::tma_store_arrive();
    // The next load goes to the slot of batch b - 1: its stores (all but this batch's) must have read it.
    const int next = b + kGatherSlots - 1;
    if (next < batches) {
      cute::tma_store_wait<1>();
      issue_loads(next);
    }
  }
  bulk_store_wait_all();
  // Invalidated for the next gather's init; after a timeout a load may still be pending on them, so they stay.
  if (!failed)
    for (int b = 0; b < kGatherSlots; ++b) mbarrier_invalidate(&barrier[b]);
  return !failed;
}

template <class Elem>
__device__ void gather_task(const KernelParams& p, const WaitContext& wait_ctx, int tile, void* stage_smem,
                            size_t stage_smem_bytes, StageSmem& ss) {
  if (!block_wait_plan(p, wait_ctx, uint32_t(tile), ss)) return;
  ExpertTile et;
  if (!locate_gemm_task(ss, p.num_experts, tile, 1, &et)) return;  // past the last tile of this forward
  if (!block_wait_at_least(p, wait_ctx, &p.row_tile_ready[tile], uint32_t(et.rows),
                           WaitSite::kRowTileDispatched, uint32_t(tile), &ss.flag))
    return;
  mark_task(p, ss.task_mark_ns, 0);
  // The row tokens go to smem first, in one coalesced load: thread 0 reading them from global memory one by one,
  // between its copies, cost a dependent load each (a 128-row gather took ~65 us, run 33).
  const int32_t* tokens = p.expert_row_token + int64_t(tile) * kTileM;
  for (int m = threadIdx.x; m < et.rows; m += blockDim.x) ss.gather_token[m] = tokens[m];
  __syncthreads();
  if (threadIdx.x == 0) {
    cutlass::arch::fence_view_async_shared();  // earlier tasks wrote this smem with generic stores
    const int row_bytes = p.hidden * int(sizeof(Elem));
    const uint8_t* x = static_cast<const uint8_t*>(p.x);
    uint8_t* dst = static_cast<uint8_t*>(p.expert_in) + int64_t(tile) * kTileM * row_bytes;
    const bool ok = bulk_copy_rows(
        et.rows, row_bytes, static_cast<uint8_t*>(stage_smem), stage_smem_bytes, ss.gather_barrier,
        wait_ctx.deadline_ns, [&](int m) { return x + int64_t(ss.gather_token[m]) * row_bytes; },
        [&](int m) { return dst + int64_t(m) * row_bytes; });
    if (ok) {
      fence_proxy_async_global();  // the bulk stores (async proxy) before the generic release below
      red_add_release_gpu(&p.row_tile_gathered[tile], 1);
    } else if (!forward_aborted(wait_ctx)) {
      record_failure(p, wait_ctx, WaitSite::kGatherCopy, uint32_t(tile), 0, 0);
    }
  }
  __syncthreads();  // the next task may reuse the smem
}

}  // namespace onemoe::device
