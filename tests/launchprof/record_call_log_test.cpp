// The callback API source: the per-thread call log (several threads, chunk boundaries, taking twice) and the
// subscriber callback fed hand-built CUpti_CallbackData (which calls it logs, and what each entry holds).
// Needs libcupti for the callback names, no GPU.
#include <cupti.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api_call_log.h"
#include "cupti_collector.h"

namespace launchprof::record {
namespace {

TEST(RecordApiCallLog, KeepsEveryThreadsCallsInOrderAcrossChunks) {
  ApiCallLog log;
  const size_t per_thread = ApiCallLog::kChunkCalls * 2 + 17;  // crosses two chunk boundaries
  const uint32_t threads = 3;
  std::vector<std::thread> workers;
  for (uint32_t t = 0; t < threads; ++t) {
    workers.emplace_back([&log, t, per_thread] {
      for (size_t i = 0; i < per_thread; ++i) {
        LoggedCall c;
        c.tid = t;
        c.correlation = static_cast<uint32_t>(i);
        c.start_ns = i;
        c.end_ns = i + 1;
        log.append(c);
      }
    });
  }
  // Taking while the threads write must only ever see whole, published entries.
  std::vector<LoggedCall> got;
  log.take(got);
  for (auto& w : workers) w.join();
  log.take(got);
  ASSERT_EQ(got.size(), per_thread * threads);
  std::map<uint32_t, uint32_t> next;  // per thread: the correlation expected next
  for (const LoggedCall& c : got) {
    ASSERT_LT(c.tid, threads);
    EXPECT_EQ(c.correlation, next[c.tid]) << "thread " << c.tid;
    EXPECT_EQ(c.end_ns, c.start_ns + 1);
    next[c.tid] = c.correlation + 1;
  }
  for (uint32_t t = 0; t < threads; ++t) EXPECT_EQ(next[t], per_thread);
  EXPECT_EQ(log.lost(), 0u);
  std::vector<LoggedCall> again;
  log.take(again);
  EXPECT_TRUE(again.empty()) << "a call was taken twice";
}

TEST(RecordApiCallLog, TakesOnlyNewCallsAfterAFirstTake) {
  ApiCallLog log;
  for (uint32_t i = 0; i < 5; ++i) log.append(LoggedCall{i, i, i, 0, 0, 0, 0});
  std::vector<LoggedCall> first;
  log.take(first);
  for (uint32_t i = 5; i < 8; ++i) log.append(LoggedCall{i, i, i, 0, 0, 0, 0});
  std::vector<LoggedCall> second;
  log.take(second);
  ASSERT_EQ(first.size(), 5u);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0].correlation, 5u);
  EXPECT_EQ(second[2].correlation, 7u);
}

// One call as CUPTI would report it: the entry callback, then the exit callback with the same correlationData.
void call(uint32_t domain, uint32_t cbid, uint32_t correlation, uint32_t result) {
  uint64_t shared = 0;
  CUpti_CallbackData d{};
  d.correlationData = &shared;
  d.correlationId = correlation;
  d.callbackSite = CUPTI_API_ENTER;
  collector_api_callback_for_test(domain, cbid, &d);
  d.callbackSite = CUPTI_API_EXIT;
  d.functionReturnValue = &result;
  collector_api_callback_for_test(domain, cbid, &d);
}

TEST(RecordCallbackSource, LogsTheChosenCallsWithTheirCorrelationAndThreadId) {
  collector_take();  // start from an empty model
  CollectorOptions o;
  o.api_source = ApiSource::kCallback;
  collector_start_call_log_for_test(o);
  call(CUPTI_CB_DOMAIN_RUNTIME_API, CUPTI_RUNTIME_TRACE_CBID_cudaLaunchKernel_v7000, 11, 0);
  call(CUPTI_CB_DOMAIN_RUNTIME_API, CUPTI_RUNTIME_TRACE_CBID_cudaGetDevice_v3020, 12, 0);  // host query: left out
  call(CUPTI_CB_DOMAIN_DRIVER_API, CUPTI_DRIVER_TRACE_CBID_cuLaunchKernel, 13, 0);
  call(CUPTI_CB_DOMAIN_DRIVER_API, CUPTI_DRIVER_TRACE_CBID_cuCtxGetCurrent, 14, 0);  // not a launch/copy/set/wait
  call(CUPTI_CB_DOMAIN_RUNTIME_API, CUPTI_RUNTIME_TRACE_CBID_cudaStreamSynchronize_v3020, 15, 700);
  TraceModel m = collector_take();

  ASSERT_EQ(m.api_calls.size(), 3u);
  std::sort(m.api_calls.begin(), m.api_calls.end(),
            [](const ApiCall& a, const ApiCall& b) { return a.correlation < b.correlation; });
  EXPECT_EQ(m.strings.at(m.api_calls[0].name_idx), "cudaLaunchKernel");
  EXPECT_EQ(m.api_calls[0].domain, ApiDomain::kRuntime);
  EXPECT_EQ(m.api_calls[0].correlation, 11u);
  EXPECT_EQ(m.strings.at(m.api_calls[1].name_idx), "cuLaunchKernel");
  EXPECT_EQ(m.api_calls[1].domain, ApiDomain::kDriver);
  EXPECT_EQ(m.api_calls[1].correlation, 13u);
  EXPECT_EQ(m.strings.at(m.api_calls[2].name_idx), "cudaStreamSynchronize");
  EXPECT_EQ(m.api_calls[2].return_value, 700u);
  for (const ApiCall& c : m.api_calls) {
    EXPECT_EQ(c.tid, static_cast<uint32_t>(syscall(SYS_gettid)));
    EXPECT_EQ(c.pid, static_cast<uint32_t>(getpid()));
    EXPECT_LE(c.start_ns, c.end_ns);
  }
  EXPECT_EQ(m.counts.api_calls_lost, 0u);
}

TEST(RecordCallbackSource, AllRuntimeApisKeepsTheHostQueries) {
  collector_take();
  CollectorOptions o;
  o.api_source = ApiSource::kCallback;
  o.all_runtime_apis = true;
  collector_start_call_log_for_test(o);
  call(CUPTI_CB_DOMAIN_RUNTIME_API, CUPTI_RUNTIME_TRACE_CBID_cudaGetDevice_v3020, 21, 0);
  TraceModel m = collector_take();
  ASSERT_EQ(m.api_calls.size(), 1u);
  EXPECT_EQ(m.strings.at(m.api_calls[0].name_idx), "cudaGetDevice");
}

}  // namespace
}  // namespace launchprof::record
