// launchprof sweep: label parsing and the CPU-bound -> GPU-bound rule.
#include <gtest/gtest.h>

#include <tuple>

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
    r.all.il_defined = true;
    r.all.il_ns = 1000000;
    r.all.idle_ns = static_cast<int64_t>(idle * 1000000);
    rows.push_back(r);
  }
  return rows;
}

// Rows for the TKLQT rule: (batch, median lq us, median launch call us).
std::vector<SweepRow> rows_with_lq(const std::vector<std::tuple<int64_t, double, double>>& batch_lq_call) {
  std::vector<SweepRow> rows;
  for (auto [batch, lq, call] : batch_lq_call) {
    SweepRow r;
    r.batch = batch;
    r.all.kernels = r.all.joined = 618;
    r.all.lq_p50_ns = static_cast<int64_t>(lq * 1000);
    r.all.launch_call_p50_ns = static_cast<int64_t>(call * 1000);
    r.all.tklqt_ns = r.all.lq_p50_ns * 618;
    rows.push_back(r);
  }
  return rows;
}

SweepDecision idle_rule(std::vector<SweepRow>& rows, double threshold) {
  SweepRules rules;
  rules.idle_threshold = threshold;
  return decide_transitions(rows, rules).idle;
}

TEST(SweepRule, TransitionIsTheStartOfTheGpuBoundSuffix) {
  auto rows = rows_with_idle({{1, 0.9}, {2, 0.7}, {4, 0.4}, {8, 0.6}, {16, 0.3}, {32, 0.2}});
  SweepDecision d = idle_rule(rows, 0.5);
  ASSERT_TRUE(d.transition_batch.has_value());
  EXPECT_EQ(*d.transition_batch, 16);  // batch 4 dips below 0.5 but batch 8 is CPU-bound again
  EXPECT_EQ(rows[3].idle_regime, Regime::kCpuBound);
  EXPECT_EQ(rows[4].idle_regime, Regime::kGpuBound);
}

TEST(SweepRule, ThresholdIsInclusiveForCpuBound) {
  auto rows = rows_with_idle({{1, 0.5}, {2, 0.49}});
  SweepDecision d = idle_rule(rows, 0.5);
  ASSERT_TRUE(d.transition_batch.has_value());
  EXPECT_EQ(*d.transition_batch, 2);
}

TEST(SweepRule, NoTransitionInRange) {
  auto all_gpu = rows_with_idle({{1, 0.2}, {2, 0.1}});
  EXPECT_FALSE(idle_rule(all_gpu, 0.5).transition_batch.has_value());
  auto ends_cpu = rows_with_idle({{1, 0.9}, {2, 0.1}, {4, 0.8}});
  SweepDecision d = idle_rule(ends_cpu, 0.5);
  EXPECT_FALSE(d.transition_batch.has_value());
  EXPECT_NE(d.verdict.find("CPU-bound"), std::string::npos);
}

TEST(SweepRule, NoKernelsCountsAsCpuBound) {
  auto rows = rows_with_idle({{1, 0.0}, {2, 0.1}});
  rows[0].all.kernels = 0;
  rows[0].all.il_defined = false;
  rows[0].all.il_ns = 0;
  SweepDecision d = idle_rule(rows, 0.5);
  EXPECT_EQ(rows[0].idle_regime, Regime::kCpuBound);
  ASSERT_TRUE(d.transition_batch.has_value());
  EXPECT_EQ(*d.transition_batch, 2);
}

// A batch whose kernels all end before the IL anchor has no IL: it was called CPU-bound (IL <= 0), which here would
// put a CPU-bound batch at the top and hide the transition at 2. It is undefined and left out instead.
TEST(SweepRule, UndefinedIlIsLeftOutNotCpuBound) {
  auto rows = rows_with_idle({{1, 0.9}, {2, 0.2}, {4, 0.1}});
  rows[2].all.il_defined = false;
  rows[2].all.il_ns = rows[2].all.idle_ns = 0;
  SweepDecision d = idle_rule(rows, 0.5);
  EXPECT_EQ(rows[2].idle_regime, Regime::kUndefined);
  ASSERT_TRUE(d.transition_batch.has_value());
  EXPECT_EQ(*d.transition_batch, 2);
  EXPECT_NE(d.verdict.find("left out: batch 4"), std::string::npos) << d.verdict;
}

// The shape of the Llama prefill sweep: the median lq stays at the launch cost (about 1.3 launch calls)
// up to batch 4 and jumps to 1560 us at batch 8, while a few queued kernels already raise the mean at batch 4.
TEST(SweepRule, TklqtRuleNamesWhereTheMedianKernelQueues) {
  auto rows = rows_with_lq({{1, 9.5, 7.3}, {2, 9.6, 7.3}, {4, 9.7, 7.4}, {8, 1560, 7.5}, {16, 5000, 7.6}, {32, 30000, 7.5}});
  rows[2].all.tklqt_ns = 618 * 54000;  // the mean at batch 4 is 54 us: the median is what the rule reads
  SweepResult r = decide_transitions(rows, {});
  ASSERT_TRUE(r.tklqt.transition_batch.has_value());
  EXPECT_EQ(*r.tklqt.transition_batch, 8);
  EXPECT_EQ(rows[2].tklqt_regime, Regime::kCpuBound);
  EXPECT_EQ(rows[3].tklqt_regime, Regime::kGpuBound);
  EXPECT_NEAR(rows[3].queue_ratio(), 1560 / 7.5, 1e-9);
  ASSERT_TRUE(r.largest_step_to.has_value());
  EXPECT_EQ(*r.largest_step_from, 4);
  EXPECT_EQ(*r.largest_step_to, 8);
}

TEST(SweepRule, TklqtRuleFactorIsInclusiveAndOneNoisyBatchDoesNotCount) {
  // 4.0 x the launch call is GPU-bound; batch 2 queues once but batch 4 does not, so the suffix starts at 8.
  auto rows = rows_with_lq({{1, 8, 8}, {2, 40, 8}, {4, 9, 8}, {8, 32, 8}, {16, 800, 8}});
  SweepResult r = decide_transitions(rows, {});
  ASSERT_TRUE(r.tklqt.transition_batch.has_value());
  EXPECT_EQ(*r.tklqt.transition_batch, 8);
}

TEST(SweepRule, TklqtRuleWithoutJoinedKernelsIsUndefined) {
  auto rows = rows_with_lq({{1, 8, 8}, {2, 900, 8}});
  rows[0].all.joined = 0;
  SweepResult r = decide_transitions(rows, {});
  EXPECT_EQ(rows[0].tklqt_regime, Regime::kUndefined);
  EXPECT_FALSE(r.tklqt.transition_batch.has_value());  // GPU-bound at every defined batch
  EXPECT_NE(r.tklqt.verdict.find("GPU-bound at every batch"), std::string::npos) << r.tklqt.verdict;
}

}  // namespace
}  // namespace launchprof
