// The collector's record conversion (the code the buffer-completed callback runs) on hand-built CUPTI activity
// buffers, and which runtime calls it leaves out. Needs libcupti, no GPU.
#include <gtest/gtest.h>

#include <string>

#include "api_names.h"
#include "cupti_collector.h"
#include "tools/synthetic_records.h"

namespace launchprof::record {
namespace {

using synthetic::ActivityBuffer;

TEST(RecordCollectorIngest, ConvertsRecordsAsTheCallbackDoes) {
  collector_take();  // start from an empty model
  ActivityBuffer b;
  b.api(CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_RUNTIME_TRACE_CBID_cudaLaunchKernel_v7000, 1000, 1900, 1);
  b.kernel("_Z11null_kernelv", 5000, 5600, 1);
  b.api(CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_RUNTIME_TRACE_CBID_cudaMemcpyAsync_v3020, 2000, 2100, 2);
  b.memcpy_op(CUPTI_ACTIVITY_MEMCPY_KIND_HTOD, CUPTI_ACTIVITY_MEMORY_KIND_PAGEABLE, CUPTI_ACTIVITY_MEMORY_KIND_DEVICE,
              6000, 6100, 2, 4096);
  b.memcpy_op(CUPTI_ACTIVITY_MEMCPY_KIND_HTOD, CUPTI_ACTIVITY_MEMORY_KIND_PAGEABLE, CUPTI_ACTIVITY_MEMORY_KIND_DEVICE,
              6200, 6300, 3, 4096);
  b.memcpy_op(CUPTI_ACTIVITY_MEMCPY_KIND_DTOH, CUPTI_ACTIVITY_MEMORY_KIND_DEVICE, CUPTI_ACTIVITY_MEMORY_KIND_PINNED,
              6400, 6500, 4, 8);
  b.memset_op(CUPTI_ACTIVITY_MEMORY_KIND_DEVICE, 6600, 6700, 5, 64);
  b.kernel("_Z11null_kernelv", 0, 0, 6);  // CUPTI could not time it: counted, not converted
  collector_ingest_buffer(b.data(), b.size());
  TraceModel m = collector_take();

  ASSERT_EQ(m.api_calls.size(), 2u);
  EXPECT_EQ(m.strings.at(m.api_calls[0].name_idx), "cudaLaunchKernel");
  EXPECT_EQ(m.api_calls[0].start_ns, 1000u);
  EXPECT_EQ(m.api_calls[0].end_ns, 1900u);
  EXPECT_EQ(m.api_calls[0].correlation, 1u);
  EXPECT_EQ(m.strings.at(m.api_calls[1].name_idx), "cudaMemcpyAsync");

  ASSERT_EQ(m.gpu_ops.size(), 5u);
  EXPECT_EQ(m.gpu_ops[0].kind, GpuOpKind::kKernel);
  EXPECT_EQ(m.strings.at(m.gpu_ops[0].name_idx), "null_kernel()");  // demangled
  EXPECT_EQ(m.gpu_ops[0].start_ns, 5000u);
  EXPECT_EQ(m.gpu_ops[0].stream, 7u);
  EXPECT_EQ(m.strings.at(m.gpu_ops[1].name_idx), "Memcpy HtoD (Pageable -> Device)");
  EXPECT_EQ(m.gpu_ops[2].name_idx, m.gpu_ops[1].name_idx);  // the cached name of the same kinds
  EXPECT_EQ(m.strings.at(m.gpu_ops[3].name_idx), "Memcpy DtoH (Device -> Pinned)");
  EXPECT_EQ(m.gpu_ops[3].bytes, 8u);
  EXPECT_EQ(m.strings.at(m.gpu_ops[4].name_idx), "Memset (Device)");
  EXPECT_EQ(m.counts.ops_without_timestamps, 1u);
  EXPECT_EQ(m.counts.buffers_completed, 1u);
}

TEST(RecordCollectorFilter, HostQueriesAreLeftOutLaunchesCopiesAndSyncsAreNot) {
  for (const char* q :
       {"cudaGetDevice", "cudaGetLastError", "cudaPeekAtLastError", "cudaStreamIsCapturing",
        "cudaStreamIsCapturing_ptsz", "cudaStreamGetCaptureInfo_v2", "cudaDeviceGetAttribute", "cudaGetErrorString"})
    EXPECT_TRUE(is_host_query_runtime_api(q)) << q;
  for (const char* k : {"cudaLaunchKernel", "cudaLaunchKernel_ptsz", "cudaGraphLaunch", "cudaMemcpyAsync",
                        "cudaMemsetAsync", "cudaStreamSynchronize", "cudaEventQuery", "cudaStreamQuery",
                        "cudaSetDevice", "cudaEventRecord", "cudaMalloc", "cudaProfilerStart", "cudaGetDeviceX"})
    EXPECT_FALSE(is_host_query_runtime_api(k)) << k;
}

// Over every runtime call CUPTI knows: nothing that launches, copies, sets or synchronizes is left out, and the
// calls PyTorch makes around each launch are.
TEST(RecordCollectorFilter, NoLaunchCopySetOrSyncAmongCuptisRuntimeCalls) {
  int queries = 0;
  bool saw_get_device = false;
  for (uint32_t cbid = 1; cbid < CUPTI_RUNTIME_TRACE_CBID_SIZE; ++cbid) {
    const char* name = nullptr;
    if (cuptiGetCallbackName(CUPTI_CB_DOMAIN_RUNTIME_API, cbid, &name) != CUPTI_SUCCESS || name == nullptr) continue;
    const std::string plain = strip_cbid_version(name);
    if (!is_host_query_runtime_api(plain)) continue;
    ++queries;
    saw_get_device = saw_get_device || plain == "cudaGetDevice";
    EXPECT_FALSE(is_kernel_launch_api(plain)) << plain;
    for (const char* work : {"Memcpy", "Memset", "Synchronize", "Launch", "Wait", "Record", "Query"})
      EXPECT_EQ(plain.find(work), std::string::npos) << plain;
  }
  EXPECT_TRUE(saw_get_device);
  EXPECT_GE(queries, 20);
}

}  // namespace
}  // namespace launchprof::record
