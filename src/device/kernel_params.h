// The one parameter block of the fused forward kernel: shapes, derived tiling, tensors and the workspace
// carve-up. Plain data shared by host (plan) and device (kernel). Built by src/host/plan.cpp.
#pragma once

#include <cuda.h>  // CUtensorMap (a plain 128-byte struct; no driver library is linked)

#include <cstdint>

namespace onemoe::device {

inline constexpr int kThreadsPerBlock = 256;
inline constexpr int kTileM = 128;          // rows per expert tile and tokens per route tile
inline constexpr int kTileN = 128;          // router GEMM: expert columns per tile
#ifndef ONEMOE_EXPERT_TILE_N
#define ONEMOE_EXPERT_TILE_N 256
#endif
// Expert GEMM1 (plain) and GEMM2 output columns per tile. Wider tiles re-read the token rows less: the
// L2->SM traffic of a K-deep tile is (BM + BN) * K per BM * BN outputs, and the forward is L2-bound
// (docs/history/perf_notes.md, runs 37-38).
inline constexpr int kExpertTileN = ONEMOE_EXPERT_TILE_N;
inline constexpr int kGatedTileN = kExpertTileN / 2;  // GEMM1 gated: this many columns of each of w1, w3
inline constexpr int kMaxExperts = 256;
inline constexpr int kMaxTopK = 8;
inline constexpr int kMaskWordsPerTile = kTileM / 32;

// GEMM pipeline shape; overridable at build time for tuning runs with the CMake cache variable
// ONEMOE_TUNING_DEFINITIONS (host and device code must agree; see docs/history/perf_notes.md). A 128x256 tile takes
// most of the registers and 4 x 48 KB stages, so one block per SM; one wgmma batch is then kept in flight
// across k-tiles, or the tensor pipe drains at every k-tile with no second block to fill it. Against 128x128
// tiles at two blocks per SM: 7% slower with wait 0 (run 32), 5% faster with one batch in flight (run 38).
#ifndef ONEMOE_GEMM_STAGES
#define ONEMOE_GEMM_STAGES 4
#endif
#ifndef ONEMOE_GEMM_MMA_IN_FLIGHT
#define ONEMOE_GEMM_MMA_IN_FLIGHT 1
#endif
#ifndef ONEMOE_MIN_BLOCKS_PER_SM
#define ONEMOE_MIN_BLOCKS_PER_SM 1
#endif
inline constexpr int kGemmStages = ONEMOE_GEMM_STAGES;
inline constexpr int kGemmMmaInFlight = ONEMOE_GEMM_MMA_IN_FLIGHT;
inline constexpr int kMinBlocksPerSm = ONEMOE_MIN_BLOCKS_PER_SM;

// Counters that must read zero when no forward is running. The kernel returns them to zero itself
// (the last block out clears them), so back-to-back forwards need no memset launch.
struct SyncCounters {
  uint32_t ticket;        // next task ticket
  uint32_t route_done;    // route tiles finished
  uint32_t plan_ready;    // 1 once the expert plan (counts, tile offsets) is published
  uint32_t blocks_done;   // blocks that left the task loop
};

// Why a wait gave up; recorded in the error record for the host.
enum class WaitSite : uint32_t {
  kNone = 0,
  kPlanReady,
  kRowTileDispatched,
  kExpertHiddenDone,
  kExpertOutputDone,
  kDispatchDone,
  kPeerCounts,        // expert parallel: a peer's routing counts for this forward (index: the peer)
  kPeerRowTile,       // rows of an expert tile still to arrive from peers
  kPeerOutputTile,    // an expert tile's output rows on their owner (index: the owner)
  kPlanOverflow,      // more rows routed here than the window holds (never with consistent max_tokens)
  kGemmPipeline,      // a GEMM tile's TMA/MMA pipeline stalled past the deadline (index: the tile)
  kRowTileGathered,   // one GPU: the gather of an expert tile's rows (index: the tile)
  kGatherCopy,        // one GPU: a gather's bulk copies stalled past the deadline (index: the tile)
  kBadPreRouting,     // pre-routed: a token's expert id out of range or repeated (index: the token; have: the id)
};

// Written by a failing forward, read and cleared by the host (Context::synchronize_and_check).
struct ErrorRecord {
  uint32_t abort_epoch;   // epoch of the forward that gave up (0: none)
  uint32_t code;          // 1: wait timeout
  uint32_t site;          // WaitSite
  uint32_t block;
  uint32_t index;         // tile or token-tile index being waited on
  uint32_t have;          // flag value seen
  uint32_t want;          // value waited for
  uint32_t pad;
};

// One task of a forward, written by its block when task timelines are on (Context option
// record_task_timeline); indexed by ticket. %globaltimer nanoseconds, this GPU's clock.
inline constexpr int kTaskMarks = 3;  // timeline marks inside one task
struct TaskSpanRecord {
  uint64_t start_ns, end_ns;
  uint32_t block, sm;
  uint32_t epoch;  // the forward that wrote it: older records are stale
  // 1 + ns from start to each of the task's marks (route: router GEMM done, first logits staged in smem, tokens routed;
  // dispatch: plan seen, rows listed, rows copied; GEMM: inputs ready, tile computed, rows stored); 0: no such mark
  uint32_t mark_offset_ns[kTaskMarks];
  // Where the ticket's task is not fixed by the ticket alone (expert parallelism: the dispatch and GEMM1 range
  // depends on the plan), the device names it: 0 the host decodes the ticket, 1 dispatch (index = chunk *
  // route tiles + route tile), 2 GEMM1 (index = the task).
  uint32_t stage;
  int32_t index;
};
inline constexpr uint32_t kSpanStageFromTicket = 0, kSpanStageDispatch = 1, kSpanStageGemm1 = 2;

// TMA descriptors of every GEMM operand, each over a whole 2-D tensor (rows, K); encoded by the host per run.
// Shorter TMA boxes for the A operand of expert tiles with few rows (expert_rows_operand, expert_ffn.cuh):
// kShortBoxRows and twice that.
inline constexpr int kShortBoxRows = 32;

struct TensorMaps {
  CUtensorMap x;              // [T, H]
  CUtensorMap w_router;       // [E, H]
  CUtensorMap expert_in;      // [max_expert_tiles * kTileM, H]
  CUtensorMap w1;             // [E * I, H]
  CUtensorMap w3;             // [E * I, H] (gated)
  CUtensorMap expert_hidden;  // [max_expert_tiles * kTileM, I]
  CUtensorMap w2;             // [E * H, I]
  CUtensorMap expert_in_short[2];      // expert_in with boxes of kShortBoxRows << i rows
  CUtensorMap expert_hidden_short[2];  // expert_hidden likewise
};

struct KernelParams {
  TensorMaps maps;  // first: CUtensorMap needs 64-byte alignment
  // Shapes.
  int64_t num_tokens;
  int num_experts, top_k, hidden, intermediate;
  int scoring;     // 0 softmax, 1 sigmoid
  int renormalize;
  int topk_softmax;              // 1: weights = softmax over the k picked logits (Routing::kTopKSoftmax)
  // Routing::kGroupedTopK (num_groups > 0; 0: not grouped): groups of E / num_groups experts, topk_groups chosen,
  // each scored by its group_score_topk (1 or 2) best biased scores; score_bias [E] fp32.
  int num_groups, topk_groups, group_score_topk;
  const float* score_bias;
  float routed_scaling_factor;   // routed modes: every weight is multiplied by it
  int activation;  // 0 relu, 1 gelu, 2 silu
  int gated;
  int64_t capacity;  // rows kept per expert; >= T*k when dropless

  // Tiling derived from the shapes.
  int num_route_tiles;   // ceil(T / kTileM)
  int warm_gemm1;        // 1: blocks waiting for the plan run the GEMM1 tile code once first (expert_ffn.cuh)
  int max_expert_tiles;  // upper bound on sum_e ceil(kept_e / kTileM)
  int gemm1_n_tiles;     // column tiles of the GEMM1 output (I)
  int gemm2_n_tiles;     // column tiles of the GEMM2 output (H)
  int dispatch_parts;    // dispatch tasks per route tile: 1 on one GPU, the dispatch chunks under EP
  int combine_parts;     // column parts of a route tile's combine: one combine task each
  int gemm2_groups;      // GEMM2 column groups (ticket_layout.h): combine_parts on one GPU, 1 under EP
  int gather_lead;       // one GPU: gathers that run ahead of the GEMM1 tasks (ticket_layout.h); 0 under EP
  // Ticket ranges, in dependency order: [route][dispatch][gemm1, with the gathers on one GPU][gemm2 and combine
  // (route tiles x parts), interleaved by column group], as ticket_layout.h says; first_combine_ticket is where
  // the combine would start with one group (expert parallelism, where it does). Expert parallelism: the plan's
  // ticket precedes first_dispatch_ticket, and the dispatch chunks and GEMM1 share [first_dispatch_ticket,
  // first_gemm2_ticket) (locate_ep_middle_ticket); first_gemm1_ticket is first_dispatch_ticket there.
  uint32_t first_dispatch_ticket, first_gemm1_ticket, first_gemm2_ticket, first_combine_ticket, num_tickets;

  // Tensors.
  const void* x;
  const void* w_router;
  const void* w1;
  const void* w3;
  const void* w2;
  void* out;
  int32_t* user_topk_ids;     // optional
  float* user_topk_weights;   // optional
  const int32_t* pre_topk_ids;     // Routing::kPreRouted: the caller's [T, k] ids (null: routed by scores)
  const float* pre_topk_weights;   // and weights

  // Workspace (bulk, may be caller-owned).
  float* logits;              // [T, E]
  int32_t* topk_ids;          // [T, k]
  float* topk_weights;        // [T, k]
  int32_t* slot_of;           // [T, k]: row in the expert buffers, -1 if dropped
  int32_t* route_tile_counts; // [num_route_tiles, E]: counts, then (in place) exclusive prefix over tiles
  int32_t* expert_kept;       // [E]
  int32_t* expert_tile_offset;// [E + 1]
  void* expert_in;            // [max_expert_tiles * kTileM, H]  dispatched token rows
  int32_t* expert_row_token;  // [max_expert_tiles * kTileM]  one GPU: the token of each kept expert row
  void* expert_hidden;        // [(max_expert_tiles + 1) * kTileM, I]  act(GEMM1); the last tile: warm-up scratch
  void* expert_out;           // [max_expert_tiles * kTileM, H]  GEMM2 rows, combined at the source

  // Persistent sync state (Context-owned, zero at rest).
  SyncCounters* counters;
  uint32_t* row_tile_ready;     // [max_expert_tiles]: rows dispatched into the tile (one GPU: named)
  uint32_t* row_tile_gathered;  // [max_expert_tiles]: one GPU: 1 once the gather copied the tile's rows
  uint32_t* gemm1_tiles_done;   // [max_expert_tiles]
  uint32_t* gemm2_tiles_done;   // [max_expert_tiles x gemm2_groups]: column tiles done, per (tile, group)
  uint32_t* dispatch_done;      // [num_route_tiles]
  ErrorRecord* error;

  uint32_t* forward_epoch;      // the last forward's epoch (0: none yet); the kernel advances it (finish_block)
  // Tests only (src/host/fault_injection.h): the forward of epoch inject_epoch gives up at its first block-wide
  // wait on site inject_site, as if that wait had timed out. inject_epoch 0: never.
  uint32_t inject_epoch, inject_site;
  uint64_t wait_timeout_ns;
  TaskSpanRecord* task_spans;   // optional, [num_tickets]: per-task timeline for performance analysis
};

}  // namespace onemoe::device
