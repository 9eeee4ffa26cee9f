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
  size_t expert_in, expert_row_token, expert_hidden, expert_out;
  size_t total_bytes;
};

// Persistent sync state, sized for the Context's max_tokens and kept zero between forwards.
struct SyncLayout {
  size_t counters, row_tile_ready, row_tile_gathered, gemm1_tiles_done, gemm2_tiles_done, dispatch_done, error;
  size_t forward_epoch;  // uint32: the epoch of the last forward (this_forward_epoch); never cleared
  int gemm2_groups;      // GEMM2 column groups gemm2_tiles_done holds per expert tile: the most of any T
  size_t total_bytes;
  int max_expert_tiles, max_route_tiles;
};

// Carving a buffer: the offset of the next region of `bytes` bytes, with `cursor` moved past it, every
// region 256-byte aligned. Shared by the one-GPU and the expert-parallel layouts.
size_t take_region(size_t* cursor, size_t bytes);
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t expert_capacity(const MoeShape& shape, const MoeConfig& config);
int num_route_tiles(int64_t num_tokens);
int max_expert_tiles(const MoeShape& shape);
// Column parts each route tile's combine is split into: enough tasks to spread a small T over the grid, each
// part at least 256 columns wide.
int combine_parts(const MoeShape& shape);
// One GPU: GEMM2 column groups and combine parts per group (ticket_layout.h); combine_parts = their product.
// expert_tile_n: the build's GEMM2 column tile (tuning builds narrow it, which enables the groups).
struct OneGpuCombine {
  int groups, parts_per_group;
};
OneGpuCombine one_gpu_combine(const MoeShape& shape, int expert_tile_n = device::kExpertTileN);
// The most GEMM2 column groups of any T up to max_shape.num_tokens (what the sync state must hold per tile).
int max_gemm2_groups(const MoeShape& max_shape, int expert_tile_n = device::kExpertTileN);
// Whether the blocks that wait for the plan first run the GEMM1 tile code once (warm_gemm1_first).
bool warm_gemm1(const MoeShape& shape, const MoeConfig& config);
// One GPU: gathers that run ahead of the GEMM1 tasks (ticket_layout.h), at most the expert tiles.
int gather_lead(int max_expert_tiles);
WorkspaceLayout workspace_layout(const MoeShape& shape, const MoeConfig& config);
SyncLayout sync_layout(const MoeShape& max_shape, int expert_tile_n = device::kExpertTileN);

// The caller's tensors of one run into params.
void bind_run_args(const RunArgs& args, device::KernelParams* params);

// The routing buffers of a workspace at ws into params. Both layouts (WorkspaceLayout, EpLocalLayout) name
// these regions the same.
template <class Layout>
void bind_routing_workspace(char* ws, const Layout& l, device::KernelParams* p) {
  p->logits = reinterpret_cast<float*>(ws + l.logits);
  p->topk_ids = reinterpret_cast<int32_t*>(ws + l.topk_ids);
  p->topk_weights = reinterpret_cast<float*>(ws + l.topk_weights);
  p->slot_of = reinterpret_cast<int32_t*>(ws + l.slot_of);
  p->route_tile_counts = reinterpret_cast<int32_t*>(ws + l.route_tile_counts);
  p->expert_kept = reinterpret_cast<int32_t*>(ws + l.expert_kept);
  p->expert_tile_offset = reinterpret_cast<int32_t*>(ws + l.expert_tile_offset);
}

// Fills shapes, tiling and ticket ranges of params (not the pointers).
void fill_plan(const MoeShape& shape, const MoeConfig& config, device::KernelParams* params);

}  // namespace onemoe::host
