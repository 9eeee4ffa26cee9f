// The streaming reader: number parsing, chunk-boundary invariance, gzip, and the error statuses.
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "analyze_test_util.h"
#include "launchprof/analyze/event_splitter.h"
#include "launchprof/analyze/time_parse.h"

namespace launchprof::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TimeParse, MicrosecondTextBecomesExactNanoseconds) {
  int64_t ns = 0;
  ASSERT_TRUE(parse_us_to_ns("1700000000012.913", &ns));
  EXPECT_EQ(ns, 1700000000012913);
  ASSERT_TRUE(parse_us_to_ns("0", &ns));
  EXPECT_EQ(ns, 0);
  ASSERT_TRUE(parse_us_to_ns("0.0", &ns));
  EXPECT_EQ(ns, 0);
  ASSERT_TRUE(parse_us_to_ns("-2.5", &ns));
  EXPECT_EQ(ns, -2500);
  ASSERT_TRUE(parse_us_to_ns("1.0005", &ns));  // the fourth decimal rounds half away from zero
  EXPECT_EQ(ns, 1001);
  ASSERT_TRUE(parse_us_to_ns("1.0004", &ns));
  EXPECT_EQ(ns, 1000);
  ASSERT_TRUE(parse_us_to_ns("\"17.5\"", &ns));  // some writers quote numbers
  EXPECT_EQ(ns, 17500);
  ASSERT_TRUE(parse_us_to_ns("1.5e3 ", &ns));
  EXPECT_EQ(ns, 1500000);
  // 16-digit epoch microseconds stay exact (a double would round them to 256 ns).
  ASSERT_TRUE(parse_us_to_ns("1700000000000216.604", &ns));
  EXPECT_EQ(ns, int64_t{1700000000000216604});
  ASSERT_TRUE(parse_us_to_ns("8999999999999999.999", &ns));
  EXPECT_EQ(ns, int64_t{8999999999999999999});
  EXPECT_FALSE(parse_us_to_ns("9999999999999999", &ns));  // beyond int64 nanoseconds
  EXPECT_FALSE(parse_us_to_ns("12345678901234567890", &ns));  // out of int64 nanoseconds
}

TEST(TimeParse, RejectsNonNumbers) {
  int64_t ns = 0;
  EXPECT_FALSE(parse_us_to_ns("", &ns));
  EXPECT_FALSE(parse_us_to_ns("abc", &ns));
  EXPECT_FALSE(parse_us_to_ns("1.", &ns));
  EXPECT_FALSE(parse_us_to_ns("-", &ns));
  EXPECT_FALSE(parse_us_to_ns("\"12", &ns));
}

// Every chunk size and both scan paths must cut the same elements from the same bytes.
struct SplitOutcome {
  StatusCode code;
  uint64_t elements;
  std::string joined;
};

SplitOutcome split(const std::string& text, size_t chunk, bool block_scan) {
  SplitOutcome out{StatusCode::kOk, 0, ""};
  EventSplitter splitter(
      [&out](const char* data, size_t size, size_t) {
        out.joined.append(data, size);
        out.joined += '|';
        return Status::Ok();
      },
      block_scan);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t n = std::min(chunk, text.size() - pos);
    std::memcpy(splitter.write_area(n), text.data() + pos, n);
    Status s = splitter.commit(n);
    pos += n;
    if (!s.ok()) return {s.code, splitter.num_elements(), out.joined};
  }
  Status s = splitter.finish();
  out.code = s.code;
  out.elements = splitter.num_elements();
  return out;
}

std::string element_texts(std::string joined) {
  // Batches differ by chunk size; the element text (without separators) must not.
  std::string out;
  for (char c : joined)
    if (c != '|' && c != ',' && c != ' ' && c != '\n') out += c;
  return out;
}

TEST(EventSplitter, ChunkSizeAndScanPathDoNotChangeTheElements) {
  for (const char* name : {"gaps_queue.json", "mixed_devices_streams.json", "sync_split.json",
                           "orphans_and_missing.json", "array_format_legacy.json", "truncated.json",
                           "malformed_brackets.json", "no_trace_events.json", "no_kernels.json"}) {
    std::string text = read_file(fixture(name));
    ASSERT_FALSE(text.empty()) << name;
    SplitOutcome ref = split(text, 1, false);
    for (bool block : {false, true}) {
      for (size_t chunk : {1, 2, 3, 7, 63, 64, 65, 100, 4096}) {
        SplitOutcome got = split(text, chunk, block);
        EXPECT_EQ(got.code, ref.code) << name << " chunk " << chunk << " block " << block;
        EXPECT_EQ(got.elements, ref.elements) << name << " chunk " << chunk << " block " << block;
        EXPECT_EQ(element_texts(got.joined), element_texts(ref.joined)) << name << " chunk " << chunk;
      }
    }
  }
}

TEST(EventSplitter, EscapesAndBracketsInsideStringsAreText) {
  std::string text = R"({"traceEvents": [{"name": "a\"]}[{\\", "x": "\\\\"}, {"name": "}{"}]})";
  for (bool block : {false, true})
    for (size_t chunk : {1, 5, 64, 1000}) {
      SplitOutcome got = split(text + std::string(200, ' '), chunk, block);
      EXPECT_EQ(got.code, StatusCode::kOk);
      EXPECT_EQ(got.elements, 2u) << "chunk " << chunk << " block " << block;
    }
}

TEST(EventSplitter, RejectsBadSeparators) {
  for (const char* bad : {R"({"traceEvents": [{"a": 1} {"b": 2}]})", R"({"traceEvents": [{"a": 1},, {"b": 2}]})",
                          R"({"traceEvents": [{"a": 1},]})", R"({"traceEvents": [, {"a": 1}]})",
                          R"({"traceEvents": [3, {"a": 1}]})", R"({"traceEvents": [{"a": 1}] trailing})",
                          R"({"traceEvents": {"a": 1}})", R"(["x"])"}) {
    for (bool block : {false, true}) {
      // Padding pushes the events past one 64-byte block, so the block scanner sees them too.
      std::string text = std::string(bad);
      text.insert(text.find('[') + 1, std::string(70, ' '));
      EXPECT_EQ(split(text, 4096, block).code, StatusCode::kMalformed) << bad << " block " << block;
    }
  }
}

TEST(TraceReader, ErrorsCarryTheirCode) {
  struct Case {
    const char* file;
    StatusCode code;
  };
  for (Case c : {Case{"truncated.json", StatusCode::kTruncated}, Case{"truncated.json.gz", StatusCode::kTruncated},
                 Case{"malformed_event.json", StatusCode::kMalformed},
                 Case{"malformed_brackets.json", StatusCode::kMalformed},
                 Case{"no_trace_events.json", StatusCode::kNoTraceEvents},
                 Case{"does_not_exist.json", StatusCode::kIoError}}) {
    TraceData t;
    Status s = read_trace_file(fixture(c.file), &t);
    EXPECT_EQ(s.code, c.code) << c.file << ": " << s.message;
    EXPECT_FALSE(s.message.empty());
  }
}

TEST(TraceReader, GzipAndPlainReadTheSame) {
  TraceData plain, gz;
  ASSERT_TRUE(read_trace_file(fixture("graph_launch.json"), &plain).ok());
  ASSERT_TRUE(read_trace_file(fixture("graph_launch.json.gz"), &gz).ok());
  ASSERT_EQ(plain.kernels.size(), 4u);
  ASSERT_EQ(gz.kernels.size(), plain.kernels.size());
  for (size_t i = 0; i < plain.kernels.size(); ++i) {
    EXPECT_EQ(gz.kernels[i].ts_ns, plain.kernels[i].ts_ns);
    EXPECT_EQ(gz.kernels[i].correlation, plain.kernels[i].correlation);
  }
  EXPECT_EQ(gz.counts.input_bytes, plain.counts.input_bytes);
  EXPECT_LT(gz.counts.stored_bytes, plain.counts.stored_bytes);
}

TEST(TraceReader, ConcatenatedGzipMembersAreOneStream) {
  std::string text = read_file(fixture("graph_launch.json"));
  size_t half = text.size() / 2;
  std::string both;
  for (std::string part : {text.substr(0, half), text.substr(half)}) {
    uLongf cap = compressBound(part.size()) + 64;
    std::string z(cap, '\0');
    z_stream zs{};
    ASSERT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);  // +16: gzip wrapper
    zs.next_in = reinterpret_cast<Bytef*>(part.data());
    zs.avail_in = part.size();
    zs.next_out = reinterpret_cast<Bytef*>(z.data());
    zs.avail_out = cap;
    ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    z.resize(zs.total_out);
    deflateEnd(&zs);
    both += z;
  }
  TraceData t;
  Status s = read_trace_memory(both.data(), both.size(), &t);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(t.kernels.size(), 4u);
}

TEST(TraceReader, CountsWhatItSkips) {
  TraceData t;
  ASSERT_TRUE(read_trace_file(fixture("orphans_and_missing.json"), &t).ok());
  EXPECT_EQ(t.counts.events, 14u);
  EXPECT_EQ(t.counts.kernels, 5u);
  EXPECT_EQ(t.counts.runtime, 4u);
  EXPECT_EQ(t.counts.driver, 2u);
  EXPECT_EQ(t.counts.skipped_bad_phase, 1u);     // the "i" kernel event
  EXPECT_EQ(t.counts.skipped_missing_time, 1u);  // the kernel without ts
  EXPECT_EQ(t.counts.other, 1u);                 // python_function
}

TEST(TraceReader, ReadsDeviceNameAndEscapedNames) {
  TraceData t;
  ASSERT_TRUE(read_trace_file(fixture("gaps_queue.json"), &t).ok());
  EXPECT_EQ(t.gpu_name, "NVIDIA H200");
  TraceData m;
  ASSERT_TRUE(read_trace_file(fixture("mixed_devices_streams.json"), &m).ok());
  EXPECT_EQ(m.names.name(m.kernels[0].name), "gemm \"quoted\" <a\\b>");
}

TEST(TraceReader, ArrayRootQuotedNumbersAndLegacyCategories) {
  TraceData t;
  ASSERT_TRUE(read_trace_file(fixture("array_format_legacy.json"), &t).ok());
  ASSERT_EQ(t.kernels.size(), 1u);
  EXPECT_EQ(t.time_base_ns, 5000);  // records hold offsets from the first event
  EXPECT_EQ(t.kernels[0].ts_ns, 12500);
  EXPECT_EQ(t.kernels[0].stream, 7);
  EXPECT_EQ(t.apis.size(), 1u);
  EXPECT_EQ(t.ops.size(), 1u);
}

}  // namespace
}  // namespace launchprof::testing
