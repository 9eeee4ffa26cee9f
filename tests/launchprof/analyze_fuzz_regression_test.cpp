// Replays the fuzzer's findings (fuzz_regressions/) and small hand-made cases of the same defects through both
// scanners at several chunk sizes: every combination must give the same status and read the same events.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "launchprof/analyze/trace_reader.h"

namespace launchprof::testing {
namespace {

struct ReadOutcome {
  StatusCode code;
  uint64_t events;
  size_t kernels;
  size_t apis;
};

ReadOutcome read_with(const std::string& text, size_t chunk, bool block_scan) {
  TraceData data;
  ReadOptions options;
  options.chunk_bytes = chunk;
  options.block_scan = block_scan;
  Status s = read_trace_memory(text.data(), text.size(), &data, options);
  return {s.code, data.counts.events, data.kernels.size(), data.apis.size()};
}

// The reference is the byte-wise scanner reading the whole input at once (what the fuzz target compares against).
void expect_agreement(const std::string& name, const std::string& text) {
  ReadOutcome ref = read_with(text, 4096, false);
  for (bool block : {false, true}) {
    for (size_t chunk : {1, 2, 3, 7, 57, 63, 64, 65, 100, 154, 189, 211, 4096}) {
      ReadOutcome got = read_with(text, chunk, block);
      std::string where = name + " chunk " + std::to_string(chunk) + " block " + std::to_string(block);
      EXPECT_EQ(got.code, ref.code) << where;
      if (ref.code != StatusCode::kOk || got.code != StatusCode::kOk) continue;
      EXPECT_EQ(got.events, ref.events) << where;
      EXPECT_EQ(got.kernels, ref.kernels) << where;
      EXPECT_EQ(got.apis, ref.apis) << where;
    }
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(FuzzRegressions, SavedFindingsReadTheSameEverywhere) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(LAUNCHPROF_FUZZ_REGRESSIONS))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 3u) << "fuzz_regressions/ lost its inputs";
  for (const auto& path : files) {
    std::string text = read_file(path);
    ASSERT_FALSE(text.empty()) << path;
    expect_agreement(path.filename().string(), text);
  }
}

// A padded element list so the events reach past several 64-byte blocks.
std::string events(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i) out += ",\n  ";
    out += R"({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": )" +
           std::to_string(10 * i) + R"(, "dur": 2, "args": {"correlation": )" + std::to_string(i + 1) + "}}";
  }
  return out;
}

TEST(FuzzRegressions, SecondTraceEventsArrayIsRejected) {
  std::string text = "{\"traceEvents\": [" + events(3) + "],\n \"traceEvents\": [" + events(3) + "]}";
  expect_agreement("two traceEvents", text);
  EXPECT_EQ(read_with(text, 4096, true).code, StatusCode::kMalformed);
  EXPECT_EQ(read_with(text, 5, true).code, StatusCode::kMalformed);
}

TEST(FuzzRegressions, BackslashOutsideAStringIsRejected) {
  // The stray quote closes the string early, so `\"` lies outside any string.
  for (const char* element : {R"({"name": "a" b\"c", "ph": "X"})", R"({"name": \"a"})", R"({"x": [1, \]})"}) {
    std::string text = "{\"traceEvents\": [" + events(2) + ",\n  " + element + ",\n  " + events(2) + "]}";
    expect_agreement(element, text);
    EXPECT_EQ(read_with(text, 4096, true).code, StatusCode::kMalformed) << element;
    EXPECT_EQ(read_with(text, 4096, false).code, StatusCode::kMalformed) << element;
  }
  // Outside traceEvents too (the byte-wise scanner is the only check there).
  std::string root = "{\"other\": [1, \\ 2], \"traceEvents\": [" + events(2) + "]}";
  EXPECT_EQ(read_with(root, 4096, true).code, StatusCode::kMalformed);
}

TEST(FuzzRegressions, ByteOrderMarkSplitAcrossChunks) {
  std::string text = "\xEF\xBB\xBF{\"traceEvents\": [" + events(3) + "]}";
  expect_agreement("byte order mark", text);
  EXPECT_EQ(read_with(text, 1, true).code, StatusCode::kOk);
  EXPECT_EQ(read_with(text, 2, false).code, StatusCode::kOk);
  EXPECT_EQ(read_with("\xEF\xBB{}", 1, false).code, StatusCode::kMalformed);  // not a whole mark
}

}  // namespace
}  // namespace launchprof::testing
