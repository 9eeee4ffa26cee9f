// launchprof sweep: label parsing and the CPU-bound -> GPU-bound rule.
#include <gtest/gtest.h>

#include "launchprof/sweep/sweep.h"

namespace launchprof {
namespace {

TEST(SweepLabel, Parses) {
  SweepLabel l;
  ASSERT_TRUE(parse_sweep_label("batch=16:/tmp/a:b.json", &l).ok());  // the path may hold ':'
  EXPECT_EQ(l.batch, 16);
  EXPECT_EQ(l.path, "/tmp/a:b.json");
  for (const char* bad : {"16:x.json", "batch=:x.json", "batch=0:x.json", "batch=-1:x.json", "batch=2x:x.json",
                          "batch=4", "batch=4:", "size=4:x.json"})
    EXPECT_FALSE(parse_sweep_label(bad, &l).ok()) << bad;
}

std::vector<SweepRow> rows_with_idle(const std::vector<std::pair<int64_t, double>>& batch_idle) {
  std::vector<SweepRow> rows;
  for (auto [batch, idle] : batch_idle) {
    SweepRow r;
    r.batch = batch;
    r.all.kernels = 10;
    r.all.il_ns = 1000000;
    r.all.idle_ns = static_cast<int64_t>(idle * 1000000);
    rows.push_back(r);
  }
  return rows;
}

TEST(SweepRule, TransitionIsTheStartOfTheGpuBoundSuffix) {
  auto rows = rows_with_idle({{1, 0.9}, {2, 0.7}, {4, 0.4}, {8, 0.6}, {16, 0.3}, {32, 0.2}});
  SweepDecision d = decide_transition(rows, 0.5);
  ASSERT_TRUE(d.transition_batch.has_value());
  EXPECT_EQ(*d.transition_batch, 16);  // batch 4 dips below 0.5 but batch 8 is CPU-bound again
  EXPECT_TRUE(rows[3].cpu_bound);
  EXPECT_FALSE(rows[4].cpu_bound);
}

TEST(SweepRule, ThresholdIsInclusiveForCpuBound) {
  auto rows = rows_with_idle({{1, 0.5}, {2, 0.49}});
  SweepDecision d = decide_transition(rows, 0.5);
  ASSERT_TRUE(d.transition_batch.has_value());
  EXPECT_EQ(*d.transition_batch, 2);
}

TEST(SweepRule, NoTransitionInRange) {
  auto all_gpu = rows_with_idle({{1, 0.2}, {2, 0.1}});
  EXPECT_FALSE(decide_transition(all_gpu, 0.5).transition_batch.has_value());
  auto ends_cpu = rows_with_idle({{1, 0.9}, {2, 0.1}, {4, 0.8}});
  SweepDecision d = decide_transition(ends_cpu, 0.5);
  EXPECT_FALSE(d.transition_batch.has_value());
  EXPECT_NE(d.verdict.find("CPU-bound"), std::string::npos);
}

TEST(SweepRule, NoKernelsCountsAsCpuBound) {
  auto rows = rows_with_idle({{1, 0.0}, {2, 0.1}});
  rows[0].all.kernels = 0;
  rows[0].all.il_ns = 0;
  SweepDecision d = decide_transition(rows, 0.5);
  EXPECT_TRUE(rows[0].cpu_bound);
  ASSERT_TRUE(d.transition_batch.has_value());
  EXPECT_EQ(*d.transition_batch, 2);
}

}  // namespace
}  // namespace launchprof
