// Parameters of the expert-parallel forward kernel: the one-GPU KernelParams (shapes with the GLOBAL expert
// count and this rank's tokens, tensors, workspace, sync state) plus the ranks, the placement and the
// layout of the symmetric window that peers write into. Built by src/host/distributed_context.cpp.
#pragma once

#include <nccl.h>

#include <cstdint>

#include "kernel_params.h"

namespace onemoe::device {

inline constexpr int kMaxRanks = 8;
#ifndef ONEMOE_EP_DISPATCH_CHUNKS
#define ONEMOE_EP_DISPATCH_CHUNKS 8
#endif
// Each route tile's dispatch is split by expert into this many tasks (ticket_layout.h, locate_ep_middle_ticket).
inline constexpr int kEpDispatchChunks = ONEMOE_EP_DISPATCH_CHUNKS;
static_assert(kEpDispatchChunks >= 1 && kEpDispatchChunks <= 32);

// Byte offsets into the symmetric window; the same on every rank (docs/protocol.md, "Window").
struct EpWindowLayout {
  uint64_t inbox;           // uint64 [2][R][E + 1]: (epoch << 32 | count) per source rank, [E] holds T_src; the
                            // first index is the epoch's parity
  uint64_t output_done;     // uint32 [max_expert_tiles]: epoch of the forward whose GEMM2 finished the tile
  uint64_t row_source;      // int2 [max_expert_tiles * kTileM]: (source rank, source pair t*k+j) per row
  uint64_t row_tile_ready;  // uint32 [max_expert_tiles]: rows arrived per expert tile (peers add)
  uint64_t expert_in;       // Elem [max_expert_tiles * kTileM, H]: token rows, grouped by local expert
  uint64_t returned;        // Elem [max_tokens * k, H]: expert outputs of this rank's (token, slot) pairs
  uint64_t total_bytes;
};

// Traffic counters of one forward, summed by the kernel (bytes written into other ranks' windows).
struct EpTraffic {
  unsigned long long rows_to_peers;
  unsigned long long rows_returned;
  unsigned long long payload_bytes;
  unsigned long long control_bytes;
  unsigned long long rows_local;
};

struct EpKernelParams {
  KernelParams base;  // first: holds the CUtensorMaps (64-byte aligned)
  // base reinterpreted for expert parallelism:
  //   num_experts         global E; w1/w3/w2 and their maps cover the local experts only
  //   expert_kept[E]      rows kept per expert over all ranks; expert_tile_offset[E]: first tile of the
  //                       expert in its owner's window
  //   max_expert_tiles    expert tiles this rank's window holds
  //   row_tile_ready, expert_in   point into the window (peers write them)
  //   capacity            unused: the capacity depends on the tokens of every rank (see capacity below)
  int rank, world_size, num_local_experts;
  float capacity_factor;  // <= 0: dropless
  uint8_t expert_owner[kMaxExperts];
  uint8_t local_expert[kMaxExperts];  // global id of the i-th local expert (ascending)
  // Dispatch chunk of each expert: its index among its owner's experts i, as i * chunks / (the owner's experts).
  uint8_t expert_chunk[kMaxExperts];
  uint16_t local_chunk_first[kEpDispatchChunks + 1];  // this rank: the first local expert of each chunk
  int dispatch_lead_chunks;  // chunks whose dispatch precedes every GEMM1 task (ticket_layout.h)
  ncclWindow_t window;
  EpWindowLayout win;
  // The kernel reaches every window, its own included, through ncclGetPeerPointer (EpStageSmem::peer_base),
  // so that this rank's writes and its peers' writes use the same mapping.
  // Local workspace.
  int32_t* source_base;        // [E]: rows of expert e routed from lower ranks (this rank's rows follow)
  int32_t* local_tile_offset;  // [num_local_experts + 1]
  int64_t* capacity;           // [1]: rows kept per expert this forward
  EpTraffic* traffic;          // zeroed by the plan task: every count comes after it
};

}  // namespace onemoe::device
