// Expert parallelism, plan task (one per forward and rank): after this rank's route tiles, send its
// per-expert counts and token count to every rank's inbox, wait for every rank's, and derive the plan all
// ranks agree on: the capacity, the rows kept per expert, each expert's tiles in its owner's window, and
// where this rank's rows of each expert start (docs/protocol.md, "Plan").
#pragma once

#include <cmath>

#include "block_sync.cuh"
#include "ep_params.h"
#include "router.cuh"
#include "stage_smem.cuh"

namespace onemoe::device {

struct EpStageSmem {
  StageSmem base;
  char* peer_base[kMaxRanks];  // each rank's window, as this GPU addresses it (ncclGetPeerPointer)
  void* row_dest[kTileM];      // GEMM2: where each output row of the tile goes
  unsigned long long rows_remote, rows_local;
  int chunk_pairs;             // dispatch: kept pairs of the task's route tile and chunk
  // This rank's window tiles of each dispatch chunk (ticket_layout.h), copied once the plan is seen.
  int32_t chunk_tile_begin[kEpDispatchChunks + 1];
  int32_t chunk_tiles_known;
};

// Rank `rank`'s inbox for the forward of `epoch`: one of two by the epoch's parity. A peer that needs nothing from
// this rank can finish a forward and send its counts for the next one before this rank has read the current
// ones; with one inbox those words would overwrite the unread ones. It cannot get two forwards ahead: its plan for
// the next forward waits for this rank's counts of it, which this rank sends only after reading the current ones.
__device__ inline uint64_t* inbox_of(const EpKernelParams& ep, const EpStageSmem& es, int rank, uint32_t epoch) {
  return reinterpret_cast<uint64_t*>(es.peer_base[rank] + ep.win.inbox) +
         size_t(epoch & 1) * size_t(ep.world_size) * size_t(ep.base.num_experts + 1);
}

__device__ inline uint64_t tag_epoch(uint32_t epoch, uint32_t value) { return uint64_t(epoch) << 32 | value; }

__device__ inline void ep_plan_task(const EpKernelParams& ep, const WaitContext& wait_ctx, void* scratch,
                                    EpStageSmem& es) {
  const KernelParams& p = ep.base;
  StageSmem& ss = es.base;
  const int E = p.num_experts, R = ep.world_size, me = ep.rank, row = E + 1;
  const uint32_t epoch = wait_ctx.epoch;
  if (!block_wait_at_least(p, wait_ctx, &p.counters->route_done, uint32_t(p.num_route_tiles), WaitSite::kPlanReady,
                           0, &ss.flag))
    return;
  int32_t* counts = static_cast<int32_t*>(scratch);  // [R][E + 1]

  // This rank's counts: exclusive prefix over route tiles in place (dispatch reads it), the total kept here.
  for (int e = threadIdx.x; e < E; e += blockDim.x) counts[me * row + e] = prefix_over_route_tiles(p, e);
  if (threadIdx.x == 0) {
    counts[me * row + E] = int32_t(p.num_tokens);
    *ep.traffic = EpTraffic{};
    ep.traffic->control_bytes = uint64_t(R - 1) * row * sizeof(uint64_t);
  }
  __syncthreads();

  // Each inbox word carries the epoch next to the value, so a reader never needs a separate flag and a word
  // of an earlier forward can never pass for this one.
  for (int i = threadIdx.x; i < R * row; i += blockDim.x) {
    const int dest = i / row, e = i % row;
    st_relaxed_sys_u64(inbox_of(ep, es, dest, epoch) + me * row + e, tag_epoch(epoch, uint32_t(counts[me * row + e])));
  }
  const uint64_t* inbox = inbox_of(ep, es, me, epoch);
  bool ok = true;
  for (int i = threadIdx.x; ok && i < R * row; i += blockDim.x) {
    uint64_t word = 0;
    ok = wait_until(
        [&] {
          word = ld_relaxed_sys_u64(inbox + i);
          return uint32_t(word >> 32) == epoch;
        },
        wait_ctx);
    if (!ok && !forward_aborted(wait_ctx))
      record_failure(p, wait_ctx, WaitSite::kPeerCounts, uint32_t(i / row), uint32_t(word >> 32), epoch);
    if (ok) counts[i] = int32_t(uint32_t(word));
  }
  // One answer for the whole block: a thread that gave up and one that did not must take the same branch, or
  // they would meet different barriers.
  if (!__syncthreads_and(ok) || block_aborted(wait_ctx)) return;

  // The plan, computed identically on every rank from the same counts. Global token order is rank-major, so
  // capacity drops the same (token, expert) pairs as one GPU holding all the tokens would.
  int64_t total_tokens = 0;
  for (int r = 0; r < R; ++r) total_tokens += counts[r * row + E];
  const int64_t routed = total_tokens * p.top_k;
  const int64_t capacity =
      ep.capacity_factor > 0 ? int64_t(ceil(double(ep.capacity_factor) * double(routed) / double(E))) : routed;
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    int64_t total = 0, below = 0;
    for (int r = 0; r < R; ++r) {
      if (r == me) below = total;
      total += counts[r * row + e];
    }
    const int32_t kept = int32_t(total < capacity ? total : capacity);
    p.expert_kept[e] = kept;
    ep.source_base[e] = int32_t(below);
    ss.expert_counts[e] = (kept + kTileM - 1) / kTileM;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t next_tile[kMaxRanks] = {};
    for (int e = 0; e < E; ++e) {
      const int owner = ep.expert_owner[e];
      p.expert_tile_offset[e] = next_tile[owner];
      next_tile[owner] += ss.expert_counts[e];
    }
    for (int i = 0; i < ep.num_local_experts; ++i) ep.local_tile_offset[i] = p.expert_tile_offset[ep.local_expert[i]];
    ep.local_tile_offset[ep.num_local_experts] = next_tile[me];
    *ep.capacity = capacity;
    ss.flag = 1;
    for (int r = 0; r < R; ++r) {
      if (next_tile[r] > p.max_expert_tiles) {
        record_failure(p, wait_ctx, WaitSite::kPlanOverflow, uint32_t(r), uint32_t(next_tile[r]),
                       uint32_t(p.max_expert_tiles));
        ss.flag = 0;
      }
    }
  }
  __syncthreads();
  // A plan that does not fit the windows is never published: the dispatch would write past them. Its waiters
  // see the abort instead.
  if (ss.flag) block_publish_add(&p.counters->plan_ready, 1);
}

}  // namespace onemoe::device
