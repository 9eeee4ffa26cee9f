// One GEMM tile, C[kTileM, BN] = A[kTileM, K] · B[BN, K]ᵀ, both operands K-major, computed by the whole
// block and handed to an epilogue functor in pairs of adjacent columns. Used for the router logits, the
// expert GEMM1 (optionally gated: two B operands sharing A) and GEMM2.
//
//   TmaWgmmaTile: bf16/fp16/tf32 on Hopper tensor cores. Thread 0 streams k-tiles with TMA into a
//                 kStages-deep ring of 128B-swizzled smem stages ("full" mbarriers count the bytes in);
//                 two warpgroups run wgmma on them (64 rows each) and hand each stage back on an "empty"
//                 mbarrier. No block-wide barrier in the main loop.
//   SimtTile:     exact fp32 FFMA, 8x8 outputs per thread.
//
// Rows of A or B past the valid rows are loaded as whatever is there (or zeros past the tensor's end): they
// only feed output rows or columns that the epilogue ignores (each output depends only on its own A and B row).
#pragma once

#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>

#include <cute/arch/copy_sm90_tma.hpp>
#include <cute/arch/mma_sm90.hpp>
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cute/tensor.hpp>
#include <cutlass/arch/barrier.h>
#include <cutlass/numeric_types.h>

#include "kernel_params.h"

namespace onemoe::device {

template <class Elem>
struct MmaOperand {
  using type = Elem;
};
template <>
struct MmaOperand<__nv_bfloat16> {
  using type = cutlass::bfloat16_t;  // same bits, the type CuTe's GMMA selector knows
};
template <>
struct MmaOperand<__half> {
  using type = cutlass::half_t;
};
template <>
struct MmaOperand<float> {
  using type = cute::tfloat32_t;  // same 32 bits; wgmma reads the tf32 part
};

// One GEMM operand tile: where its rows start, for both kinds of tile.
struct GemmOperand {
  const void* base;        // the tile's first row (SIMT path)
  int64_t ld;              // elements between rows (SIMT path)
  const CUtensorMap* map;  // TMA descriptor of the whole 2-D tensor (TMA path)
  int row0;                // the tile's first row in that tensor (TMA path)
  int rows;                // valid rows
  int box_rows = kTileM;   // A operand: rows the TMA box of `map` loads (TMA path); the rest of the smem tile is stale
};

// The pipeline mbarriers of every GEMM tile, at one fixed place in static smem (StageSmem::pipeline) that no
// stage ever writes as data. The operand stages live in the dynamic smem, which the other stages use as scratch
// between tiles; barriers there would sit at a different offset for each tile type, so one tile's operands or
// another stage's scratch would overwrite memory that was a barrier and was never invalidated.
struct PipelineBarriers {
  alignas(8) uint64_t full[kGemmStages];   // TMA bytes of a stage have landed
  alignas(8) uint64_t empty[kGemmStages];  // every warpgroup is done reading a stage
};

// Where a GEMM tile runs: its operand stages (1 KB aligned, for the 128B swizzle) and the pipeline barriers.
struct GemmSmem {
  void* operands;
  PipelineBarriers* barriers;
};

// An mbarrier's memory may be initialised again (or used as anything else) only after mbarrier.inval.
__device__ __forceinline__ void mbarrier_invalidate(uint64_t* barrier) {
  asm volatile("mbarrier.inval.shared::cta.b64 [%0];" ::"r"(uint32_t(__cvta_generic_to_shared(barrier))) : "memory");
}

// Waits for an mbarrier phase until deadline_ns (%globaltimer). After a timeout *failed is set and every later
// wait of this thread returns at once, so the tile runs to its end (with garbage) and the caller unwinds.
__device__ __forceinline__ void bounded_phase_wait(const uint64_t* barrier, uint32_t phase, uint64_t deadline_ns,
                                                   bool* failed) {
  uint32_t spins = 0;
  while (!*failed && !cutlass::arch::ClusterBarrier::try_wait(barrier, phase)) {
    if ((++spins & 255) == 0) {
      uint64_t now;
      asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
      if (now > deadline_ns) *failed = true;
    }
  }
}

// The default transform of run(): leaves the accumulators as they are.
struct KeepAccumulators {
  template <class ForEach>
  __device__ void operator()(ForEach&&) const {}
};

// The smem and MMA shapes of a 128 x kBN tile over kStages k-tiles of one 128-byte swizzle row each, computed by
// kWarpgroups warpgroups of 64 rows each. Shared by the fused kernels' tile (TmaWgmmaTile) and the
// warp-specialized engine (ws_grouped_gemm.cuh).
template <class Elem, int kBN, int kNumB, int kStages, int kWarpgroups>
struct GmmaTileShape {
  using Operand = typename MmaOperand<Elem>::type;
  static constexpr int kBM = kTileM;
  static constexpr int kBK = 128 / int(sizeof(Elem));  // one 128-byte swizzle row per tile row
  static_assert(kWarpgroups * 64 == kBM, "each warpgroup owns 64 rows of the tile");
  using SmemAtom = decltype(cute::GMMA::Layout_K_SW128_Atom<Operand>{});
  using SmemLayoutA = decltype(cute::tile_to_shape(
      SmemAtom{}, cute::Shape<cute::Int<kBM>, cute::Int<kBK>, cute::Int<kStages>>{}));  // (BM,BK,PIPE)
  using SmemLayoutB = decltype(cute::tile_to_shape(
      SmemAtom{}, cute::Shape<cute::Int<kBN>, cute::Int<kBK>, cute::Int<kStages>>{}));  // (BN,BK,PIPE)
  using TiledMma = decltype(cute::make_tiled_mma(
      cute::GMMA::ss_op_selector<Operand, Operand, float, cute::Shape<cute::_64, cute::Int<kBN>, cute::Int<kBK>>>(),
      cute::Layout<cute::Shape<cute::Int<kWarpgroups>, cute::_1, cute::_1>>{}));
  struct Smem {  // the operand stages only (the mbarriers live elsewhere, at a fixed place)
    alignas(1024) Operand a[cute::cosize_v<SmemLayoutA>];
    alignas(1024) Operand b[kNumB][cute::cosize_v<SmemLayoutB>];
  };
};

template <class Elem, int kBN, int kNumB>
struct TmaWgmmaTile {
  using Operand = typename MmaOperand<Elem>::type;
  static constexpr int kBM = kTileM;
  static constexpr int kBK = 128 / int(sizeof(Elem));  // one 128-byte swizzle row per tile row
  static constexpr int kStages = kGemmStages;
  static constexpr int kMmaInFlight = kGemmMmaInFlight;  // wgmma batches left running across k-tiles
  static_assert(kMmaInFlight < kStages, "a stage still read by a running batch cannot be refilled");
  static constexpr int kConsumerWarpgroups = kThreadsPerBlock / 128;
  static constexpr uint32_t kStageBBytes = uint32_t(kNumB * kBN * kBK * sizeof(Elem));
  using TileShape = GmmaTileShape<Elem, kBN, kNumB, kStages, kConsumerWarpgroups>;
  using SmemLayoutA = typename TileShape::SmemLayoutA;
  using SmemLayoutB = typename TileShape::SmemLayoutB;
  using TiledMma = typename TileShape::TiledMma;
  using Smem = typename TileShape::Smem;  // the operand stages only: the barriers are PipelineBarriers
  // Bytes at the start of the operand smem that other stages may use between tiles: all of it.
  static constexpr size_t kScratchBytes = sizeof(Smem);

  // Thread 0: fill `stage` with k-tile `k_tile` of A and every B.
  __device__ static void issue_loads(Smem& smem, PipelineBarriers& bar, const GemmOperand& a,
                                     const GemmOperand (&b)[kNumB], int k_tile, int stage) {
    using cutlass::arch::ClusterTransactionBarrier;
    ClusterTransactionBarrier::arrive_and_expect_tx(&bar.full[stage],
                                                    kStageBBytes + uint32_t(a.box_rows * kBK * sizeof(Elem)));
    const int k0 = k_tile * kBK;
    cute::SM90_TMA_LOAD_2D::copy(a.map, &bar.full[stage], 0, smem.a + stage * (kBM * kBK), k0, a.row0);
#pragma unroll
    for (int i = 0; i < kNumB; ++i)
      cute::SM90_TMA_LOAD_2D::copy(b[i].map, &bar.full[stage], 0, smem.b[i] + stage * (kBN * kBK), k0, b[i].row0);
  }

  // epilogue(m, n, v) with v[b][0..1] = C_b[m][n], C_b[m][n+1] (n even). Before it, transform0(for_each) may
  // rewrite C_0 in place: for_each(f) sets every element c of C_0 to f(c). A transform that picks f once and
  // calls for_each once gets one unrolled loop without a branch per element (the GEMM1 activation).
  // Returns false (on every thread, and without calling the epilogue) if a pipeline wait passed deadline_ns.
  template <class Epilogue, class Transform = KeepAccumulators>
  __device__ static bool run(const GemmOperand& a, const GemmOperand (&b)[kNumB], int k_size, const GemmSmem& where,
                             uint64_t deadline_ns, Epilogue&& epilogue, Transform&& transform0 = {}) {
    using namespace cute;
    using cutlass::arch::ClusterBarrier;
    Smem& smem = *reinterpret_cast<Smem*>(where.operands);
    PipelineBarriers& bar = *where.barriers;
    const int tid = threadIdx.x;
    const int k_tiles = k_size / kBK;

    // The previous tile invalidated them (or the kernel just started), so each starts from phase 0.
    if (tid == 0) {
      for (int s = 0; s < kStages; ++s) {
        ClusterBarrier::init(&bar.full[s], 1);
        ClusterBarrier::init(&bar.empty[s], kConsumerWarpgroups);
      }
      cutlass::arch::fence_barrier_init();
    }
    // Earlier tasks wrote this smem with generic stores (staged epilogue rows, combine and router scratch);
    // order those before the TMA (async proxy) overwrites it.
    cutlass::arch::fence_view_async_shared();
    __syncthreads();
    if (tid == 0) {
      for (int s = 0; s < kStages && s < k_tiles; ++s) issue_loads(smem, bar, a, b, s, s);
    }

    Tensor sA = make_tensor(make_smem_ptr(smem.a), SmemLayoutA{});  // (BM,BK,PIPE)
    TiledMma tiled_mma;
    auto thr_mma = tiled_mma.get_thread_slice(tid);
    Tensor tCrA = thr_mma.make_fragment_A(thr_mma.partition_A(sA));  // (MMA,MMA_M,MMA_K,PIPE) descriptors
    Tensor tCrB0 = thr_mma.make_fragment_B(thr_mma.partition_B(make_tensor(make_smem_ptr(smem.b[0]), SmemLayoutB{})));
    Tensor tCrB1 =
        thr_mma.make_fragment_B(thr_mma.partition_B(make_tensor(make_smem_ptr(smem.b[kNumB - 1]), SmemLayoutB{})));
    Tensor accum0 = partition_fragment_C(tiled_mma, Shape<Int<kBM>, Int<kBN>>{});  // (MMA,MMA_M,MMA_N)
    Tensor accum1 = partition_fragment_C(tiled_mma, Shape<Int<kBM>, Int<kBN>>{});
    // A tile of at most 64 valid rows only needs the first warpgroup's MMAs (rows 64..127 are ignored). The
    // choice is made once, outside the k loop: a branch around the wgmma inside it makes ptxas serialize them.
    const bool warpgroup_has_rows = (tid / 128) * 64 < a.rows;
    const bool warpgroup_leader = tid % 128 == 0;
    bool failed = false;
    auto mainloop = [&](auto with_mma) {
      // The first k-block overwrites the accumulators (ScaleOut::Zero) instead of a clear() before the loop.
      tiled_mma.accumulate_ = GMMA::ScaleOut::Zero;
      for (int k_tile = 0; k_tile < k_tiles; ++k_tile) {
        const int stage = k_tile % kStages;
        const uint32_t phase = (k_tile / kStages) & 1;
        bounded_phase_wait(&bar.full[stage], phase, deadline_ns, &failed);
        if constexpr (decltype(with_mma)::value) {
          warpgroup_fence_operand(accum0);
          if constexpr (kNumB == 2) warpgroup_fence_operand(accum1);
          warpgroup_arrive();
          [[maybe_unused]] const auto scale = tiled_mma.accumulate_;  // read only when kNumB == 2
          CUTE_UNROLL
          for (int kb = 0; kb < size<2>(tCrA); ++kb) {
            gemm(tiled_mma, tCrA(_, _, kb, stage), tCrB0(_, _, kb, stage), accum0);
            tiled_mma.accumulate_ = GMMA::ScaleOut::One;
          }
          if constexpr (kNumB == 2) {
            tiled_mma.accumulate_ = scale;
            CUTE_UNROLL
            for (int kb = 0; kb < size<2>(tCrA); ++kb) {
              gemm(tiled_mma, tCrA(_, _, kb, stage), tCrB1(_, _, kb, stage), accum1);
              tiled_mma.accumulate_ = GMMA::ScaleOut::One;
            }
          }
          warpgroup_commit_batch();
          warpgroup_wait<kMmaInFlight>();  // the batch of k_tile - kMmaInFlight has retired
          warpgroup_fence_operand(accum0);
          if constexpr (kNumB == 2) warpgroup_fence_operand(accum1);
        }
        // This warpgroup is done with the stage read kMmaInFlight k-tiles ago; once every warpgroup is,
        // thread 0 refills it.
        const int done = k_tile - kMmaInFlight;
        if (done >= 0) {
          const int done_stage = done % kStages;
          __syncwarp();
          if (warpgroup_leader) ClusterBarrier::arrive(&bar.empty[done_stage]);
          const int refill = done + kStages;
          if (tid == 0 && refill < k_tiles) {
            bounded_phase_wait(&bar.empty[done_stage], (done / kStages) & 1, deadline_ns, &failed);
            // After a timeout no new load is issued: the tile is abandoned, and a load landing later would write
            // into smem that the block's next task owns.
            if (!failed) issue_loads(smem, bar, a, b, refill, done_stage);
          }
        }
      }
    };
    if (warpgroup_has_rows) mainloop(cute::true_type{});
    else mainloop(cute::false_type{});
    warpgroup_wait<0>();
    warpgroup_fence_operand(accum0);
    if constexpr (kNumB == 2) warpgroup_fence_operand(accum1);
    // Every TMA has landed and every wgmma retired: smem may be reused by the next tile. The barriers are
    // invalidated for the next tile's init (after a timeout a load may still be pending on them: they stay).
    if (__syncthreads_or(failed)) return false;
    if (tid == 0) {
      for (int s = 0; s < kStages; ++s) {
        mbarrier_invalidate(&bar.full[s]);
        mbarrier_invalidate(&bar.empty[s]);
      }
    }

    Tensor tCcC = thr_mma.partition_C(make_identity_tensor(Shape<Int<kBM>, Int<kBN>>{}));
    // A warp whose accumulator rows (16 of the tile's) are all past the valid rows skips the transform and the
    // epilogue: at decode sizes, a few rows per tile, that is 7 of the 8 warps, and the GEMM1 activation of
    // 128 x 256 values was spent on rows nobody reads.
    bool thread_has_rows = false;
    CUTE_UNROLL
    for (int i = 0; i < size(accum0); ++i) thread_has_rows |= int(get<0>(tCcC(i))) < a.rows;
    if (!__any_sync(0xffffffffu, thread_has_rows)) return true;

    transform0([&](auto&& f) {
      CUTE_UNROLL
      for (int i = 0; i < size(accum0); ++i) accum0(i) = f(accum0(i));
    });
    CUTE_UNROLL
    for (int i = 0; i < size(accum0); i += 2) {
      float v[kNumB][2];
      v[0][0] = accum0(i);
      v[0][1] = accum0(i + 1);
      if constexpr (kNumB == 2) {
        v[kNumB - 1][0] = accum1(i);
        v[kNumB - 1][1] = accum1(i + 1);
      }
      epilogue(int(get<0>(tCcC(i))), int(get<1>(tCcC(i))), v);
    }
    return true;
  }
};

// Exact fp32 (FFMA) tile with the same contract as TmaWgmmaTile. Single-buffered: this path is for checking
// and for users who need exact fp32, not for speed.
template <int kBN, int kNumB>
struct SimtTile {
  static constexpr int kBM = kTileM;
  static constexpr int kBK = 16;
  static constexpr int kRowsPerThread = kBM / 16;  // 16x16 thread grid
  static constexpr int kColsPerThread = kBN / 16;

  struct Smem {
    float a[kBK][kBM];          // transposed: k-major rows for broadcast reads
    float b[kNumB][kBK][kBN];
  };
  static constexpr size_t kScratchBytes = SIZE_MAX;  // no barriers: all of the GEMM smem

  template <class Epilogue, class Transform = KeepAccumulators>
  __device__ static bool run(const GemmOperand& a, const GemmOperand (&b)[kNumB], int k_size, const GemmSmem& where,
                             uint64_t /*deadline_ns: no waits*/, Epilogue&& epilogue, Transform&& transform0 = {}) {
    Smem& smem = *reinterpret_cast<Smem*>(where.operands);
    const float* a_ptr = static_cast<const float*>(a.base);
    const int64_t lda = a.ld, ldb = b[0].ld;
    const int a_rows = a.rows, b_rows = b[0].rows;
    const float* b_ptr[kNumB];
#pragma unroll
    for (int i = 0; i < kNumB; ++i) b_ptr[i] = static_cast<const float*>(b[i].base);
    const int tid = threadIdx.x;
    const int ty = tid / 16, tx = tid % 16;
    float acc[kNumB][kRowsPerThread][kColsPerThread];
#pragma unroll
    for (int b = 0; b < kNumB; ++b)
#pragma unroll
      for (int i = 0; i < kRowsPerThread; ++i)
#pragma unroll
        for (int j = 0; j < kColsPerThread; ++j) acc[b][i][j] = 0.f;

    for (int k0 = 0; k0 < k_size; k0 += kBK) {
      // Each of the kBM (or kBN) rows has kBK/4 float4s.
      for (int v = tid; v < kBM * (kBK / 4); v += kThreadsPerBlock) {
        const int r = v / (kBK / 4), c = (v % (kBK / 4)) * 4;
        float4 val = make_float4(0.f, 0.f, 0.f, 0.f);
        if (r < a_rows) val = *reinterpret_cast<const float4*>(a_ptr + int64_t(r) * lda + k0 + c);
        smem.a[c + 0][r] = val.x;
        smem.a[c + 1][r] = val.y;
        smem.a[c + 2][r] = val.z;
        smem.a[c + 3][r] = val.w;
      }
#pragma unroll
      for (int b = 0; b < kNumB; ++b) {
        for (int v = tid; v < kBN * (kBK / 4); v += kThreadsPerBlock) {
          const int r = v / (kBK / 4), c = (v % (kBK / 4)) * 4;
          float4 val = make_float4(0.f, 0.f, 0.f, 0.f);
          if (r < b_rows) val = *reinterpret_cast<const float4*>(b_ptr[b] + int64_t(r) * ldb + k0 + c);
          smem.b[b][c + 0][r] = val.x;
          smem.b[b][c + 1][r] = val.y;
          smem.b[b][c + 2][r] = val.z;
          smem.b[b][c + 3][r] = val.w;
        }
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        float a_frag[kRowsPerThread];
#pragma unroll
        for (int i = 0; i < kRowsPerThread; ++i) a_frag[i] = smem.a[kk][ty * kRowsPerThread + i];
#pragma unroll
        for (int b = 0; b < kNumB; ++b) {
#pragma unroll
          for (int j = 0; j < kColsPerThread; ++j) {
            const float b_val = smem.b[b][kk][tx * kColsPerThread + j];
#pragma unroll
            for (int i = 0; i < kRowsPerThread; ++i) acc[b][i][j] = fmaf(a_frag[i], b_val, acc[b][i][j]);
          }
        }
      }
      __syncthreads();
    }
    transform0([&](auto&& f) {
#pragma unroll
      for (int i = 0; i < kRowsPerThread; ++i)
#pragma unroll
        for (int j = 0; j < kColsPerThread; ++j) acc[0][i][j] = f(acc[0][i][j]);
    });
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) {
#pragma unroll
      for (int j = 0; j < kColsPerThread; j += 2) {
        float v[kNumB][2];
#pragma unroll
        for (int b = 0; b < kNumB; ++b) {
          v[b][0] = acc[b][i][j];
          v[b][1] = acc[b][i][j + 1];
        }
        epilogue(ty * kRowsPerThread + i, tx * kColsPerThread + j, v);
      }
    }
    return true;
  }
};

}  // namespace onemoe::device
