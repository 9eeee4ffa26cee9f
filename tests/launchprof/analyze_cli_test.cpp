// The launchprof binary: exit codes, messages and output files.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string fixture(const std::string& name) { return std::string(LAUNCHPROF_FIXTURES) + "/" + name; }
std::string tmp(const std::string& name) { return std::string(LAUNCHPROF_TEST_TMP) + "/" + name; }

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Output files are named after the running test: ctest runs the tests of this file in parallel.
CliRun run(const std::string& args) {
  const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::string out = tmp(test + ".cli.out"), err = tmp(test + ".cli.err");
  std::string cmd = std::string(LAUNCHPROF_BIN) + " " + args + " >" + out + " 2>" + err;
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

TEST(AnalyzeCli, BadTracesExitWithCode2AndAMessage) {
  for (const char* name : {"truncated.json", "truncated.json.gz", "malformed_event.json", "malformed_brackets.json",
                           "no_trace_events.json", "does_not_exist.json"}) {
    CliRun r = run("analyze " + fixture(name));
    EXPECT_EQ(r.code, 2) << name;
    EXPECT_NE(r.err.find("error"), std::string::npos) << name << ": " << r.err;
  }
  EXPECT_NE(run("analyze " + fixture("truncated.json")).err.find("truncated"), std::string::npos);
  EXPECT_NE(run("analyze " + fixture("no_trace_events.json")).err.find("traceEvents"), std::string::npos);
}

TEST(AnalyzeCli, NoKernelsIsAnEmptySuccess) {
  std::string json = tmp("no_kernels.out.json");
  CliRun r = run("analyze " + fixture("no_kernels.json") + " --json " + json);
  EXPECT_EQ(r.code, 0) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.load(json).get(doc), simdjson::SUCCESS);
  simdjson::dom::object row = doc["rows"].at(0).get_object();
  EXPECT_EQ(int64_t(row["kernels"]), 0);
  EXPECT_TRUE(row["il_ms"].is_null());  // undefined without kernels: null, never 0
  EXPECT_TRUE(row["akd_us"].is_null());
}

TEST(AnalyzeCli, JsonEnvelopeCsvAndPerKernelRows) {
  std::string json = tmp("gaps.out.json"), csv = tmp("gaps.out.csv"), kcsv = tmp("gaps.kernels.csv");
  CliRun r = run("analyze " + fixture("gaps_queue.json") + " " + fixture("graph_launch.json.gz") + " --json " + json +
              " --csv " + csv + " --kernels-csv " + kcsv + " --per-kernel --top 3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("TKLQT"), std::string::npos);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.load(json).get(doc), simdjson::SUCCESS);
  for (const char* key : {"tool", "command", "commit", "date", "gpu", "gpus", "rows", "traces"})
    EXPECT_EQ(doc[key].error(), simdjson::SUCCESS) << key;
  EXPECT_EQ(std::string_view(doc["gpu"]), "NVIDIA H200");
  simdjson::dom::object all = doc["rows"].at(0).get_object();
  EXPECT_EQ(std::string_view(all["scope"]), "all");
  EXPECT_DOUBLE_EQ(double(all["tklqt_us"]), 77.0);
  EXPECT_DOUBLE_EQ(double(all["il_ms"]), 0.12);
  simdjson::dom::array traces = doc["traces"];
  EXPECT_EQ(traces.size(), 2u);
  simdjson::dom::array per_kernel = traces.at(0)["per_kernel"];
  EXPECT_EQ(per_kernel.size(), 4u);
  // CSV: header + (all, device, stream) for each trace.
  std::string text = slurp(csv);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + 3 + 3);
  EXPECT_EQ(text.rfind("trace,device,stream,kernels,", 0), 0u);
  std::string ktext = slurp(kcsv);
  EXPECT_EQ(std::count(ktext.begin(), ktext.end(), '\n'), 1 + 4 + 4);
}

TEST(AnalyzeCli, OneBadTraceStillReportsTheOthers) {
  CliRun r = run("analyze " + fixture("graph_launch.json") + " " + fixture("truncated.json"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("graph_launch.json"), std::string::npos);
}

TEST(AnalyzeCli, HelpListsTheSubcommands) {
  CliRun r = run("--help");
  EXPECT_EQ(r.code, 0);
  for (const char* s : {"record", "analyze", "sweep"}) EXPECT_NE(r.out.find(s), std::string::npos) << s;
  CliRun a = run("analyze --help");
  for (const char* s : {"--csv", "--json", "--top", "--per-kernel"}) EXPECT_NE(a.out.find(s), std::string::npos) << s;
  CliRun sw = run("sweep --help");
  for (const char* s : {"--label", "--png", "--json", "CPU-bound"}) EXPECT_NE(sw.out.find(s), std::string::npos) << s;
}

TEST(AnalyzeCli, MalformedJsonNamesTheByteOfTheFault) {
  // malformed_event.json: `"correlation": 1,}` - the '}' after the comma is byte 124, not the end of the file.
  CliRun r = run("analyze " + fixture("malformed_event.json"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("malformed JSON at byte 124"), std::string::npos) << r.err;
  // An unclosed string: the fast path only notices at the end of the file (byte 140); the fault is the byte after
  // the string that swallowed the next key's quote (59).
  const std::string unclosed = tmp("unclosed_string.json");
  {
    std::FILE* f = std::fopen(unclosed.c_str(), "w");
    std::fputs("{\"traceEvents\": [{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"k, \"ts\": 1, \"dur\": 2}, "
               "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"k\", \"ts\": 1, \"dur\": 2}]}", f);
    std::fclose(f);
  }
  r = run("analyze " + unclosed);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("malformed JSON at byte 59"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("byte 140"), std::string::npos) << r.err;
  // A missing '}': noticed at the array's ']' (byte 137), the fault is the '{' where a key was due (78).
  const std::string missing = tmp("missing_brace.json");
  {
    std::FILE* f = std::fopen(missing.c_str(), "w");
    std::fputs("{\"traceEvents\": [{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"k\", \"ts\": 1, \"dur\": 2, "
               "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"k\", \"ts\": 1, \"dur\": 2}]}", f);
    std::fclose(f);
  }
  r = run("analyze " + missing);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("malformed JSON at byte 78"), std::string::npos) << r.err;
}

TEST(AnalyzeCli, UndefinedValuesAreDashInTextAndEmptyInCsv) {
  std::string csv = tmp("skewed.csv");
  CliRun r = run("analyze " + fixture("kernel_ends_before_launch.json") + " --csv " + csv);
  ASSERT_EQ(r.code, 0) << r.err;
  std::string all_row = r.out.substr(r.out.find("\nall "));
  all_row = all_row.substr(1, all_row.find('\n', 1));
  // IL, idle and idle% are undefined: '-', never 0.000 or a negative time.
  EXPECT_EQ(all_row.find("0.000"), std::string::npos) << all_row;
  EXPECT_EQ(all_row.find("-10"), std::string::npos) << all_row;
  EXPECT_NE(all_row.find(" - "), std::string::npos) << all_row;
  EXPECT_NE(r.out.find("IL undefined"), std::string::npos);
  std::string text = slurp(csv);
  std::string header = text.substr(0, text.find('\n'));
  std::string row = text.substr(text.find('\n') + 1);
  row = row.substr(0, row.find('\n'));
  auto field = [](const std::string& line, size_t k) {
    size_t start = 0;
    for (size_t i = 0; i < k; ++i) start = line.find(',', start) + 1;
    return line.substr(start, line.find(',', start) - start);
  };
  auto column = [&](const std::string& name) {
    size_t k = 0, at = 0;
    while (true) {
      size_t comma = header.find(',', at);
      if (header.substr(at, comma - at) == name) return k;
      if (comma == std::string::npos) return size_t(-1);
      at = comma + 1, ++k;
    }
  };
  for (const char* name : {"il_ms", "idle_ms", "idle_frac", "busy_ms"})
    EXPECT_EQ(field(row, column(name)), "") << name << " in " << row;
  EXPECT_EQ(field(row, column("kernels")), "1");
  EXPECT_EQ(field(row, column("tklqt_us")), "-20.000");
}

TEST(AnalyzeCli, UnknownSubcommandVersionAndUsageErrors) {
  CliRun r = run("frobnicate");
  EXPECT_EQ(r.code, 64);
  EXPECT_NE(r.err.find("unknown subcommand 'frobnicate'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("A subcommand is required"), std::string::npos) << r.err;
  CliRun v = run("--version");
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out.rfind("launchprof ", 0), 0u) << v.out;
  EXPECT_NE(v.out.find("commit"), std::string::npos) << v.out;
  EXPECT_EQ(run("").code, 64);                                          // no subcommand (CLI11: 106)
  EXPECT_EQ(run("analyze").code, 64);                                   // no trace (CLI11: 106)
  EXPECT_EQ(run("analyze " + fixture("gaps_queue.json") + " --top x").code, 64);   // bad value (CLI11: 105)
  EXPECT_EQ(run("analyze " + fixture("gaps_queue.json") + " --bogus").code, 64);   // unknown option (CLI11: 109)
  EXPECT_EQ(run("analyze " + fixture("gaps_queue.json") + " --window 5").code, 64);
  CliRun help = run("--help");
  EXPECT_NE(help.out.find("64"), std::string::npos);  // the exit codes are in --help
}

TEST(AnalyzeCli, DirectoryInputAndSummary) {
  CliRun r = run("analyze " + fixture("timeline"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("onemoe_forward.json"), std::string::npos);
  CliRun two = run("analyze " + fixture("gaps_queue.json") + " " + fixture("sync_split.json"));
  EXPECT_NE(two.out.find("# summary of 2 traces"), std::string::npos);
  CliRun empty = run("analyze " + std::string(LAUNCHPROF_TEST_TMP) + "/../CMakeFiles");
  EXPECT_EQ(empty.code, 2);
}

TEST(AnalyzeCli, DiffOfTwoTraces) {
  std::string json = tmp("diff.json");
  CliRun r = run("diff " + fixture("gaps_queue.json") + " " + fixture("sync_split.json") + " --json " + json);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("TKLQT"), std::string::npos);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.load(json).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(doc["tool"]), "launchprof diff");
  bool found = false;
  for (simdjson::dom::element m : doc["metrics"].get_array()) {
    if (std::string_view(m["metric"]) != "TKLQT") continue;
    found = true;
    EXPECT_DOUBLE_EQ(double(m["a"]), 77.0);   // gaps_queue.json
    EXPECT_DOUBLE_EQ(double(m["b"]), 50.0);   // sync_split.json
    EXPECT_DOUBLE_EQ(double(m["b_minus_a"]), -27.0);
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(run("diff " + fixture("gaps_queue.json") + " " + fixture("truncated.json")).code, 2);
}

}  // namespace
