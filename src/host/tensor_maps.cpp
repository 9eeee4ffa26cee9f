#include "host/tensor_maps.h"

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <sstream>

#include "host/driver_entry.h"

namespace onemoe::host {
namespace {

using EncodeTiledFn = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                   const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                   CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

EncodeTiledFn encoder() {
  static const EncodeTiledFn fn = driver_entry_point<EncodeTiledFn>("cuTensorMapEncodeTiled");  // thread-safe init
  return fn;
}

struct Tensor2D {
  const char* name;
  CUtensorMap* map;
  const void* ptr;
  uint64_t rows, cols;  // cols = K, contiguous
  uint32_t box_rows;
};

}  // namespace

Result encode_tensor_maps(DType dtype, device::KernelParams* p, int weight_experts) {
  const uint64_t T = uint64_t(p->num_tokens), E = uint64_t(p->num_experts), W = uint64_t(weight_experts), H = uint64_t(p->hidden),
                 I = uint64_t(p->intermediate);
  const uint64_t rows = uint64_t(p->max_expert_tiles) * device::kTileM;
  const uint32_t gemm1_box = p->gated ? device::kGatedTileN : device::kExpertTileN;
  const Tensor2D tensors[] = {
      {"x", &p->maps.x, p->x, T, H, device::kTileM},
      {"w_router", &p->maps.w_router, p->w_router, p->w_router != nullptr ? E : 0, H, device::kTileN},  // pre-routed: none
      {"expert_in", &p->maps.expert_in, p->expert_in, rows, H, device::kTileM},
      {"w1", &p->maps.w1, p->w1, W * I, H, gemm1_box},
      {"w3", &p->maps.w3, p->gated ? p->w3 : p->w1, W * I, H, gemm1_box},
      {"expert_hidden", &p->maps.expert_hidden, p->expert_hidden, rows, I, device::kTileM},
      {"w2", &p->maps.w2, p->w2, W * H, I, device::kExpertTileN},
      {"expert_in (32-row box)", &p->maps.expert_in_short[0], p->expert_in, rows, H, device::kShortBoxRows},
      {"expert_in (64-row box)", &p->maps.expert_in_short[1], p->expert_in, rows, H, 2 * device::kShortBoxRows},
      {"expert_hidden (32-row box)", &p->maps.expert_hidden_short[0], p->expert_hidden, rows, I, device::kShortBoxRows},
      {"expert_hidden (64-row box)", &p->maps.expert_hidden_short[1], p->expert_hidden, rows, I, 2 * device::kShortBoxRows},
  };
  for (const Tensor2D& t : tensors) {
    if (t.rows == 0) continue;  // no tokens, or no experts on this rank: the kernel never reads it
    if (Result r = encode_k_major_map(dtype, t.map, t.ptr, t.rows, t.cols, t.box_rows, t.name); !r.ok()) return r;
  }
  return Result::success();
}

namespace {

Result encode_map(DType dtype, CUtensorMap* map, const void* ptr, uint64_t rows, uint64_t cols, uint32_t box_rows,
                  uint32_t box_cols, CUtensorMapSwizzle swizzle, const char* name) {
  EncodeTiledFn encode = encoder();
  if (encode == nullptr)
    return Result::error(Status::kErrorCuda, "cuTensorMapEncodeTiled is not available from the CUDA driver");
  const CUtensorMapDataType type = dtype == DType::kBF16   ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                   : dtype == DType::kFP16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16
                                                           : CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
  const uint64_t elem = dtype_size(dtype);
  const cuuint64_t dims[2] = {cols, rows};
  const cuuint64_t strides[1] = {cols * elem};  // bytes between rows
  const cuuint32_t box[2] = {box_cols, box_rows};
  const cuuint32_t element_strides[2] = {1, 1};
  const CUresult r = encode(map, type, 2, const_cast<void*>(ptr), dims, strides, box, element_strides,
                            CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                            CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    std::ostringstream os;
    os << "encoding the TMA descriptor of " << name << " [" << rows << ", " << cols << "] failed (CUresult " << int(r)
       << ")";
    return Result::error(Status::kErrorCuda, os.str());
  }
  return Result::success();
}

}  // namespace

Result encode_k_major_map(DType dtype, CUtensorMap* map, const void* ptr, uint64_t rows, uint64_t cols,
                          uint32_t box_rows, const char* name) {
  return encode_map(dtype, map, ptr, rows, cols, box_rows, uint32_t(128 / dtype_size(dtype)),
                    CU_TENSOR_MAP_SWIZZLE_128B, name);
}

Result encode_store_map(DType dtype, CUtensorMap* map, const void* ptr, uint64_t rows, uint64_t cols,
                        uint32_t box_rows, uint32_t box_cols, const char* name) {
  return encode_map(dtype, map, ptr, rows, cols, box_rows, box_cols, CU_TENSOR_MAP_SWIZZLE_NONE, name);
}

}  // namespace onemoe::host
