// `launchprof record` argument handling and the environment it gives the command (no GPU: the command is sh).
#include "record_cli.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace launchprof::record {
namespace {

int run(std::vector<std::string> args) {
  args.insert(args.begin(), "record");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return record_main(static_cast<int>(args.size()), argv.data());
}

// A stand-in injection library: record only checks that the file exists; sh never loads it.
class RecordCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/lp_fake_inject_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    fake_lib_ = path;
    setenv("LAUNCHPROF_INJECT_LIB", fake_lib_.c_str(), 1);
    unsetenv("NVTX_INJECTION64_PATH");
  }
  void TearDown() override {
    unsetenv("LAUNCHPROF_INJECT_LIB");
    std::remove(fake_lib_.c_str());
  }
  std::string fake_lib_;
};

TEST_F(RecordCliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run({}), 2);
  EXPECT_EQ(run({"--"}), 2);
  EXPECT_EQ(run({"-o"}), 2);
  EXPECT_EQ(run({"-o", "x.json", "--"}), 2);
  EXPECT_EQ(run({"--bogus", "--", "true"}), 2);
  EXPECT_EQ(run({"--help"}), 0);
}

TEST_F(RecordCliTest, MissingInjectionLibraryExitsWithTwo) {
  setenv("LAUNCHPROF_INJECT_LIB", "/nonexistent/liblaunchprof_inject.so", 1);
  EXPECT_EQ(find_inject_library(), "");
  EXPECT_EQ(run({"--", "true"}), 2);
}

TEST_F(RecordCliTest, CommandThatCannotStartExitsWithTwo) {
  EXPECT_EQ(run({"--", "/nonexistent/program"}), 2);
  EXPECT_EQ(run({"--", "/dev/null"}), 2);  // not executable
}

TEST_F(RecordCliTest, ReturnsTheCommandsExitCode) {
  EXPECT_EQ(run({"--", "sh", "-c", "exit 3"}), 3);
  EXPECT_EQ(run({"sh", "-c", "exit 0"}), 0);  // "--" is optional
  EXPECT_EQ(run({"--", "sh", "-c", "kill -TERM $$"}), 128 + 15);
}

TEST_F(RecordCliTest, CommandSeesInjectionAndAbsoluteOutputPath) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  const std::string expected_out = std::string(cwd) + "/rel_trace.json.gz";
  const std::string check = "test \"$CUDA_INJECTION64_PATH\" = '" + fake_lib_ +
                            "' && test \"$NVTX_INJECTION64_PATH\" = '" + fake_lib_ +
                            "' && test \"$LAUNCHPROF_OUTPUT\" = '" + expected_out +
                            "' && test \"$LAUNCHPROF_ROOT_PID\" = \"$$\" && test \"$LAUNCHPROF_LATENCY\" = 1";
  EXPECT_EQ(run({"-o", "rel_trace.json.gz", "--latency", "--", "sh", "-c", check}), 0);
  EXPECT_EQ(run({"--no-nvtx", "--", "sh", "-c", "test -z \"$NVTX_INJECTION64_PATH\" && test \"$LAUNCHPROF_NVTX\" = 0"}),
            0);
  EXPECT_EQ(run({"--capture-range", "--", "sh", "-c", "test \"$LAUNCHPROF_CAPTURE_RANGE\" = cudaProfilerApi"}), 0);
  unsetenv("LAUNCHPROF_RUNTIME_API");
  EXPECT_EQ(run({"--", "sh", "-c", "test -z \"$LAUNCHPROF_RUNTIME_API\""}), 0);
  EXPECT_EQ(run({"--all-runtime-apis", "--", "sh", "-c", "test \"$LAUNCHPROF_RUNTIME_API\" = all"}), 0);
  unsetenv("LAUNCHPROF_RUNTIME_API");
}

TEST_F(RecordCliTest, ApiSourceAndThreadIdsReachTheCommand) {
  EXPECT_EQ(run({"--api-source", "callback", "--thread-ids", "cupti", "--", "sh", "-c",
                 "test \"$LAUNCHPROF_API_SOURCE\" = callback && test \"$LAUNCHPROF_THREAD_IDS\" = cupti"}),
            0);
  unsetenv("LAUNCHPROF_API_SOURCE");
  unsetenv("LAUNCHPROF_THREAD_IDS");
  EXPECT_EQ(run({"--", "sh", "-c", "test -z \"$LAUNCHPROF_API_SOURCE\" && test -z \"$LAUNCHPROF_THREAD_IDS\""}), 0);
  EXPECT_EQ(run({"--api-source", "ring", "--", "sh", "-c", "exit 0"}), 2);
  EXPECT_EQ(run({"--thread-ids", "--", "sh", "-c", "exit 0"}), 2);
  EXPECT_EQ(run({"--api-source"}), 2);
}

}  // namespace
}  // namespace launchprof::record
