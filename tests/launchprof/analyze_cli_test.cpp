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

}  // namespace
