// Sizes of the expert-parallel forward: the symmetric window, the local workspace and sync state, and the
// kernel's tiling and tickets. Every rank derives the same window layout from the same shape, so the offsets
// agree without being exchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "device/ep_params.h"
#include "onemoe/onemoe.h"

namespace onemoe::host {

struct EpSizes {
  int world_size;
  int max_local_experts;  // over all ranks (sizes the window the same everywhere)
  int max_expert_tiles;   // expert tiles one rank's window holds
  int max_route_tiles;
  int grid_blocks;  // blocks of this rank's grid (0 until the kernel is prepared)
};

struct EpLocalLayout {  // cudaMalloc'd per rank, never touched by peers
  size_t logits, topk_ids, topk_weights, slot_of, route_tile_counts, expert_kept, expert_tile_offset;
  size_t source_base, local_tile_offset, capacity, traffic, expert_hidden;
  size_t counters, gemm1_tiles_done, gemm2_tiles_done, dispatch_done, error;
  size_t forward_epoch;  // uint32: the epoch of the last forward (this_forward_epoch); never cleared
  size_t total_bytes;
};

EpSizes ep_sizes(const MoeShape& max_shape, int world_size, const std::vector<int>& expert_to_rank);
device::EpWindowLayout ep_window_layout(const MoeShape& max_shape, const MoeConfig& config, const EpSizes& sizes);
EpLocalLayout ep_local_layout(const MoeShape& max_shape, const MoeConfig& config, const EpSizes& sizes,
                              int num_local_experts);

// Dispatch chunks to send before any GEMM1 task (ticket_layout.h): about one wave of the grid, at least two
// chunks (so the first GEMM1 tiles of every owner are ready when their tasks start), every chunk when a rank has
// few route tiles (decode: the copies are short, and delaying any of them delays its experts' GEMM1).
int ep_dispatch_lead_chunks(int route_tiles, int grid_blocks);

// Shapes, tiling and tickets of one forward with shape.num_tokens = this rank's T (may be 0). Reads
// ep->num_local_experts, which the caller sets first.
void fill_ep_plan(const MoeShape& shape, const MoeConfig& config, const EpSizes& sizes, device::EpKernelParams* ep);

}  // namespace onemoe::host
