// The per-task timeline (ContextOptions::record_task_timeline): off by default, and when on, one span per
// task of the last forward, with the stage counts the plan implies, on valid blocks, without changing the output.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gpu_available.h"
#include "harness/moe_problem.h"
#include "onemoe/onemoe.h"

namespace onemoe {
namespace {

TEST(TaskTimeline, RefusedWhenNotRecorded) {
  REQUIRE_GPU();
  const MoeShape shape{256, 8, 2, 512, 512};
  std::unique_ptr<Context> ctx;
  ASSERT_TRUE(Context::create(shape, MoeConfig{}, ContextOptions{}, &ctx).ok());
  std::vector<TaskSpan> spans(3);
  const Result r = ctx->task_timeline(&spans);
  EXPECT_EQ(r.status, Status::kErrorInvalidArgument);
  EXPECT_NE(r.message.find("record_task_timeline"), std::string::npos) << r.message;
  EXPECT_TRUE(spans.empty());
}

TEST(TaskTimeline, OneSpanPerTaskOfTheLastForward) {
  REQUIRE_GPU();
  const MoeShape max_shape{1000, 32, 2, 512, 512};
  ContextOptions options;
  options.record_task_timeline = true;
  std::unique_ptr<Context> ctx;
  ASSERT_TRUE(Context::create(max_shape, MoeConfig{}, options, &ctx).ok());
  std::vector<TaskSpan> spans;
  EXPECT_FALSE(ctx->task_timeline(&spans).ok()) << "no forward has run yet";

  for (int64_t T : {1000, 100}) {
    MoeShape shape = max_shape;
    shape.num_tokens = T;
    std::unique_ptr<harness::DeviceProblem> problem;
    ASSERT_TRUE(harness::DeviceProblem::create(shape, MoeConfig{}, uint64_t(T), &problem).ok());
    ASSERT_TRUE(problem->poison_outputs(nullptr).ok());
    ASSERT_TRUE(ctx->run(problem->run_args(), nullptr).ok());
    ASSERT_TRUE(ctx->synchronize_and_check(nullptr).ok());
    harness::CheckReport report;
    ASSERT_TRUE(problem->check(0, &report).ok());
    EXPECT_TRUE(report.pass) << "T=" << T << ": " << report.summary();

    Result r = ctx->task_timeline(&spans);
    ASSERT_TRUE(r.ok()) << r.message;
    const int route_tiles = int((T + 127) / 128);
    std::map<std::string, std::vector<int>> seen;  // stage -> how often each index ran
    std::map<std::string, int> working;            // stage -> tasks that reached their first mark
    double first_start = 1e30, last_route_start = 0, first_combine_end = 1e30;
    for (const TaskSpan& s : spans) {
      std::vector<int>& count = seen[s.stage];
      if (int(count.size()) <= s.index) count.resize(s.index + 1);
      ++count[s.index];
      EXPECT_LE(s.start_us, s.end_us);
      // In order, inside the task. A gather or GEMM task past the forward's last expert tile returns before its
      // first mark.
      const bool gemm = s.stage == "gemm1" || s.stage == "gemm2";
      const bool idle = (gemm || s.stage == "gather") && s.mark_us[0] == -1.0;
      if (!idle) ++working[s.stage];
      int marks = 0;
      if (!idle) marks = s.stage == "route" || gemm ? 3 : s.stage == "dispatch" || s.stage == "gather" ? 1 : 0;
      for (int i = 0; i < TaskSpan::kMarks; ++i) {
        if (i < marks) {
          EXPECT_GE(s.mark_us[i], i == 0 ? s.start_us : s.mark_us[i - 1]) << s.stage << " " << s.index << " mark " << i;
          EXPECT_LE(s.mark_us[i], s.end_us) << s.stage << " " << s.index << " mark " << i;
        } else {
          EXPECT_EQ(s.mark_us[i], -1.0) << s.stage << " has no mark " << i;
        }
      }
      EXPECT_GE(s.block, 0);
      EXPECT_LT(s.block, ctx->grid_blocks());
      first_start = std::min(first_start, s.start_us);
      if (s.stage == "route") last_route_start = std::max(last_route_start, s.start_us);
      if (s.stage == "combine") first_combine_end = std::min(first_combine_end, s.end_us);
    }
    EXPECT_EQ(first_start, 0.0);
    EXPECT_EQ(seen.count("plan"), 0u) << "one GPU has no plan exchange";
    ASSERT_EQ(int(seen["route"].size()), route_tiles) << "T=" << T;
    for (int c : seen["route"]) EXPECT_EQ(c, 1) << "route";
    // One dispatch task per route tile (it names rows); the combine of each route tile in column parts.
    EXPECT_EQ(seen["dispatch"].size(), size_t(route_tiles));
    for (const char* stage : {"dispatch", "combine"}) {
      ASSERT_FALSE(seen[stage].empty()) << stage;
      EXPECT_EQ(seen[stage].size() % route_tiles, 0u) << stage << ": " << seen[stage].size();
      for (int c : seen[stage]) EXPECT_EQ(c, 1) << stage;
    }
    // The forward's expert tiles: H = I, so both GEMMs have as many tasks, and one gather per tile (GEMM1 has the
    // tiles times its column tiles); each ran once, in the first indices. Tasks past the last tile (no mark) are
    // skipped in bulk once one is met, so only some of those ran.
    ASSERT_GT(working["gemm1"], 0);
    EXPECT_EQ(working["gemm1"], working["gemm2"]);
    ASSERT_GT(working["gather"], 0);
    EXPECT_EQ(working["gemm1"] % working["gather"], 0);
    for (const char* stage : {"gather", "gemm1", "gemm2"}) {
      for (int c : seen[stage]) EXPECT_LE(c, 1) << stage;
      ASSERT_GE(int(seen[stage].size()), working[stage]) << stage;
      for (int i = 0; i < working[stage]; ++i) EXPECT_EQ(seen[stage][size_t(i)], 1) << stage << " " << i;
    }
    // A combine tile needs every routed row's GEMM2, which needs the routing of every token tile.
    EXPECT_LE(last_route_start, first_combine_end);
  }
}

}  // namespace
}  // namespace onemoe
