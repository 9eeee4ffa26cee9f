// A persistent grid under a green context (a share of the device's SMs): a Context created there sizes its
// grid for that share and runs right; one sized for the whole device is refused with a clear error when launched
// on the share, instead of waiting for SMs it can never have (docs/reliability.md, "Sharing the GPU").
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "gpu_available.h"
#include "harness/moe_problem.h"
#include "host/driver_entry.h"
#include "onemoe/onemoe.h"

namespace onemoe {
namespace {

// A green context over about half of device 0's SMs, made current on this thread (restored on destruction).
class HalfDeviceGreenContext {
 public:
  HalfDeviceGreenContext() {
    const auto device_get = host::driver_entry_point<CUresult (*)(CUdevice*, int)>("cuDeviceGet");
    const auto get_resource = host::driver_entry_point<CUresult (*)(CUdevice, CUdevResource*, CUdevResourceType)>("cuDeviceGetDevResource");
    const auto split = host::driver_entry_point<CUresult (*)(CUdevResource*, unsigned int*, const CUdevResource*, CUdevResource*,
                                           unsigned int, unsigned int)>("cuDevSmResourceSplitByCount");
    const auto make_desc = host::driver_entry_point<CUresult (*)(CUdevResourceDesc*, CUdevResource*, unsigned int)>("cuDevResourceGenerateDesc");
    const auto create = host::driver_entry_point<CUresult (*)(CUgreenCtx*, CUdevResourceDesc, CUdevice, unsigned int)>("cuGreenCtxCreate");
    const auto to_ctx = host::driver_entry_point<CUresult (*)(CUcontext*, CUgreenCtx)>("cuCtxFromGreenCtx");
    const auto get_current = host::driver_entry_point<CUresult (*)(CUcontext*)>("cuCtxGetCurrent");
    set_current_ = host::driver_entry_point<CUresult (*)(CUcontext)>("cuCtxSetCurrent");
    destroy_ = host::driver_entry_point<CUresult (*)(CUgreenCtx)>("cuGreenCtxDestroy");
    if (!device_get || !get_resource || !split || !make_desc || !create || !to_ctx || !get_current || !set_current_ ||
        !destroy_)
      return;
    cudaFree(nullptr);  // initialises the driver and the runtime's context
    CUdevice device = 0;
    CUdevResource all{};
    if (device_get(&device, 0) != CUDA_SUCCESS || get_resource(device, &all, CU_DEV_RESOURCE_TYPE_SM) != CUDA_SUCCESS)
      return;
    device_sms_ = int(all.sm.smCount);
    CUdevResource half{}, rest{};
    unsigned int groups = 1;
    if (split(&half, &groups, &all, &rest, 0, all.sm.smCount / 2) != CUDA_SUCCESS || groups != 1) return;
    CUdevResourceDesc desc;
    if (make_desc(&desc, &half, 1) != CUDA_SUCCESS) return;
    if (create(&green_, desc, device, CU_GREEN_CTX_DEFAULT_STREAM) != CUDA_SUCCESS) return;
    CUcontext ctx = nullptr;
    if (to_ctx(&ctx, green_) != CUDA_SUCCESS) return;
    get_current(&previous_);
    if (set_current_(ctx) != CUDA_SUCCESS) return;
    green_sms_ = int(half.sm.smCount);
  }
  ~HalfDeviceGreenContext() {
    if (green_sms_ > 0) set_current_(previous_);
    if (green_ != nullptr) destroy_(green_);
  }
  int green_sms() const { return green_sms_; }  // 0: no green context on this driver or device
  int device_sms() const { return device_sms_; }

 private:
  CUresult (*set_current_)(CUcontext) = nullptr;
  CUresult (*destroy_)(CUgreenCtx) = nullptr;
  CUgreenCtx green_ = nullptr;
  CUcontext previous_ = nullptr;
  int green_sms_ = 0, device_sms_ = 0;
};

TEST(GreenContext, GridFitsTheShareAndRunsRight) {
  REQUIRE_GPU();
  const MoeShape shape{1000, 32, 2, 512, 512};
  MoeConfig config;
  // Created on the whole device first, to be launched on the share below.
  std::unique_ptr<Context> whole;
  ASSERT_TRUE(Context::create(shape, config, {}, &whole).ok());

  HalfDeviceGreenContext green;
  if (green.green_sms() == 0) GTEST_SKIP() << "this driver or device makes no green context";
  ASSERT_LT(green.green_sms(), green.device_sms());
  std::unique_ptr<harness::DeviceProblem> problem;
  ASSERT_TRUE(harness::DeviceProblem::create(shape, config, 51, &problem).ok());
  std::unique_ptr<Context> share;
  ASSERT_TRUE(Context::create(shape, config, {}, &share).ok());
  EXPECT_LE(share->grid_blocks(), green.green_sms()) << "the grid was sized for the whole device";
  cudaStream_t stream;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);  // in the green context
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(problem->poison_outputs(stream).ok());
    ASSERT_TRUE(share->run(problem->run_args(), stream).ok());
    const Result r = share->synchronize_and_check(stream);
    ASSERT_TRUE(r.ok()) << r.message;
    harness::CheckReport report;
    ASSERT_TRUE(problem->check(0, &report).ok());
    EXPECT_TRUE(report.pass) << report.summary();
  }
  // The whole-device grid on the share's stream: refused, and nothing written.
  ASSERT_TRUE(problem->poison_outputs(stream).ok());
  const Result refused = whole->run(problem->run_args(), stream);
  EXPECT_EQ(refused.status, Status::kErrorNotCoResident) << refused.message;
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  std::vector<uint8_t> out;
  ASSERT_TRUE(problem->download_output_bytes(&out).ok());
  for (uint8_t byte : out) ASSERT_EQ(byte, 0xFF) << "a refused run wrote the output";
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace onemoe
