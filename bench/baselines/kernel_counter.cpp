// KernelCounter: CUPTI activity records (concurrent kernel, memcpy, memset) counted per region.
#include "baselines/kernel_counter.h"

#include <cuda_runtime_api.h>
#include <cupti.h>

#include <cstdlib>

namespace onemoe::baselines {
namespace {

constexpr size_t kBufferBytes = size_t{8} << 20;
constexpr size_t kBufferAlign = 8;  // CUPTI requires 8-byte aligned activity buffers

const CUpti_ActivityKind kKinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_MEMCPY,
                                     CUPTI_ACTIVITY_KIND_MEMSET};

// The counter receiving records; CUPTI's buffer callbacks are process-wide.
std::atomic<KernelCounter*> g_active{nullptr};
std::once_flag g_register_once;
CUptiResult g_register_result = CUPTI_SUCCESS;

Result cupti_result(CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return Result::success();
  const char* text = nullptr;
  if (cuptiGetResultString(r, &text) != CUPTI_SUCCESS || text == nullptr) text = "unknown CUPTI error";
  return Result::error(Status::kErrorCuda, std::string(what) + ": " + text);
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_num_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(kBufferAlign, kBufferBytes));
  *size = *buffer == nullptr ? 0 : kBufferBytes;
  *max_num_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid_bytes) {
  if (KernelCounter* counter = g_active.load(); counter != nullptr && valid_bytes > 0) {
    counter->on_records(buffer, valid_bytes);
  }
  std::free(buffer);
}

}  // namespace

#define ONEMOE_COUNTER_TRY(expr)             \
  do {                                       \
    Result counter_r_ = (expr);              \
    if (!counter_r_.ok()) return counter_r_; \
  } while (0)

KernelCounter::~KernelCounter() {
  if (active_) stop_and_flush();  // best effort; the Result has nowhere to go
}

Result KernelCounter::start() {
  if (active_) return Result::error(Status::kErrorInvalidArgument, "KernelCounter already started");
  int devices = 0;
  const cudaError_t err = cudaGetDeviceCount(&devices);
  if (err != cudaSuccess || devices == 0) {
    return Result::error(Status::kErrorCuda, std::string("KernelCounter: no CUDA device (") +
                                                 (err != cudaSuccess ? cudaGetErrorString(err) : "count is 0") + ")");
  }
  if (g_active.load() != nullptr) {
    return Result::error(Status::kErrorInvalidArgument, "another KernelCounter is recording");
  }
  std::call_once(g_register_once,
                 [] { g_register_result = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed); });
  ONEMOE_COUNTER_TRY(cupti_result(g_register_result, "cuptiActivityRegisterCallbacks"));
  // Deliver (and, with no active counter, discard) records CUPTI still holds from before this region. A
  // failure here only means there was nothing to flush yet.
  cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  KernelCounter* expected = nullptr;
  if (!g_active.compare_exchange_strong(expected, this)) {
    return Result::error(Status::kErrorInvalidArgument, "another KernelCounter is recording");
  }
  kernels_ = memcpys_ = memsets_ = dropped_ = 0;
  {
    std::lock_guard<std::mutex> lock(names_mutex_);
    names_.clear();
  }
  Result r = Result::success();
  for (size_t i = 0; r.ok() && i < sizeof(kKinds) / sizeof(kKinds[0]); ++i) {
    r = cupti_result(cuptiActivityEnable(kKinds[i]), "cuptiActivityEnable");
  }
  if (!r.ok()) {
    for (CUpti_ActivityKind kind : kKinds) cuptiActivityDisable(kind);
    g_active.store(nullptr);
    return r;
  }
  active_ = true;
  return Result::success();
}

Result KernelCounter::stop_and_flush() {
  if (!active_) return Result::error(Status::kErrorInvalidArgument, "KernelCounter not started");
  active_ = false;
  const cudaError_t sync_err = cudaDeviceSynchronize();
  Result r = cupti_result(cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED), "cuptiActivityFlushAll");
  for (CUpti_ActivityKind kind : kKinds) {
    const Result d = cupti_result(cuptiActivityDisable(kind), "cuptiActivityDisable");
    if (r.ok() && !d.ok()) r = d;
  }
  g_active.store(nullptr);
  if (sync_err != cudaSuccess) {
    return Result::error(Status::kErrorCuda,
                         std::string("KernelCounter: cudaDeviceSynchronize: ") + cudaGetErrorString(sync_err));
  }
  return r;
}

void KernelCounter::on_records(uint8_t* buffer, size_t valid_bytes) {
  CUpti_Activity* record = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid_bytes, &record) == CUPTI_SUCCESS) {
    switch (record->kind) {
      case CUPTI_ACTIVITY_KIND_KERNEL:
      case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL:
        ++kernels_;
        if (keep_names_) {
          const auto* kernel = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
          std::lock_guard<std::mutex> lock(names_mutex_);
          names_.emplace_back(kernel->name != nullptr ? kernel->name : "?");
        }
        break;
      case CUPTI_ACTIVITY_KIND_MEMCPY:
        ++memcpys_;
        break;
      case CUPTI_ACTIVITY_KIND_MEMSET:
        ++memsets_;
        break;
      default:
        break;
    }
  }
  size_t dropped = 0;
  if (cuptiActivityGetNumDroppedRecords(nullptr, 0, &dropped) == CUPTI_SUCCESS)
    dropped_ += static_cast<int64_t>(dropped);
}

std::vector<std::string> KernelCounter::kernel_names() const {
  std::lock_guard<std::mutex> lock(names_mutex_);
  return names_;
}

}  // namespace onemoe::baselines
