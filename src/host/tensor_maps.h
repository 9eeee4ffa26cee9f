// TMA descriptors for the fused kernel's GEMM operands, encoded on the host for each run (they hold the
// tensors' addresses). The driver's encoder is reached through the runtime, so nothing links libcuda.
#pragma once

#include "device/kernel_params.h"
#include "onemoe/onemoe.h"

namespace onemoe::host {

// Fills params->maps from the tensor pointers and shapes already in params. Box: kTileM (A) or the tile's
// N (B) rows × one 128-byte row of K, 128B swizzle, zero fill past the tensor's end. The expert weights hold
// weight_experts experts (E on one GPU, the local experts under expert parallelism); empty tensors get no map.
Result encode_tensor_maps(DType dtype, device::KernelParams* params, int weight_experts);

// One such descriptor: a [rows, cols] K-major tensor at ptr (cols contiguous), boxes of box_rows rows × one
// 128-byte row of cols. `name` goes into the error message.
Result encode_k_major_map(DType dtype, CUtensorMap* map, const void* ptr, uint64_t rows, uint64_t cols,
                          uint32_t box_rows, const char* name);
// A [rows, cols] row-major output that tiles are stored into from plain (unswizzled) row-major smem, in boxes of
// box_rows × box_cols (box_cols * element size a multiple of 16 bytes, at most 256 elements).
Result encode_store_map(DType dtype, CUtensorMap* map, const void* ptr, uint64_t rows, uint64_t cols,
                        uint32_t box_rows, uint32_t box_cols, const char* name);

}  // namespace onemoe::host
