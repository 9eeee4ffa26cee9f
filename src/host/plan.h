// The plan of one forward: tiling, ticket ranges and the carve-up of the workspace, derived from the
// shape. One source of truth for sizes; the Context and the workspace-size query both use it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "device/kernel_params.h"
#include "onemoe/onemoe.h"

namespace onemoe::host {

struct WorkspaceLayout {
  size_t logits, topk_ids, topk_weights, slot_of, route_tile_counts, expert_kept, expert_tile_offset;
  size_t expert_in, expert_hidden, expert_out;
  size_t total_bytes;
};

// Persistent sync state, sized for the Context's max_tokens and kept zero between forwards.
struct SyncLayout {
  size_t counters, row_tile_ready, gemm1_tiles_done, gemm2_tiles_done, dispatch_done, error;
  size_t total_bytes;
  int max_expert_tiles, max_route_tiles;
};

int64_t expert_capacity(const MoeShape& shape, const MoeConfig& config);
int num_route_tiles(int64_t num_tokens);
int max_expert_tiles(const MoeShape& shape);
WorkspaceLayout workspace_layout(const MoeShape& shape, const MoeConfig& config);
SyncLayout sync_layout(const MoeShape& max_shape);

// The caller's tensors of one run into params.
void bind_run_args(const RunArgs& args, device::KernelParams* params);

// Fills shapes, tiling and ticket ranges of params (not the pointers).
void fill_plan(const MoeShape& shape, const MoeConfig& config, device::KernelParams* params);

}  // namespace onemoe::host
