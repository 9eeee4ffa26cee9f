// Gather stage (one GPU), one task per expert tile: once every row of the tile is named (dispatch.cuh), copy
// the named token rows of x into the tile's rows of expert_in, then publish row_tile_gathered[tile] for its
// GEMM1 tasks. The tickets interleave gathers with GEMM1 (ticket_layout.h), so the HBM-bound copies of later
// tiles run while earlier tiles compute, instead of every GEMM1 task waiting for the whole dispatch.
//
// Thread 0 moves the rows with bulk async copies (TMA, no tensor map) through the idle GEMM smem, in two
// halves: the loads of one half overlap the stores of the other. A block keeps ~half its scratch in flight
// this way, where 16-byte register copies keep 16 KB.
#pragma once

#include <cute/arch/copy_sm90_tma.hpp>
#include <cutlass/arch/barrier.h>

#include "expert_ffn.cuh"

namespace onemoe::device {

// Waits until every bulk store this thread committed has been performed (not only read out of smem).
__device__ __forceinline__ void bulk_store_wait_all() { asm volatile("cp.async.bulk.wait_group 0;" ::: "memory"); }

// Orders this block's earlier generic accesses of its smem before the async proxy writes it.
__device__ __forceinline__ void fence_proxy_async_shared() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }

// Thread 0: copies `rows` rows of `row_bytes` (a multiple of 16) from src_row(m) to dst_row(m) through
// smem_bytes of smem at `smem` (16-byte aligned). Returns false if a load passed deadline_ns.
template <class SrcRow, class DstRow>
__device__ bool bulk_copy_rows(int rows, int row_bytes, uint8_t* smem, size_t smem_bytes, uint64_t (&barrier)[2],
                               uint64_t deadline_ns, SrcRow&& src_row, DstRow&& dst_row) {
  using cutlass::arch::ClusterTransactionBarrier;
  const int half = int(smem_bytes / 2) & ~15;
  const int piece = row_bytes < half ? row_bytes : half;  // rows wider than half the smem go in pieces
  const int pieces_per_row = (row_bytes + piece - 1) / piece;
  const int per_half = half / piece;
  const int items = rows * pieces_per_row;
  for (int b = 0; b < 2; ++b) ClusterTransactionBarrier::init(&barrier[b], 1);
  cutlass::arch::fence_barrier_init();
  bool failed = false;
  for (int first = 0, batch = 0; first < items; first += per_half, ++batch) {
    const int buf = batch & 1;
    const int n = items - first < per_half ? items - first : per_half;
    // The stores of batch - 2 read this half: at most the last batch's stores may still be reading.
    if (batch >= 2) cute::tma_store_wait<1>();
    uint32_t bytes = 0;
    for (int j = 0; j < n; ++j) {
      const int q = (first + j) % pieces_per_row;
      bytes += uint32_t(row_bytes - q * piece < piece ? row_bytes - q * piece : piece);
    }
    ClusterTransactionBarrier::arrive_and_expect_tx(&barrier[buf], bytes);
    uint8_t* slots = smem + buf * half;
    for (int j = 0; j < n; ++j) {
      const int m = (first + j) / pieces_per_row, q = (first + j) % pieces_per_row;
      const int len = row_bytes - q * piece < piece ? row_bytes - q * piece : piece;
      cute::SM90_BULK_COPY_G2S::copy(src_row(m) + q * piece, &barrier[buf], slots + j * piece, len);
    }
    bounded_phase_wait(&barrier[buf], uint32_t(batch / 2) & 1, deadline_ns, &failed);
    if (failed) break;
    for (int j = 0; j < n; ++j) {
      const int m = (first + j) / pieces_per_row, q = (first + j) % pieces_per_row;
      const int len = row_bytes - q * piece < piece ? row_bytes - q * piece : piece;
      cute::SM90_BULK_COPY_S2G::copy(slots + j * piece, dst_row(m) + q * piece, len);
    }
    cute::tma_store_arrive();
  }
  bulk_store_wait_all();
  return !failed;
}

template <class Elem>
__device__ void gather_task(const KernelParams& p, const WaitContext& wait_ctx, int tile, void* stage_smem,
                            size_t stage_smem_bytes, StageSmem& ss) {
  if (!block_wait_at_least(p, wait_ctx, &p.counters->plan_ready, 1, WaitSite::kPlanReady, tile, &ss.flag)) return;
  ExpertTile et;
  if (!locate_gemm_task(p, tile, 1, &et)) return;  // past the last tile of this forward
  if (!block_wait_at_least(p, wait_ctx, &p.row_tile_ready[tile], uint32_t(et.rows) * kArrivalScale,
                           WaitSite::kRowTileDispatched, uint32_t(tile), &ss.flag))
    return;
  mark_task(p, ss.task_mark_ns, 0);
  if (threadIdx.x == 0) {
    fence_proxy_async_shared();  // earlier tasks wrote this smem with generic stores
    const int row_bytes = p.hidden * int(sizeof(Elem));
    const uint8_t* x = static_cast<const uint8_t*>(p.x);
    uint8_t* dst = static_cast<uint8_t*>(p.expert_in) + int64_t(tile) * kTileM * row_bytes;
    const int32_t* token = p.expert_row_token + int64_t(tile) * kTileM;
    const bool ok = bulk_copy_rows(
        et.rows, row_bytes, static_cast<uint8_t*>(stage_smem), stage_smem_bytes, ss.gather_barrier,
        wait_ctx.deadline_ns, [&](int m) { return x + int64_t(token[m]) * row_bytes; },
        [&](int m) { return dst + int64_t(m) * row_bytes; });
    if (ok) {
      fence_proxy_async_global();  // the bulk stores (async proxy) before the generic release below
      red_add_release_gpu(&p.row_tile_gathered[tile], 1);
    } else if (!forward_aborted(p)) {
      record_failure(p, WaitSite::kGatherCopy, uint32_t(tile), 0, 0);
    }
  }
  __syncthreads();  // the next task may reuse the smem
}

}  // namespace onemoe::device
