// The record half's join, summary and Chrome-trace writer on hand-made records (no GPU, no CUPTI).
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#ifdef LAUNCHPROF_TEST_HAVE_ZLIB
#include <zlib.h>
#endif

#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "api_names.h"
#include "output_file.h"
#include "trace_link.h"
#include "trace_writer.h"

namespace launchprof::record {
namespace {

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// Parses a JSON string literal with simdjson and returns what it decodes to.
std::string decode(const std::string& literal) {
  simdjson::dom::parser parser;
  std::string doc = "{\"s\":" + literal + "}";
  std::string_view v;
  EXPECT_EQ(parser.parse(doc).get_object()["s"].get_string().get(v), simdjson::SUCCESS) << doc;
  return std::string(v);
}

TEST(RecordJsonString, EscapesQuotesBackslashesAndControlCharacters) {
  const std::string name = "void f<\"x\">(char\\, int)\n\t\x01";
  const std::string lit = json_string(name);
  EXPECT_EQ(lit, "\"void f<\\\"x\\\">(char\\\\, int)\\n\\t\\u0001\"");
  EXPECT_EQ(decode(lit), name);
}

TEST(RecordJsonString, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(decode(json_string("caf\xc3\xa9 \xe2\x82\xac")), "caf\xc3\xa9 \xe2\x82\xac");
  // A lone 0xff, a truncated 3-byte sequence and a UTF-16 surrogate encoded in UTF-8 are not UTF-8.
  EXPECT_EQ(json_string("a\xff"
                        "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(json_string("\xe2\x82"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(json_string("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(decode(json_string("x\xc0\xaf")), "x\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(RecordTime, RelativeMicrosecondsAreExactAndSigned) {
  auto rel = [](uint64_t t, uint64_t base) {
    std::string s;
    append_relative_us(s, t, base);
    return s;
  };
  EXPECT_EQ(rel(1234567, 1000), "1233.567");
  EXPECT_EQ(rel(1000, 1000), "0.000");
  EXPECT_EQ(rel(1999, 1000), "0.999");
  EXPECT_EQ(rel(500, 1500), "-1.000");
  EXPECT_EQ(rel(1499, 1500), "-0.001");
  EXPECT_EQ(rel(1'800'000'000'123'456'789ull, 1'800'000'000'000'000'000ull), "123456.789");
}

TEST(RecordApiNames, StripsCuptiVersionSuffixAndKnowsLaunches) {
  EXPECT_EQ(strip_cbid_version("cudaLaunchKernel_v7000"), "cudaLaunchKernel");
  EXPECT_EQ(strip_cbid_version("cudaLaunchKernel_ptsz_v7000"), "cudaLaunchKernel_ptsz");
  EXPECT_EQ(strip_cbid_version("cuLaunchKernel"), "cuLaunchKernel");
  EXPECT_EQ(strip_cbid_version("foo_vbar"), "foo_vbar");
  EXPECT_EQ(strip_cbid_version("foo_v"), "foo_v");
  for (const char* n : {"cudaLaunchKernel", "cudaLaunchKernelExC", "cudaLaunchCooperativeKernel", "__cudaLaunchKernel",
                        "cuLaunchKernel", "cuLaunchKernelEx", "cudaGraphLaunch", "cuGraphLaunch_ptsz"}) {
    EXPECT_TRUE(is_kernel_launch_api(n)) << n;
  }
  for (const char* n : {"cudaMemcpyAsync", "cudaLaunchHostFunc", "cuLaunchHostFunc", "cudaStreamSynchronize"}) {
    EXPECT_FALSE(is_kernel_launch_api(n)) << n;
  }
}

// A process with one NVTX range around: a plain launch, a graph launch of three kernels (their records out of
// order), a launch with no kernel, a runtime launch whose kernel carries the nested driver call's id, a kernel that
// starts before its launch call (negative lq), an orphan kernel, a memcpy, and a stream sync.
class RecordTraceTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kPid = 4242;
  static constexpr uint32_t kTid = 4243;

  void SetUp() override {
    m_.pid = kPid;
    m_.context_device[1] = 0;
    Range r;
    r.name_idx = m_.strings.intern("op1");
    r.start_ns = 1000;
    r.end_ns = 5000;
    r.pid = kPid;
    r.tid = kTid;
    r.id = 7;
    m_.ranges.push_back(r);
    api("cudaLaunchKernel", 10, 1100, 1300);
    kernel(kOddName, 10, 2000, 2500);
    api("cudaGraphLaunch", 11, 1400, 1600);
    kernel("g", 11, 3000, 3100, 5);
    kernel("g", 11, 2600, 2700, 5);
    kernel("g", 11, 3200, 3300, 5);
    api("cudaLaunchKernel", 12, 1700, 1800);
    api("cudaLaunchKernel", 13, 1900, 2100);
    api("cuLaunchKernel", 14, 1950, 2050, ApiDomain::kDriver);
    kernel("nested", 14, 4000, 4100);
    api("cudaLaunchKernel", 15, 4500, 4600);
    kernel("early", 15, 4400, 4450);
    kernel("orphan", 99, 4460, 4470);
    api("cudaMemcpyAsync", 16, 4700, 4800);
    GpuOp copy;
    copy.kind = GpuOpKind::kMemcpy;
    copy.name_idx = m_.strings.intern("Memcpy HtoD (Pinned -> Device)");
    copy.start_ns = 4900;
    copy.end_ns = 4950;
    copy.context = 1;
    copy.stream = 7;
    copy.correlation = 17;
    copy.runtime_correlation = 16;
    copy.bytes = 4096;
    m_.gpu_ops.push_back(copy);
    api("cudaStreamSynchronize", 18, 5000, 5200);
    SyncOp s;
    s.name_idx = m_.strings.intern("Stream Sync");
    s.start_ns = 5000;
    s.end_ns = 5200;
    s.correlation = 18;
    s.context = 1;
    s.stream = 7;
    m_.syncs.push_back(s);
  }

  void api(const char* name, uint32_t corr, uint64_t start, uint64_t end, ApiDomain d = ApiDomain::kRuntime) {
    ApiCall c;
    c.domain = d;
    c.cbid = 211;
    c.name_idx = m_.strings.intern(name);
    c.start_ns = start;
    c.end_ns = end;
    c.pid = kPid;
    c.tid = kTid;
    c.correlation = corr;
    m_.api_calls.push_back(c);
  }

  void kernel(const char* name, uint32_t corr, uint64_t start, uint64_t end, uint32_t graph = 0) {
    GpuOp k;
    k.name_idx = m_.strings.intern(name);
    k.start_ns = start;
    k.end_ns = end;
    k.context = 1;
    k.stream = 7;
    k.correlation = corr;
    k.grid[0] = 2;
    k.block[0] = 128;
    k.graph_id = graph;
    m_.gpu_ops.push_back(k);
  }

  std::string write(const LinkOptions& lo = {}) {
    LinkedTrace linked = link_trace(m_, lo);
    TraceSummary s = summarize(m_, linked);
    StringSink sink;
    WriterOptions wo;
    wo.trace_name = "unit";
    WriteResult r = write_chrome_trace(m_, linked, s, wo, sink);
    EXPECT_TRUE(r.ok);
    return sink.data();
  }

  static constexpr const char* kOddName = "void f<\"q\\\">(int)\xff";
  TraceModel m_;
};

TEST_F(RecordTraceTest, SummaryCountsSkipQuantities) {
  LinkedTrace linked = link_trace(m_, {});
  TraceSummary s = summarize(m_, linked);
  EXPECT_EQ(s.kernels, 7u);
  EXPECT_EQ(s.graph_kernels, 3u);
  EXPECT_EQ(s.kernel_launch_calls, 5u);  // corr 10, 11, 12, 13, 15; the nested driver call is not counted
  EXPECT_EQ(s.launches_without_op, 1u);  // corr 12
  EXPECT_EQ(s.orphan_kernels, 1u);
  EXPECT_EQ(s.negative_lq, 1u);
  EXPECT_EQ(s.lq_terms, 6u);
  EXPECT_EQ(s.tklqt_ns, (2000 - 1100) + (3000 - 1400) + (2600 - 1400) + (3200 - 1400) + (4000 - 1900) + (4400 - 4500));
  EXPECT_EQ(s.memcpys, 1u);
  EXPECT_EQ(s.orphan_other_ops, 0u);
  EXPECT_EQ(s.nested_calls, 1u);
  EXPECT_EQ(linked.base_ns, 1000u);
}

TEST_F(RecordTraceTest, WritesKinetoShapedEventsWithFlowsAndExternalIds) {
  const std::string text = write();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text.substr(0, 400);
  EXPECT_EQ(int64_t(doc["baseTimeNanoseconds"]), 1000);
  EXPECT_EQ(int64_t(doc["launchprof"]["tklqt_ns"]), 7500);
  EXPECT_EQ(int64_t(doc["launchprof"]["orphan_kernels"]), 1);

  std::map<std::string, int> by_cat;
  std::map<int64_t, int> starts, ends;
  std::map<int64_t, double> end_ts;
  bool saw_odd_name = false;
  for (simdjson::dom::element e : doc["traceEvents"].get_array()) {
    std::string_view ph = e["ph"];
    if (ph == "s" || ph == "f") {
      EXPECT_EQ(std::string_view(e["cat"]), "ac2g");
      (ph == "s" ? starts : ends)[int64_t(e["id"])] += 1;
      if (ph == "f") {
        EXPECT_EQ(std::string_view(e["bp"]), "e");
        end_ts[int64_t(e["id"])] = double(e["ts"]);
      }
      continue;
    }
    if (ph != "X") continue;
    const std::string cat{std::string_view(e["cat"])};
    by_cat[cat] += 1;
    std::string_view name = e["name"];
    simdjson::dom::object args = e["args"];
    if (cat == "kernel") {
      EXPECT_EQ(int64_t(e["pid"]), 0);
      EXPECT_EQ(int64_t(e["tid"]), 7);
      EXPECT_EQ(int64_t(args["grid"].at(0)), 2);
      EXPECT_EQ(int64_t(args["block"].at(0)), 128);
      int64_t ext = 0;
      const bool has_ext = args["External id"].get(ext) == simdjson::SUCCESS;
      EXPECT_EQ(has_ext, name != "orphan") << name;
      if (has_ext) EXPECT_EQ(ext, 7) << name;
      if (name == "nested") EXPECT_EQ(int64_t(args["correlation"]), 13);
      if (name == "void f<\"q\\\">(int)\xef\xbf\xbd") {
        saw_odd_name = true;
        EXPECT_DOUBLE_EQ(double(e["ts"]), 1.0);  // (2000 - 1000) ns
        EXPECT_DOUBLE_EQ(double(e["dur"]), 0.5);
      }
    }
    if (cat == "cuda_runtime") {
      EXPECT_EQ(int64_t(e["pid"]), kPid);
      EXPECT_EQ(int64_t(e["tid"]), kTid);
      EXPECT_EQ(int64_t(args["External id"]), 7);
      EXPECT_EQ(int64_t(args["cbid"]), 211);
    }
    if (cat == "cuda_sync") {
      EXPECT_EQ(int64_t(e["pid"]), 0);
      EXPECT_EQ(int64_t(e["tid"]), 7);
      EXPECT_EQ(int64_t(args["correlation"]), 18);
    }
  }
  EXPECT_TRUE(saw_odd_name);
  EXPECT_EQ(by_cat["kernel"], 7);
  EXPECT_EQ(by_cat["cuda_runtime"], 7);  // 10, 11, 12, 13, 15, 16, 18
  EXPECT_EQ(by_cat["cuda_driver"], 0);   // the nested cuLaunchKernel is stood for by its runtime call
  EXPECT_EQ(by_cat["user_annotation"], 1);
  EXPECT_EQ(by_cat["gpu_memcpy"], 1);
  EXPECT_EQ(by_cat["cuda_sync"], 1);
  // One flow per launch call that has ops, each start paired with exactly one end.
  EXPECT_EQ(starts, (std::map<int64_t, int>{{10, 1}, {11, 1}, {13, 1}, {15, 1}, {16, 1}}));
  EXPECT_EQ(ends, starts);
  EXPECT_DOUBLE_EQ(end_ts[11], 1.6);  // the graph launch's flow ends at its earliest kernel (2600 ns)
}

TEST_F(RecordTraceTest, RuntimeCallInsideARuntimeCallIsStoodForByTheOuterOne) {
  api("__cudaLaunchKernel", 20, 6000, 6200);
  api("cudaLaunchKernel", 21, 6050, 6150);  // made by the outer call
  kernel("inner", 21, 6300, 6400);
  LinkedTrace linked = link_trace(m_, {});
  TraceSummary s = summarize(m_, linked);
  EXPECT_EQ(s.kernel_launch_calls, 6u);  // one more: the outer call
  EXPECT_EQ(s.launches_without_op, 1u);  // unchanged: the inner call is not a launch of its own
  EXPECT_EQ(s.nested_calls, 2u);
  EXPECT_EQ(s.tklqt_ns, 7500 + (6300 - 6000));
  EXPECT_EQ(linked.op_launch.back(), static_cast<int32_t>(m_.api_calls.size()) - 2);
}

TEST_F(RecordTraceTest, CaptureRangeKeepsOnlyWhatRunsBetweenProfilerStartAndStop) {
  api("cudaProfilerStart", 30, 4300, 4310);
  api("cudaProfilerStop", 31, 4990, 4995);
  LinkOptions lo;
  lo.capture_profiler_range = true;
  LinkedTrace linked = link_trace(m_, lo);
  TraceSummary s = summarize(m_, linked);
  EXPECT_FALSE(linked.capture_range_missing);
  EXPECT_EQ(s.kernels, 2u);  // "early" (its launch call at 4500 is inside) and the orphan at 4460
  EXPECT_EQ(s.orphan_kernels, 1u);
  EXPECT_EQ(s.memcpys, 1u);
  EXPECT_EQ(s.kernel_launch_calls, 1u);
  EXPECT_EQ(s.tklqt_ns, -100);
  EXPECT_EQ(linked.base_ns, 1000u);  // the NVTX range overlaps the window and is kept whole

  TraceModel no_start = m_;
  no_start.api_calls.pop_back();
  no_start.api_calls.pop_back();
  LinkedTrace all = link_trace(no_start, lo);
  EXPECT_TRUE(all.capture_range_missing);
  EXPECT_EQ(summarize(no_start, all).kernels, 7u);
}

TEST(RecordTraceEmpty, EmptyModelIsValidJson) {
  TraceModel m;
  LinkedTrace linked = link_trace(m, {});
  StringSink sink;
  ASSERT_TRUE(write_chrome_trace(m, linked, summarize(m, linked), {}, sink).ok);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(sink.data()).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(doc["traceEvents"].get_array().size(), 0u);
}

#ifdef LAUNCHPROF_TEST_HAVE_ZLIB
TEST_F(RecordTraceTest, GzipFileHoldsTheSameTextAndNoTempFileRemains) {
  const std::string text = write();
  char dir_template[] = "/tmp/lp_record_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/t.json.gz";
  std::string error;
  auto sink = FileSink::open(path, &error);
  ASSERT_TRUE(sink) << error;
  ASSERT_TRUE(sink->compressed());
  ASSERT_TRUE(sink->write(text));
  ASSERT_TRUE(sink->close(&error)) << error;
  EXPECT_TRUE(sink->compressed());  // still true after close: the exit message reads it then
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);
  {
    // gzread also reads plain files, so the magic bytes are what proves the file is gzip.
    FILE* f = std::fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    unsigned char magic[2] = {0, 0};
    EXPECT_EQ(std::fread(magic, 1, 2, f), 2u);
    std::fclose(f);
    EXPECT_EQ(magic[0], 0x1f);
    EXPECT_EQ(magic[1], 0x8b);
  }
  gzFile gz = gzopen(path.c_str(), "rb");
  ASSERT_NE(gz, nullptr);
  std::string back;
  char buf[4096];
  for (int n; (n = gzread(gz, buf, sizeof(buf))) > 0;) back.append(buf, static_cast<size_t>(n));
  gzclose(gz);
  EXPECT_EQ(back, text);
  std::remove(path.c_str());
  rmdir(dir_template);
}
#endif

}  // namespace
}  // namespace launchprof::record
