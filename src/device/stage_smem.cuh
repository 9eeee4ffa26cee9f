// Small shared-memory state of the non-GEMM stages and the scheduler (the GEMM tiles use dynamic smem).
#pragma once

#include <cstdint>
#include <initializer_list>

#include "expert_gemm.cuh"
#include "kernel_params.h"

namespace onemoe::device {

inline constexpr int kGatherSlots = 4;  // gather: smem ring slots; loads run up to kGatherSlots - 1 slots ahead

struct StageSmem {
  int32_t expert_counts[kMaxExperts];                    // route: tokens of this tile per expert
  uint32_t token_masks[kMaxExperts][kMaskWordsPerTile];  // dispatch: bit m set if token m chose expert e
  int32_t flag;                                          // result of a block-wide wait
  int32_t is_last;                                       // this block finished last (route / exit)
  uint32_t ticket;                                       // the block's next ticket (scheduler.cuh)
  int32_t plan_cached;                                   // one GPU: 1 once the copies below hold the plan
  int32_t expert_tile_offset[kMaxExperts + 1];           // one GPU: the plan's copies (block_wait_plan)
  int32_t expert_kept[kMaxExperts];
  uint64_t task_mark_ns[kTaskMarks];  // timeline only: when thread 0 passed the running task's marks (0: not)
  PipelineBarriers pipeline;              // every GEMM tile's mbarriers (expert_gemm.cuh)
  uint64_t gather_barrier[kGatherSlots];  // gather: a ring slot's bulk loads have landed
  int32_t gather_token[kTileM];           // gather: the token of each row of the tile
};

// GEMM tile implementation for an element type and fp32 math mode.
template <class Elem, bool kExactFp32, int kBN, int kNumB>
struct TileFor {
  using type = TmaWgmmaTile<Elem, kBN, kNumB>;
};
template <int kBN, int kNumB>
struct TileFor<float, true, kBN, kNumB> {
  using type = SimtTile<kBN, kNumB>;
};

// The router always runs in full precision for fp32 (it is ~1% of the FLOPs; routing must match the reference).
template <class Elem, bool kExactFp32>
using RouterTile = typename TileFor<Elem, kExactFp32 || std::is_same_v<Elem, float>, kTileN, 1>::type;
template <class Elem, bool kExactFp32>
using Gemm1PlainTile = typename TileFor<Elem, kExactFp32, kExpertTileN, 1>::type;
template <class Elem, bool kExactFp32>
using Gemm1GatedTile = typename TileFor<Elem, kExactFp32, kGatedTileN, 2>::type;
template <class Elem, bool kExactFp32>
using Gemm2Tile = typename TileFor<Elem, kExactFp32, kExpertTileN, 1>::type;

// The combine stages a route tile's pair lists (row and weight per pair) and at least kMaxTopK 16-byte
// vectors per thread in the GEMM smem (combine.cuh); this is the least room that takes.
inline constexpr size_t kCombinePairListBytes = size_t(kTileM) * kMaxTopK * (sizeof(int32_t) + sizeof(float));
inline constexpr size_t kCombineSmemFloor = kCombinePairListBytes + size_t(kMaxTopK) * kThreadsPerBlock * 16;

template <class Elem, bool kExactFp32>
constexpr size_t gemm_smem_bytes() {
  size_t s = kCombineSmemFloor;
  for (size_t t : {sizeof(typename RouterTile<Elem, kExactFp32>::Smem),
                   sizeof(typename Gemm1PlainTile<Elem, kExactFp32>::Smem),
                   sizeof(typename Gemm1GatedTile<Elem, kExactFp32>::Smem),
                   sizeof(typename Gemm2Tile<Elem, kExactFp32>::Smem)})
    s = t > s ? t : s;
  return s + 1024;  // room to align the base to the 1 KB the 128B swizzle needs
}

// The part of the (1 KB-aligned) GEMM smem that the route, dispatch and combine stages may use as scratch
// between GEMM tiles: below every tile type's mbarriers.
template <class Elem, bool kExactFp32>
constexpr size_t gemm_smem_scratch_bytes() {
  size_t s = gemm_smem_bytes<Elem, kExactFp32>() - 1024;
  for (size_t t : {RouterTile<Elem, kExactFp32>::kScratchBytes, Gemm1PlainTile<Elem, kExactFp32>::kScratchBytes,
                   Gemm1GatedTile<Elem, kExactFp32>::kScratchBytes, Gemm2Tile<Elem, kExactFp32>::kScratchBytes})
    s = t < s ? t : s;
  return s;
}

}  // namespace onemoe::device
