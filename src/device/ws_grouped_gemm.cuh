// A persistent, warp-specialized grouped GEMM over expert row tiles: the GEMM engine of the one task pipeline
// that docs/design.md plans for both kernels, built and measured on its own first (bench/gemm_lab).
//
//   C[rows, N] = act(A[rows, K] · B_e[N, K]ᵀ)  (or act(A·B0ᵀ) * (A·B1ᵀ), gated), rows grouped by expert in
//   128-row tiles (the layout of the kernels' expert_in / expert_hidden), B_e the expert's K-major weight.
//
// Roles (384 threads, one block per SM):
//   warpgroup 0, one elected thread: the producer. It walks the block's tiles and streams their k-tiles with
//     TMA into a ring of kStages smem stages. The ring runs across tile boundaries: while the consumers finish a
//     tile (the last wgmma batches and the epilogue), the producer is already filling stages with the next
//     tile's k-tiles. Its warpgroup gives registers back (setmaxnreg.dec).
//   warpgroups 1 and 2: the consumers, 64 rows of the 128-row tile each, with the registers the producer gave
//     up (setmaxnreg.inc). They wait for a stage, run its wgmma batch, and hand the stage back once the batch
//     has retired (one batch left in flight across k-tiles, as in the fused kernel's tile).
// Both sides walk the same static tile sequence, so they need no queue between them: the ring's full/empty
// mbarriers are the only hand-off. Every wait is bounded by the deadline; a side that passes it records the
// failure and issues no more work.
//
// kCluster = 2: the two blocks of a cluster take two row tiles of one expert and the same column tile, and each
// producer loads half of the weight tile, multicast into both blocks' rings: every SM pulls half as many weight
// bytes through L2. A stage is then free only when the consumers of both blocks released it, so each consumer
// warpgroup arrives on the empty barrier of both blocks.
#pragma once

#include <cuda.h>

#include <cstdint>

#include <cute/arch/cluster_sm90.hpp>
#include <cute/arch/copy_sm90_tma.hpp>
#include <cute/arch/mma_sm90.hpp>
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cute/tensor.hpp>
#include <cutlass/arch/barrier.h>
#include <cutlass/arch/reg_reconfig.h>

#include "expert_gemm.cuh"
#include "numeric.cuh"

namespace onemoe::device {

inline constexpr int kWsThreads = 384;          // producer warpgroup + two consumer warpgroups
inline constexpr int kWsProducerRegisters = 40;  // what the producer warpgroup keeps
inline constexpr int kWsConsumerRegisters = 232;  // what each consumer warpgroup grows to (40 + 2 * 232 <= 512)

// The grouped problem, as the host lab (bench/gemm_lab) or, later, the fused kernel's scheduler describes it.
struct WsGroupedGemmParams {
  CUtensorMap a;     // [m_tiles * 128, K]
  CUtensorMap b[2];  // [E * N, K] each, boxes of BN / kCluster rows; b[1]: the gated kernel's second weight
  CUtensorMap c_store;  // kTmaStore: c, boxes of 64 rows x BN columns, unswizzled (one consumer warpgroup's rows)
  void* c;              // [m_tiles * 128, N] (Elem)
  const int32_t* tile_expert;  // [m_tiles]: the expert of each row tile
  const int32_t* tile_rows;    // [m_tiles]: its valid rows (1..128)
  // [slots * kCluster]: the row tile each block of a cluster takes in each slot (-1: none; the block still loads
  // its half of the shared weight tile). Both row tiles of a slot belong to one expert. kCluster = 1: 0, 1, ...
  const int32_t* slot_m_tile;
  int slots, m_tiles, n, k;
  int act;                 // ActivationCode, or -1: none
  int n_major;             // 1: consecutive tiles share a weight tile (walk m within a column tile); 0: share rows
  uint64_t timeout_ns;     // bound on every wait
  uint32_t* error;         // set to 1 (producer) or 2 (consumer) when a wait passed the bound
};

// A position in the ring: stage index and the parity of the stage's current phase. Advances across tiles.
template <int kStages>
struct RingState {
  int index = 0;
  uint32_t phase = 0;
  __device__ void advance() {
    if (++index == kStages) {
      index = 0;
      phase ^= 1;
    }
  }
};

// kTmaStore: each consumer warpgroup writes its 64 x kBN outputs into an smem buffer of its own (outside the
// ring) and one thread stores it with a TMA bulk-tensor store, instead of every thread storing 4-byte pairs to
// global memory; the next tile's MMAs run while the copy engine drains it.
template <class Elem, int kBN, int kNumB, int kStages, int kCluster = 1, bool kTmaStore = false>
struct WsGroupedGemm {
  static_assert(kCluster == 1 || kCluster == 2, "one block, or a pair sharing the weight tile");
  static constexpr int kConsumers = 2;
  using TileShape = GmmaTileShape<Elem, kBN, kNumB, kStages, kConsumers>;
  using Operand = typename TileShape::Operand;
  static constexpr int kBM = TileShape::kBM, kBK = TileShape::kBK;
  using SmemLayoutA = typename TileShape::SmemLayoutA;
  using SmemLayoutB = typename TileShape::SmemLayoutB;
  using TiledMma = typename TileShape::TiledMma;
  struct Smem {
    typename TileShape::Smem ring;
    alignas(128) Elem epilogue[kTmaStore ? kBM * kBN : 1];  // [warpgroup][64 rows][kBN], row-major
  };
  static constexpr uint32_t kStageABytes = uint32_t(kBM * kBK * sizeof(Elem));
  static constexpr uint32_t kStageBBytes = uint32_t(kNumB * kBN * kBK * sizeof(Elem));  // both halves land here
  static constexpr int kBSliceRows = kBN / kCluster;  // the weight rows this block's producer loads
  struct Barriers {  // static smem: never written as data
    alignas(8) uint64_t full[kStages];
    alignas(8) uint64_t empty[kStages];
  };
  static constexpr size_t kSmemBytes = sizeof(Smem) + 1024;  // room to align the base to 1 KB
  static_assert(!kTmaStore || kBN * sizeof(Elem) % 16 == 0, "a TMA store row is a multiple of 16 bytes");

  struct TileCoord {
    int m_tile, n_tile, expert, rows;  // m_tile -1 (rows 0): this block has no row tile in this slot
  };
  __device__ static int cluster_rank() { return kCluster == 1 ? 0 : int(cute::block_rank_in_cluster()); }
  __device__ static int cluster_index() { return int(blockIdx.x) / kCluster; }
  __device__ static int num_clusters() { return int(gridDim.x) / kCluster; }
  __device__ static int num_tiles(const WsGroupedGemmParams& p) { return p.slots * ((p.n + kBN - 1) / kBN); }
  __device__ static TileCoord tile_coord(const WsGroupedGemmParams& p, int t) {
    const int n_tiles = (p.n + kBN - 1) / kBN;
    const int slot = p.n_major ? t % p.slots : t / n_tiles;
    TileCoord c;
    c.n_tile = p.n_major ? t / p.slots : t % n_tiles;
    c.m_tile = p.slot_m_tile[slot * kCluster + cluster_rank()];
    c.expert = p.tile_expert[p.slot_m_tile[slot * kCluster]];  // the slot's first tile always exists
    c.rows = c.m_tile >= 0 ? p.tile_rows[c.m_tile] : 0;
    return c;
  }

  // The elected producer thread: every k-tile of every tile of this block, into the ring.
  __device__ static void produce(const WsGroupedGemmParams& p, Smem& smem, Barriers& bar, uint64_t deadline) {
    using cutlass::arch::ClusterTransactionBarrier;
    const int k_tiles = p.k / kBK, tiles = num_tiles(p), rank = cluster_rank();
    RingState<kStages> s;
    s.phase = 1;  // a fresh mbarrier's preceding phase counts as complete: every stage starts empty
    bool failed = false;
    for (int t = cluster_index(); t < tiles && !failed; t += num_clusters()) {
      const TileCoord c = tile_coord(p, t);
      const int b_row = c.expert * p.n + c.n_tile * kBN + rank * kBSliceRows;
      const uint32_t bytes = (c.m_tile >= 0 ? kStageABytes : 0) + kStageBBytes;
      for (int kt = 0; kt < k_tiles; ++kt, s.advance()) {
        bounded_phase_wait(&bar.empty[s.index], s.phase, deadline, &failed);
        if (failed) break;
        ClusterTransactionBarrier::arrive_and_expect_tx(&bar.full[s.index], bytes);
        const int k0 = kt * kBK;
        if (c.m_tile >= 0)
          cute::SM90_TMA_LOAD_2D::copy(&p.a, &bar.full[s.index], 0, smem.ring.a + s.index * (kBM * kBK), k0,
                                       c.m_tile * kBM);
#pragma unroll
        for (int i = 0; i < kNumB; ++i) {
          Operand* dst = smem.ring.b[i] + s.index * (kBN * kBK) + rank * (kBSliceRows * kBK);
          if constexpr (kCluster == 1)
            cute::SM90_TMA_LOAD_2D::copy(&p.b[i], &bar.full[s.index], 0, dst, k0, b_row);
          else  // into the same stage of both blocks, completing on each block's own full barrier
            cute::SM90_TMA_LOAD_MULTICAST_2D::copy(&p.b[i], &bar.full[s.index], uint16_t((1u << kCluster) - 1), 0,
                                                   dst, k0, b_row);
        }
      }
    }
    if (failed) atomicCAS(p.error, 0u, 1u);
  }

  // The 128 threads of consumer warpgroup wg (named barriers 1 and 2; 0 is __syncthreads).
  __device__ static void warpgroup_barrier(int wg) { asm volatile("bar.sync %0, 128;" ::"r"(wg + 1) : "memory"); }

  // A consumer thread (ctid: 0..255 over both consumer warpgroups): the MMAs and the epilogue of every tile.
  __device__ static void consume(const WsGroupedGemmParams& p, Smem& smem, Barriers& bar, uint64_t deadline,
                                 int ctid) {
    using namespace cute;
    using cutlass::arch::ClusterBarrier;
    const int k_tiles = p.k / kBK, tiles = num_tiles(p);
    TiledMma tiled_mma;
    auto thr_mma = tiled_mma.get_thread_slice(ctid);
    Tensor sA = make_tensor(make_smem_ptr(smem.ring.a), SmemLayoutA{});  // (BM,BK,PIPE)
    Tensor tCrA = thr_mma.make_fragment_A(thr_mma.partition_A(sA));
    Tensor tCrB0 = thr_mma.make_fragment_B(thr_mma.partition_B(make_tensor(make_smem_ptr(smem.ring.b[0]), SmemLayoutB{})));
    Tensor tCrB1 =
        thr_mma.make_fragment_B(thr_mma.partition_B(make_tensor(make_smem_ptr(smem.ring.b[kNumB - 1]), SmemLayoutB{})));
    Tensor accum0 = partition_fragment_C(tiled_mma, Shape<Int<kBM>, Int<kBN>>{});  // (MMA,MMA_M,MMA_N)
    Tensor accum1 = partition_fragment_C(tiled_mma, Shape<Int<kBM>, Int<kBN>>{});
    Tensor tCcC = thr_mma.partition_C(make_identity_tensor(Shape<Int<kBM>, Int<kBN>>{}));
    const bool leader = ctid % 128 == 0;
    Elem* out = static_cast<Elem*>(p.c);
    RingState<kStages> s;
    bool failed = false;
    // A wait that passes the deadline sets `failed`, after which every wait returns at once: the loops run to
    // their ends (storing garbage; the error word says so) instead of leaving them on a per-thread condition,
    // which would put the wgmma on a divergent path and make ptxas serialize it.
    // A stage is handed back to every block of the cluster: each producer writes into all of them.
    const auto release = [&](int stage) {
      __syncwarp();
      if constexpr (kCluster == 1) {
        if (leader) ClusterBarrier::arrive(&bar.empty[stage]);
      } else {
        for (int r = 0; r < kCluster; ++r) ClusterBarrier::arrive(&bar.empty[stage], uint32_t(r), leader);
      }
    };
    for (int t = cluster_index(); t < tiles; t += num_clusters()) {
      const TileCoord c = tile_coord(p, t);
      // A warpgroup whose 64 rows are all padding waits for and releases every stage, but issues no MMA.
      const bool has_rows = (ctid / 128) * 64 < c.rows;
      int prev_stage = -1;
      // The MMA-or-not choice is made once per tile, outside the k loop: a branch around the wgmma inside it
      // makes ptxas serialize them (C7518, refused by the build).
      auto mainloop = [&](auto with_mma) {
        tiled_mma.accumulate_ = GMMA::ScaleOut::Zero;
        for (int kt = 0; kt < k_tiles; ++kt, s.advance()) {
          bounded_phase_wait(&bar.full[s.index], s.phase, deadline, &failed);
          if constexpr (decltype(with_mma)::value) {
            warpgroup_fence_operand(accum0);
            if constexpr (kNumB == 2) warpgroup_fence_operand(accum1);
            warpgroup_arrive();
            [[maybe_unused]] const auto scale = tiled_mma.accumulate_;
            CUTE_UNROLL
            for (int kb = 0; kb < size<2>(tCrA); ++kb) {
              gemm(tiled_mma, tCrA(_, _, kb, s.index), tCrB0(_, _, kb, s.index), accum0);
              tiled_mma.accumulate_ = GMMA::ScaleOut::One;
            }
            if constexpr (kNumB == 2) {
              tiled_mma.accumulate_ = scale;
              CUTE_UNROLL
              for (int kb = 0; kb < size<2>(tCrA); ++kb) {
                gemm(tiled_mma, tCrA(_, _, kb, s.index), tCrB1(_, _, kb, s.index), accum1);
                tiled_mma.accumulate_ = GMMA::ScaleOut::One;
              }
            }
            warpgroup_commit_batch();
            warpgroup_wait<1>();  // the batch of the previous k-tile has retired: its stage can be refilled
            warpgroup_fence_operand(accum0);
            if constexpr (kNumB == 2) warpgroup_fence_operand(accum1);
          }
          if (prev_stage >= 0) release(prev_stage);
          prev_stage = s.index;
        }
      };
      if (has_rows) mainloop(cute::true_type{});
      else mainloop(cute::false_type{});
      warpgroup_wait<0>();
      warpgroup_fence_operand(accum0);
      if constexpr (kNumB == 2) warpgroup_fence_operand(accum1);
      if (prev_stage >= 0) release(prev_stage);
      // The epilogue runs from registers while the producer already streams the next tile into the ring.
      if (!has_rows) continue;
      if (p.act >= 0) {
        ActivateAccumulators<kFastActivation<Elem>>{p.act}([&](auto&& f) {
          CUTE_UNROLL
          for (int i = 0; i < size(accum0); ++i) accum0(i) = f(accum0(i));
        });
      }
      const int n0 = c.n_tile * kBN;
      if constexpr (kTmaStore) {
        const int wg = ctid / 128;
        Elem* staged = smem.epilogue + wg * 64 * kBN;
        // The buffer is free once this warpgroup's previous store has read it.
        if (leader) cute::tma_store_wait<0>();
        warpgroup_barrier(wg);
        CUTE_UNROLL
        for (int i = 0; i < size(accum0); i += 2) {
          const int m = int(get<0>(tCcC(i))) - wg * 64, n = int(get<1>(tCcC(i)));
          float v0 = accum0(i), v1 = accum0(i + 1);
          if constexpr (kNumB == 2) {
            v0 *= accum1(i);
            v1 *= accum1(i + 1);
          }
          store_pair(staged + m * kBN + n, v0, v1);
        }
        // The generic smem writes before the copy engine (async proxy) reads them.
        cutlass::arch::fence_view_async_shared();
        warpgroup_barrier(wg);
        // Rows past the tile's valid rows are padding of the same 128-row tile in C; columns past N are clipped
        // by the descriptor.
        if (leader) {
          cute::SM90_TMA_STORE_2D::copy(&p.c_store, staged, n0, c.m_tile * kBM + wg * 64);
          cute::tma_store_arrive();
        }
      } else {
        Elem* tile_out = out + int64_t(c.m_tile) * kBM * p.n + n0;
        CUTE_UNROLL
        for (int i = 0; i < size(accum0); i += 2) {
          const int m = int(get<0>(tCcC(i))), n = int(get<1>(tCcC(i)));
          float v0 = accum0(i), v1 = accum0(i + 1);
          if constexpr (kNumB == 2) {
            v0 *= accum1(i);
            v1 *= accum1(i + 1);
          }
          if (m < c.rows && n0 + n < p.n) store_pair(tile_out + int64_t(m) * p.n + n, v0, v1);
        }
      }
    }
    // Every store has read its smem (and so the block may exit).
    if constexpr (kTmaStore)
      if (leader) cute::tma_store_wait<0>();
    if (failed) atomicCAS(p.error, 0u, 2u);
  }
};

// Launched with a cluster of kCluster blocks (cudaLaunchAttributeClusterDimension) when kCluster > 1.
template <class Elem, int kBN, int kNumB, int kStages, int kCluster, bool kTmaStore>
__global__ void __launch_bounds__(kWsThreads, 1) ws_grouped_gemm_kernel(const __grid_constant__ WsGroupedGemmParams p) {
  using G = WsGroupedGemm<Elem, kBN, kNumB, kStages, kCluster, kTmaStore>;
  static_assert(G::kSmemBytes <= 227 * 1024, "the ring does not fit in one SM's shared memory");
  extern __shared__ uint8_t dynamic_smem[];
  __shared__ typename G::Barriers bar;
  typename G::Smem& smem = *reinterpret_cast<typename G::Smem*>(
      dynamic_smem + ((1024u - (uint32_t(__cvta_generic_to_shared(dynamic_smem)) & 1023u)) & 1023u));
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      cutlass::arch::ClusterBarrier::init(&bar.full[s], 1);
      cutlass::arch::ClusterBarrier::init(&bar.empty[s], G::kConsumers * kCluster);
    }
    cutlass::arch::fence_barrier_init();
  }
  // Every block's barriers exist before any block multicasts into its smem or arrives on them.
  if constexpr (kCluster > 1) {
    cute::cluster_arrive_relaxed();
    cute::cluster_wait();
  } else {
    __syncthreads();
  }
  uint64_t now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  const uint64_t deadline = now + p.timeout_ns;
  // Through a shuffle, so that the compiler knows it is the same on every thread of a warp.
  const int warpgroup = __shfl_sync(0xffffffffu, int(threadIdx.x) / 128, 0);
  // Each role is one branch of a single if/else, so that setmaxnreg applies (HOPPER.md).
  if (warpgroup == 0) {
    cutlass::arch::warpgroup_reg_dealloc<kWsProducerRegisters>();
    if (threadIdx.x == 0) G::produce(p, smem, bar, deadline);
  } else {
    cutlass::arch::warpgroup_reg_alloc<kWsConsumerRegisters>();
    G::consume(p, smem, bar, deadline, int(threadIdx.x) - 128);
  }
  // No block leaves while its peer may still multicast into its smem or arrive on its barriers.
  if constexpr (kCluster > 1) {
    cute::cluster_arrive_relaxed();
    cute::cluster_wait();
  }
}

}  // namespace onemoe::device
