// Expert FFN stages. An expert tile is kTileM rows of one expert's buffer; tiles are numbered in expert
// order by the plan (expert_tile_offset). GEMM1 tasks are (tile, column tile of I), GEMM2 tasks
// (tile, column tile of H). Each starts when its inputs are complete, not when a stage is.
#pragma once

#include "block_sync.cuh"
#include "numeric.cuh"
#include "scheduler.cuh"
#include "stage_smem.cuh"
#include "ticket_layout.h"

namespace onemoe::device {

struct ExpertTile {
  int tile;                // expert tile index (rows tile*kTileM.. of the expert buffers)
  int n_tile;              // output column tile
  int row_tile_of_expert;  // which of its expert's tiles
  int expert;              // global expert id
  int weight_index;        // the expert's index in w1/w3/w2 (its id on one GPU, its local index under EP)
  int rows;                // valid rows in this tile
};

// Maps a GEMM stage's task index to its (expert tile, column tile); false past the last tile of this forward.
// offsets[i] is the first tile of the i-th expert of the list (count of them); tasks of expert i are
// [offsets[i]*n_tiles, offsets[i+1]*n_tiles), ordered column-tile-major: the row tiles of one expert that read
// the same weight tile run back to back, so the weights come from HBM about once. *list_index: i.
__device__ inline bool locate_in_tile_list(const int32_t* offsets, int count, int task, int n_tiles,
                                           ExpertTile* out, int* list_index) {
  const int tile_of_task = task / n_tiles;
  if (tile_of_task >= offsets[count]) return false;
  int lo = 0, hi = count;  // invariant: offsets[lo] <= tile_of_task < offsets[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (offsets[mid] <= tile_of_task) lo = mid; else hi = mid;
  }
  const int first = offsets[lo], expert_tiles = offsets[lo + 1] - first;
  const int local = task - first * n_tiles;
  const int m = local % expert_tiles;
  out->tile = first + m;
  out->n_tile = local / expert_tiles;
  out->row_tile_of_expert = m;
  *list_index = lo;
  return true;
}

// One GPU, block-wide: waits for the expert plan, then keeps a copy of it in smem for the rest of the forward.
// A block's later tasks skip both the wait and the plan's global loads: the tile search reads ~log2(E)
// offsets one after another, each an L2 round trip when it misses L1.
__device__ inline bool block_wait_plan(const KernelParams& p, const WaitContext& wait_ctx, uint32_t index,
                                       StageSmem& ss) {
  if (ss.plan_cached) return true;  // uniform: written before a barrier every thread has passed since
  if (!block_wait_at_least(p, wait_ctx, &p.counters->plan_ready, 1, WaitSite::kPlanReady, index, &ss.flag))
    return false;
  for (int e = threadIdx.x; e <= p.num_experts; e += blockDim.x) {
    ss.expert_tile_offset[e] = p.expert_tile_offset[e];
    if (e < p.num_experts) ss.expert_kept[e] = p.expert_kept[e];
  }
  __syncthreads();
  if (threadIdx.x == 0) ss.plan_cached = 1;  // read again only after the barriers that end this task
  return true;
}

// One GPU: the list is every expert. After block_wait_plan.
__device__ inline bool locate_gemm_task(const StageSmem& ss, int num_experts, int task, int n_tiles, ExpertTile* out) {
  int expert = 0;
  if (!locate_in_tile_list(ss.expert_tile_offset, num_experts, task, n_tiles, out, &expert)) return false;
  out->expert = expert;
  out->weight_index = expert;
  out->rows = min(kTileM, ss.expert_kept[expert] - out->row_tile_of_expert * kTileM);
  return true;
}

// Timeline marks of a GEMM task (mark_task): 0 its inputs are ready, 1 its tile is computed, 2 its rows are
// stored; called by every thread as the tile passes marks 1 and 2. At mark 1 it also takes the block's deferred
// next ticket (scheduler.cuh). Empty (no marks) unless a task passes its StageSmem.
struct TileMarks {
  const KernelParams* p = nullptr;
  const WaitContext* ctx = nullptr;
  uint64_t* marks_ns = nullptr;
  uint32_t* deferred_ticket = nullptr;
  __device__ void operator()(int which) const {
    if (p == nullptr) return;
    mark_task(*p, marks_ns, which);
    if (which == 1 && deferred_ticket != nullptr) take_deferred_ticket(*p, *ctx, deferred_ticket);
  }
};

// Runs a GEMM tile whose epilogue stores through smem: run_tile(stage) runs the tile with an epilogue that calls
// stage(m, n, v0, v1) for its pairs, which land in the (then idle) GEMM smem; then the valid rows leave with
// 16-byte stores, row m's columns [0, cols) to row_dest(m). Scattered 4-byte stores from every thread write
// half-sectors; whole rows write full ones.
template <class Elem, class Tile, int kBN, class RunTile, class RowDest>
__device__ bool run_tile_storing_rows(const GemmSmem& gemm_smem, int rows, int cols, RunTile&& run_tile, RowDest&& row_dest,
                                      TileMarks marks = {}) {
  constexpr int kVec = 16 / int(sizeof(Elem));
  constexpr int kPitch = kBN + kVec;  // one 16-byte pad per row against bank conflicts
  static_assert(kTileM * kPitch * sizeof(Elem) <= Tile::kScratchBytes, "staging fits in the tile's operand smem");
  Elem* staged = static_cast<Elem*>(gemm_smem.operands);
  if (!run_tile([&](int m, int n, float v0, float v1) { store_pair(staged + m * kPitch + n, v0, v1); })) return false;
  marks(1);
  __syncthreads();
  const int vecs_per_row = cols / kVec;
  for (int i = threadIdx.x; i < rows * vecs_per_row; i += blockDim.x) {
    const int m = i / vecs_per_row, v = i % vecs_per_row;
    reinterpret_cast<int4*>(row_dest(m))[v] = *reinterpret_cast<const int4*>(staged + m * kPitch + v * kVec);
  }
  __syncthreads();  // the next task may reuse the smem
  marks(2);
  return true;
}

// One GEMM1 tile of either kind into expert_hidden rows [0, rows), columns n0 + [0, cols): the activated C_0,
// times C_1 when gated (kNumB == 2).
template <class Elem, bool kExactFp32, bool kStageRows, class Tile, int kBN, int kNumB>
__device__ bool run_gemm1(const GemmOperand& a, const GemmOperand (&b)[kNumB], int k_size, Elem* hidden, int64_t ld,
                          int n0, int rows, int cols, int act, const GemmSmem& gemm_smem, uint64_t deadline_ns,
                          TileMarks marks) {
  const auto value = [](const float (&v)[kNumB][2], int i) { return kNumB == 2 ? v[0][i] * v[kNumB - 1][i] : v[0][i]; };
  if constexpr (kStageRows && !kExactFp32) {
    return run_tile_storing_rows<Elem, Tile, kBN>(
        gemm_smem, rows, cols,
        [&](auto&& stage) {
          return Tile::run(
              a, b, k_size, gemm_smem, deadline_ns,
              [&](int m, int n, const float (&v)[kNumB][2]) { stage(m, n, value(v, 0), value(v, 1)); },
              ActivateAccumulators<kFastActivation<Elem>>{act});
        },
        [&](int m) { return hidden + int64_t(m) * ld + n0; }, marks);
  } else {
    const bool ok = Tile::run(
        a, b, k_size, gemm_smem, deadline_ns,
        [&](int m, int n, const float (&v)[kNumB][2]) {  // v[0] is already activated
          if (m < rows && n < cols) store_pair(hidden + int64_t(m) * ld + n0 + n, value(v, 0), value(v, 1));
        },
        ActivateAccumulators<kFastActivation<Elem>>{act});
    marks(1);
    return ok;
  }
}

// GEMM1's weight operands of one (expert tile, column tile): w1's rows of the column tile, and w3's when gated
// (kNumB == 2); *n0 and *cols: the tile's first column of I and its valid columns.
template <class Elem, int kNumB>
__device__ void gemm1_weights(const KernelParams& p, const ExpertTile& et, GemmOperand (&b)[kNumB], int* n0,
                              int* cols) {
  constexpr int kBN = kNumB == 2 ? kGatedTileN : kExpertTileN;
  const int wi = et.weight_index, H = p.hidden, I = p.intermediate;
  *n0 = et.n_tile * kBN;
  *cols = min(kBN, I - *n0);
  const int64_t first_row = int64_t(wi) * I + *n0;
  b[0] = {static_cast<const Elem*>(p.w1) + first_row * H, H, &p.maps.w1, int(first_row), *cols};
  if constexpr (kNumB == 2)
    b[1] = {static_cast<const Elem*>(p.w3) + first_row * H, H, &p.maps.w3, int(first_row), *cols};
}

// The A operand of expert tile rows [row0, row0 + rows): loaded with the shortest TMA box that holds the valid
// rows (32, 64 or all 128), so a decode-sized tile does not pull 128 rows of padding through L2 at every k-step.
// The smem rows past the box keep stale data, which only feeds output rows the epilogue ignores.
__device__ inline GemmOperand expert_rows_operand(const void* base, int64_t ld, const CUtensorMap& full,
                                                  const CUtensorMap (&short_boxes)[2], int row0, int rows) {
  for (int i = 0; i < 2; ++i)
    if (rows <= kShortBoxRows << i) return {base, ld, &short_boxes[i], row0, rows, kShortBoxRows << i};
  return {base, ld, &full, row0, rows, kTileM};
}

// act(A·w1ᵀ) (or act(A·w1ᵀ) * (A·w3ᵀ)) of one (expert tile, column tile) into expert_hidden. kStageRows: the
// tile leaves through smem in whole rows (run_tile_storing_rows).
// Both tile functions return false if the GEMM pipeline passed the forward's deadline (nothing is written then).
// k_steps: the first k_steps k-steps of the product only (the warm-up); 0: all of H.
template <class Elem, bool kExactFp32, bool kStageRows = false>
__device__ bool gemm1_tile(const KernelParams& p, const ExpertTile& et, const GemmSmem& gemm_smem, uint64_t deadline_ns,
                           TileMarks marks = {}, int k_steps = 0) {
  const int tile = et.tile;
  const int H = p.hidden, I = p.intermediate;
  const int k_size = k_steps > 0 ? min(H, k_steps * (128 / int(sizeof(Elem)))) : H;
  const GemmOperand a = expert_rows_operand(static_cast<const Elem*>(p.expert_in) + int64_t(tile) * kTileM * H, H,
                                            p.maps.expert_in, p.maps.expert_in_short, tile * kTileM, et.rows);
  Elem* hidden = static_cast<Elem*>(p.expert_hidden) + int64_t(tile) * kTileM * I;
  int n0, cols;
  if (p.gated) {
    GemmOperand b[2];
    gemm1_weights<Elem>(p, et, b, &n0, &cols);
    return run_gemm1<Elem, kExactFp32, kStageRows, Gemm1GatedTile<Elem, kExactFp32>, kGatedTileN>(
        a, b, k_size, hidden, I, n0, et.rows, cols, p.activation, gemm_smem, deadline_ns, marks);
  }
  GemmOperand b[1];
  gemm1_weights<Elem>(p, et, b, &n0, &cols);
  return run_gemm1<Elem, kExactFp32, kStageRows, Gemm1PlainTile<Elem, kExactFp32>, kExpertTileN>(
      a, b, k_size, hidden, I, n0, et.rows, cols, p.activation, gemm_smem, deadline_ns, marks);
}

// GEMM2's weight operand of one (expert tile, column tile of H): w2's rows of the column tile.
template <class Elem>
__device__ GemmOperand gemm2_weight(const KernelParams& p, const ExpertTile& et) {
  const int wi = et.weight_index, H = p.hidden, I = p.intermediate;
  const int n0 = et.n_tile * kExpertTileN;
  return {static_cast<const Elem*>(p.w2) + (int64_t(wi) * H + n0) * I, I, &p.maps.w2, wi * H + n0,
          min(kExpertTileN, H - n0)};
}

// hidden·w2ᵀ of one (expert tile, column tile); output row m goes to row_dest(m) + column. kStageRows: write
// whole rows from smem (for rows that cross NVLink); otherwise each thread stores its own pairs.
template <class Elem, bool kExactFp32, bool kStageRows, class RowDest>
__device__ bool gemm2_tile(const KernelParams& p, const ExpertTile& et, const GemmSmem& gemm_smem, uint64_t deadline_ns,
                           RowDest&& row_dest, TileMarks marks = {}) {
  using Tile = Gemm2Tile<Elem, kExactFp32>;
  const int tile = et.tile, I = p.intermediate;
  const int n0 = et.n_tile * kExpertTileN;
  const GemmOperand a = expert_rows_operand(static_cast<const Elem*>(p.expert_hidden) + int64_t(tile) * kTileM * I, I,
                                            p.maps.expert_hidden, p.maps.expert_hidden_short, tile * kTileM, et.rows);
  const GemmOperand b[1] = {gemm2_weight<Elem>(p, et)};
  const int cols = b[0].rows;
  if constexpr (kExactFp32 || !kStageRows) {
    const bool ok = Tile::run(a, b, I, gemm_smem, deadline_ns, [&](int m, int n, const float (&v)[1][2]) {
      if (m < et.rows && n < cols) store_pair(row_dest(m) + n0 + n, v[0][0], v[0][1]);
    });
    marks(1);
    return ok;
  } else {
    // Whole rows: they may go to another GPU over NVLink, where 4-byte scattered stores waste most of each transfer.
    return run_tile_storing_rows<Elem, Tile, kExpertTileN>(
        gemm_smem, et.rows, cols,
        [&](auto&& stage) {
          return Tile::run(a, b, I, gemm_smem, deadline_ns,
                           [&](int m, int n, const float (&v)[1][2]) { stage(m, n, v[0][0], v[0][1]); });
        },
        [&](int m) { return row_dest(m) + n0; }, marks);
  }
}

// GEMM tiles leave through smem in whole rows (run_tile_storing_rows; docs/history/perf_notes.md, run 32): every tile on
// one GPU, and the expert-parallel GEMM1 (run 51: 39 µs faster on one rank's share of the 4-GPU main row).
inline constexpr bool kStageEpilogueRows = true;

// Decode sizes: the first GEMM1 wave's mainloops took ~12 µs longer than later waves' at every H (18 against 7 µs
// at H = 128, 52 against 37 at H = 2048; run 72 timelines): the 132 blocks start the tile's cold code all at
// once. A pass through that code while the route runs takes it off (run 73: first wave 51 -> 37 µs at decode).
// So a block that takes one of the first grid's worth of tickets after the route range, which then waits for
// the plan, first passes once through its kernel's GEMM1 task with the task index
// kWarmGemm1Task: the same inlined code (one call site of gemm1_tile per kernel), on two k-steps of weight 0's
// first column tile and zero rows (the A box lies past every filled tile: TMA fills it with zeros), storing one
// row in expert_hidden's scratch tile. No waits, no flags. The exact-fp32 tile reads its rows with plain loads, so
// it is never warmed (fill_plan).
inline constexpr int kWarmGemm1Task = -1;
__device__ inline bool warm_gemm1_first(const KernelParams& p, uint32_t ticket) {
  return p.warm_gemm1 && ticket >= p.first_dispatch_ticket && ticket - p.first_dispatch_ticket < gridDim.x;
}
// The warm-up's tile (the scratch tile) and k-steps.
__device__ inline ExpertTile warm_gemm1_tile(const KernelParams& p) {
  ExpertTile et{};
  et.tile = p.max_expert_tiles;
  et.rows = 1;
  return et;
}
inline constexpr int kWarmGemm1KSteps = 2;

__device__ inline void record_gemm_stall(const KernelParams& p, const WaitContext& ctx, int tile) {
  if (threadIdx.x == 0 && !forward_aborted(ctx)) record_failure(p, ctx, WaitSite::kGemmPipeline, uint32_t(tile), 0, 0);
}

// task == kWarmGemm1Task: the warm-up pass (warm_gemm1_first).
template <class Elem, bool kExactFp32>
__device__ void gemm1_task(const KernelParams& p, const WaitContext& wait_ctx, int task, const GemmSmem& gemm_smem,
                           StageSmem& ss) {
  const bool warm = task == kWarmGemm1Task;
  ExpertTile et = warm_gemm1_tile(p);
  if (!warm) {
    if (!block_wait_plan(p, wait_ctx, uint32_t(task), ss)) return;
    // Row-tile-major (task = tile * n_tiles + column tile): the tile's gather precedes its tasks (ticket_layout.h).
    // Past the last tile: the rest of the GEMM1 range is past it too (ticket_layout.h).
    if (!locate_gemm_task(ss, p.num_experts, task / p.gemm1_n_tiles, 1, &et))
      return skip_empty_gemm_tickets(p, p.first_gemm2_ticket);
    et.n_tile = task % p.gemm1_n_tiles;
    if (!block_wait_at_least(p, wait_ctx, &p.row_tile_gathered[et.tile], 1, WaitSite::kRowTileGathered, et.tile,
                             &ss.flag))
      return;
    mark_task(p, ss.task_mark_ns, 0);
  }
  const bool ok = gemm1_tile<Elem, kExactFp32, kStageEpilogueRows>(
      p, et, gemm_smem, wait_ctx.deadline_ns, warm ? TileMarks{} : TileMarks{&p, &wait_ctx, ss.task_mark_ns, &ss.ticket},
      warm ? kWarmGemm1KSteps : 0);
  if (warm) return;
  if (!ok) return record_gemm_stall(p, wait_ctx, et.tile);
  block_publish_add(&p.gemm1_tiles_done[et.tile], 1);
}

// GEMM2 task `task` of column group `group` (ticket_layout.h): its tiles are the group's column tiles,
// expert-major; it counts in gemm2_tiles_done[tile x groups + group].
template <class Elem, bool kExactFp32>
__device__ void gemm2_task(const KernelParams& p, const WaitContext& wait_ctx, int task, int group, const GemmSmem& gemm_smem,
                           StageSmem& ss) {
  if (!block_wait_plan(p, wait_ctx, uint32_t(task), ss)) return;
  const int n_first = gemm2_group_first_n_tile(p.gemm2_n_tiles, p.gemm2_groups, group);
  const int n_count = gemm2_group_n_tiles(p.gemm2_n_tiles, p.gemm2_groups, group);
  ExpertTile et;
  if (!locate_gemm_task(ss, p.num_experts, task, n_count, &et)) {
    // With one group the GEMM2 tasks are tile-major and the combine follows them all.
    if (p.gemm2_groups == 1) skip_empty_gemm_tickets(p, p.first_combine_ticket);
    return;
  }
  et.n_tile += n_first;
  if (!block_wait_at_least(p, wait_ctx, &p.gemm1_tiles_done[et.tile], uint32_t(p.gemm1_n_tiles),
                           WaitSite::kExpertHiddenDone, et.tile, &ss.flag))
    return;
  mark_task(p, ss.task_mark_ns, 0);
  Elem* out = static_cast<Elem*>(p.expert_out) + int64_t(et.tile) * kTileM * p.hidden;
  if (!gemm2_tile<Elem, kExactFp32, kStageEpilogueRows>(
          p, et, gemm_smem, wait_ctx.deadline_ns, [&](int m) { return out + int64_t(m) * p.hidden; },
          TileMarks{&p, &wait_ctx, ss.task_mark_ns, &ss.ticket}))
    return record_gemm_stall(p, wait_ctx, et.tile);
  block_publish_add(&p.gemm2_tiles_done[et.tile * p.gemm2_groups + group], 1);
}

}  // namespace onemoe::device
