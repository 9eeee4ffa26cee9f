// One GEMM tile, C[kTileM, BN] = A[kTileM, K] · B[BN, K]ᵀ, both operands K-major, computed by the whole
// block and handed to an epilogue functor in pairs of adjacent columns. Used for the router logits, the
// expert GEMM1 (optionally gated: two B operands sharing A) and GEMM2.
//
//   WgmmaTile: bf16/fp16/tf32 on Hopper tensor cores (wgmma, operands in 128B-swizzled smem, filled by
//              cp.async in a kStages-deep ring). Two warpgroups, each owns 64 rows.
//   SimtTile:  exact fp32 FFMA, 8x8 outputs per thread.
//
// Rows of A or B past a_rows / b_rows are not loaded: whatever is in smem there only feeds output rows or
// columns that the epilogue must ignore (each output element depends only on its own A row and B row).
#pragma once

#include <cute/tensor.hpp>
#include <cute/arch/mma_sm90.hpp>
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cute/atom/copy_traits_sm80.hpp>
#include <cutlass/arch/barrier.h>
#include <cutlass/numeric_types.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

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

template <class Elem, int kBN, int kNumB>
struct WgmmaTile {
  using Operand = typename MmaOperand<Elem>::type;
  static constexpr int kBM = kTileM;
  static constexpr int kBK = 128 / int(sizeof(Elem));  // one 128-byte swizzle row per tile row
  static constexpr int kStages = kGemmStages;
  // wgmma batches left running while the next k-tile is issued; a smem stage is refilled only after
  // every warpgroup has retired the batch that read it, so the prefetch distance is what remains.
  static constexpr int kMmaInFlight = kGemmMmaInFlight;
  static constexpr int kPrefetch = kStages - 1 - kMmaInFlight;
  static_assert(kPrefetch >= 1, "need at least one k-tile of prefetch");

  using SmemAtom = decltype(cute::GMMA::Layout_K_SW128_Atom<Operand>{});
  using SmemLayoutA = decltype(cute::tile_to_shape(
      SmemAtom{}, cute::Shape<cute::Int<kBM>, cute::Int<kBK>, cute::Int<kStages>>{}));  // (BM,BK,PIPE)
  using SmemLayoutB = decltype(cute::tile_to_shape(
      SmemAtom{}, cute::Shape<cute::Int<kBN>, cute::Int<kBK>, cute::Int<kStages>>{}));  // (BN,BK,PIPE)
  using TiledMma = decltype(cute::make_tiled_mma(
      cute::GMMA::ss_op_selector<Operand, Operand, float, cute::Shape<cute::_64, cute::Int<kBN>, cute::Int<kBK>>>(),
      cute::Layout<cute::Shape<cute::_2, cute::_1, cute::_1>>{}));
  // 256 threads x 16 bytes: 8 threads per 128-byte row, 32 rows per pass.
  using GmemCopy = decltype(cute::make_tiled_copy(
      cute::Copy_Atom<cute::SM80_CP_ASYNC_CACHEGLOBAL<cute::uint128_t>, Operand>{},
      cute::Layout<cute::Shape<cute::_32, cute::_8>, cute::Stride<cute::_8, cute::_1>>{},
      cute::Layout<cute::Shape<cute::_1, cute::Int<16 / int(sizeof(Elem))>>>{}));

  struct Smem {
    alignas(1024) Operand a[cute::cosize_v<SmemLayoutA>];
    alignas(1024) Operand b[kNumB][cute::cosize_v<SmemLayoutB>];
  };

  // epilogue(m, n, v) with v[b][0..1] = C_b[m][n], C_b[m][n+1] (n even).
  template <class Epilogue>
  __device__ static void run(const Elem* a_ptr, int64_t lda, int a_rows, const Elem* const (&b_ptr)[kNumB],
                             int64_t ldb, int b_rows, int k_size, void* smem_raw, Epilogue&& epilogue) {
    using namespace cute;
    Smem& smem = *reinterpret_cast<Smem*>(smem_raw);
    const int tid = threadIdx.x;

    Tensor sA = make_tensor(make_smem_ptr(smem.a), SmemLayoutA{});  // (BM,BK,PIPE)
    Tensor mA = make_tensor(make_gmem_ptr(reinterpret_cast<const Operand*>(a_ptr)), make_shape(Int<kBM>{}, k_size),
                            make_stride(lda, Int<1>{}));                                   // (BM,K)
    Tensor gA = local_tile(mA, Shape<Int<kBM>, Int<kBK>>{}, make_coord(0, _));             // (BM,BK,k)
    Tensor cA = local_tile(make_identity_tensor(shape(mA)), Shape<Int<kBM>, Int<kBK>>{}, make_coord(0, _));

    GmemCopy gmem_copy;
    auto thr_copy = gmem_copy.get_slice(tid);
    Tensor tAgA = thr_copy.partition_S(gA);  // (CPY,CPY_M,CPY_K,k)
    Tensor tAsA = thr_copy.partition_D(sA);  // (CPY,CPY_M,CPY_K,PIPE)
    Tensor tAcA = thr_copy.partition_S(cA);

    Tensor sB0 = make_tensor(make_smem_ptr(smem.b[0]), SmemLayoutB{});
    Tensor mB0 = make_tensor(make_gmem_ptr(reinterpret_cast<const Operand*>(b_ptr[0])),
                             make_shape(Int<kBN>{}, k_size), make_stride(ldb, Int<1>{}));
    Tensor cB = local_tile(make_identity_tensor(shape(mB0)), Shape<Int<kBN>, Int<kBK>>{}, make_coord(0, _));
    Tensor tBcB = thr_copy.partition_S(cB);

    auto load_stage = [&](int k_tile, int stage) {
      CUTE_UNROLL
      for (int m = 0; m < size<1>(tAgA); ++m) {
        if (get<0>(tAcA(0, m, 0, 0)) < a_rows) {
          CUTE_UNROLL
          for (int k = 0; k < size<2>(tAgA); ++k) copy(gmem_copy, tAgA(_, m, k, k_tile), tAsA(_, m, k, stage));
        }
      }
      CUTE_UNROLL
      for (int b = 0; b < kNumB; ++b) {
        Tensor sB = make_tensor(make_smem_ptr(smem.b[b]), SmemLayoutB{});
        Tensor mB = make_tensor(make_gmem_ptr(reinterpret_cast<const Operand*>(b_ptr[b])),
                                make_shape(Int<kBN>{}, k_size), make_stride(ldb, Int<1>{}));
        Tensor gB = local_tile(mB, Shape<Int<kBN>, Int<kBK>>{}, make_coord(0, _));
        Tensor tBgB = thr_copy.partition_S(gB);
        Tensor tBsB = thr_copy.partition_D(sB);
        CUTE_UNROLL
        for (int n = 0; n < size<1>(tBgB); ++n) {
          if (get<0>(tBcB(0, n, 0, 0)) < b_rows) {
            CUTE_UNROLL
            for (int k = 0; k < size<2>(tBgB); ++k) copy(gmem_copy, tBgB(_, n, k, k_tile), tBsB(_, n, k, stage));
          }
        }
      }
    };

    TiledMma tiled_mma;
    auto thr_mma = tiled_mma.get_thread_slice(tid);
    Tensor tCrA = thr_mma.make_fragment_A(thr_mma.partition_A(sA));  // (MMA,MMA_M,MMA_K,PIPE) descriptors
    Tensor accum0 = partition_fragment_C(tiled_mma, Shape<Int<kBM>, Int<kBN>>{});  // (MMA,MMA_M,MMA_N)
    Tensor accum1 = partition_fragment_C(tiled_mma, Shape<Int<kBM>, Int<kBN>>{});
    clear(accum0);
    if constexpr (kNumB == 2) clear(accum1);

    const int k_tiles = k_size / kBK;
    CUTE_UNROLL
    for (int s = 0; s < kPrefetch; ++s) {
      if (s < k_tiles) load_stage(s, s);
      cp_async_fence();
    }

    // A tile of at most 64 valid rows only needs the first warpgroup's MMAs (rows 64..127 are ignored).
    const bool warpgroup_has_rows = (tid / 128) * 64 < a_rows;
    tiled_mma.accumulate_ = GMMA::ScaleOut::One;
    for (int k_tile = 0; k_tile < k_tiles; ++k_tile) {
      const int stage = k_tile % kStages;
      cp_async_wait<kPrefetch - 1>();             // this thread's copies of k_tile have landed
      cutlass::arch::fence_view_async_shared();  // cp.async writes -> visible to the wgmma (async proxy)
      __syncthreads();
      // Every warpgroup has retired the batch of k_tile - 1 - kMmaInFlight (it waited before the barrier
      // above), so that batch's stage can be refilled.
      const int next = k_tile + kPrefetch;
      if (next < k_tiles) load_stage(next, next % kStages);
      cp_async_fence();

      if (warpgroup_has_rows) {
        warpgroup_fence_operand(accum0);
        if constexpr (kNumB == 2) warpgroup_fence_operand(accum1);
        warpgroup_arrive();
        {
          Tensor tCrB =
              thr_mma.make_fragment_B(thr_mma.partition_B(make_tensor(make_smem_ptr(smem.b[0]), SmemLayoutB{})));
          CUTE_UNROLL
          for (int kb = 0; kb < size<2>(tCrA); ++kb)
            gemm(tiled_mma, tCrA(_, _, kb, stage), tCrB(_, _, kb, stage), accum0);
        }
        if constexpr (kNumB == 2) {
          Tensor tCrB =
              thr_mma.make_fragment_B(thr_mma.partition_B(make_tensor(make_smem_ptr(smem.b[1]), SmemLayoutB{})));
          CUTE_UNROLL
          for (int kb = 0; kb < size<2>(tCrA); ++kb)
            gemm(tiled_mma, tCrA(_, _, kb, stage), tCrB(_, _, kb, stage), accum1);
        }
        warpgroup_commit_batch();
        warpgroup_wait<kMmaInFlight>();
        warpgroup_fence_operand(accum0);
        if constexpr (kNumB == 2) warpgroup_fence_operand(accum1);
      }
    }
    warpgroup_wait<0>();
    warpgroup_fence_operand(accum0);
    if constexpr (kNumB == 2) warpgroup_fence_operand(accum1);
    cp_async_wait<0>();
    __syncthreads();  // smem may be reused by the caller's next tile

    Tensor tCcC = thr_mma.partition_C(make_identity_tensor(Shape<Int<kBM>, Int<kBN>>{}));
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
  }
};

// Exact fp32 (FFMA) tile with the same contract as WgmmaTile. Single-buffered: this path is for checking
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

  template <class Epilogue>
  __device__ static void run(const float* a_ptr, int64_t lda, int a_rows, const float* const (&b_ptr)[kNumB],
                             int64_t ldb, int b_rows, int k_size, void* smem_raw, Epilogue&& epilogue) {
    Smem& smem = *reinterpret_cast<Smem*>(smem_raw);
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
  }
};

}  // namespace onemoe::device
