// SKIP metrics on hand-made fixtures. Every expected number is worked out by hand in the comments from the
// fixture's timestamps (microseconds), so a change to any definition shows up here.
#include "analyze_test_util.h"

namespace launchprof::testing {
namespace {

int gi(GapClass c) { return static_cast<int>(c); }

// gaps_queue.json: one stream, op aten::a at 1000..1200.
//   launch 1010+5 -> k_a 1020..1050  lq 10  qd 5   first
//   launch 1015+5 -> k_b 1060..1070  lq 45  qd 40  launch ended 1020 <= 1050: kernel-wait, gap 10
//   launch 1080+5 -> k_a 1090..1100  lq 10  qd 5   launch started 1080 > 1070: host-wait, gap 20
//   launch 1098+6 -> k_b 1110..1120  lq 12  qd 6   1098 <= 1100 < 1104: other, gap 10
TEST(AnalyzeMetrics, GapsQueueAndSkipSums) {
  TraceAnalysis a = analyze_fixture("gaps_queue.json");
  const ScopeMetrics& m = a.all;
  EXPECT_EQ(m.kernels, 4u);
  EXPECT_EQ(m.joined, 4u);
  EXPECT_EQ(m.tklqt_ns, us(77));
  EXPECT_EQ(m.lq_min_ns, us(10));
  EXPECT_EQ(m.lq_p50_ns, us(10));  // nearest rank of {10, 10, 12, 45}
  EXPECT_EQ(m.lq_p99_ns, us(45));
  EXPECT_EQ(m.lq_max_ns, us(45));
  EXPECT_EQ(m.kernel_time_ns, us(60));
  EXPECT_DOUBLE_EQ(m.akd_ns(), 15000.0);
  EXPECT_EQ(a.anchor.kind, AnchorKind::kOperator);
  EXPECT_EQ(m.il_ns, us(120));  // 1120 - 1000
  EXPECT_EQ(m.busy_ns, us(60));
  EXPECT_EQ(m.idle_ns, us(60));
  EXPECT_EQ(m.idle_sum_ns, us(60));
  EXPECT_EQ(m.queue_delay_ns, us(56));
  EXPECT_EQ(m.queue_delay_max_ns, us(40));
  EXPECT_EQ(m.started_before_launch_returned, 0u);
  EXPECT_EQ(m.gaps.count[gi(GapClass::kFirst)], 1u);
  EXPECT_EQ(m.gaps.count[gi(GapClass::kKernelWait)], 1u);
  EXPECT_EQ(m.gaps.gap_ns[gi(GapClass::kKernelWait)], us(10));
  EXPECT_EQ(m.gaps.count[gi(GapClass::kHostWait)], 1u);
  EXPECT_EQ(m.gaps.gap_ns[gi(GapClass::kHostWait)], us(20));
  EXPECT_EQ(m.gaps.count[gi(GapClass::kOther)], 1u);
  EXPECT_EQ(m.gaps.gap_ns[gi(GapClass::kOther)], us(10));
  // Queue: [1010,1020) and [1015,1060) overlap -> 2 queued; mean = 77 us queued / 110 us window (1010..1120).
  EXPECT_EQ(m.queue.max, 2u);
  EXPECT_NEAR(m.queue.mean, 0.7, 1e-12);
  // Launches 1-2 carry External id 1; launches 3-4 have none and sit inside aten::a on the same thread.
  EXPECT_EQ(a.launches_op_by_external_id, 2u);
  EXPECT_EQ(a.launches_op_by_containment, 2u);
  ASSERT_EQ(a.tables.ops_by_kernels.size(), 1u);
  EXPECT_EQ(a.tables.ops_by_kernels[0].kernels, 4u);
  // Top-k: equal counts are ordered by name; by time k_a (40 us) leads k_b (20 us).
  ASSERT_EQ(a.tables.by_count.size(), 2u);
  EXPECT_EQ(a.tables.by_count[0].name, "k_a");
  EXPECT_EQ(a.tables.by_time[0].name, "k_a");
  EXPECT_EQ(a.tables.by_time[0].total_ns, us(40));
  // Fusion: k_a k_b k_a k_b -> (k_a, k_b) twice, k_a twice: score 1; removable lq = lq of the k_b's = 45 + 12.
  ASSERT_EQ(a.fusion.candidates.size(), 1u);
  EXPECT_EQ(a.fusion_chain_names[0], (std::vector<std::string>{"k_a", "k_b"}));
  EXPECT_DOUBLE_EQ(a.fusion.candidates[0].score, 1.0);
  EXPECT_EQ(a.fusion.candidates[0].occurrences, 2u);
  EXPECT_EQ(a.fusion.candidates[0].lq_removable_ns, us(57));
  EXPECT_EQ(a.gpu_name, "NVIDIA H200");
}

// mixed_devices_streams.json: op at 50.
//   dev0 s7: launch 90 -> 100..150 (lq 10); launch 180 -> 200..220 (lq 20, host-wait gap 50)
//   dev0 s8: launch 95 -> 120..180 (lq 25), overlapping dev0 s7
//   dev1 s7: launch 280 -> 300..310 (lq 20); a memset on dev1 s7
TEST(AnalyzeMetrics, MixedDevicesAndStreams) {
  TraceAnalysis a = analyze_fixture("mixed_devices_streams.json");
  EXPECT_EQ(a.all.kernels, 4u);
  EXPECT_EQ(a.all.tklqt_ns, us(75));
  EXPECT_EQ(a.all.il_ns, us(260));
  EXPECT_EQ(a.all.busy_ns, us(110));  // [100,180) + [200,220) + [300,310)
  EXPECT_EQ(a.all.idle_ns, us(150));
  EXPECT_EQ(a.all.idle_sum_ns, us(120));
  ASSERT_EQ(a.devices.size(), 2u);
  ASSERT_EQ(a.streams.size(), 3u);
  const ScopeMetrics* d0 = find_device(a, 0);
  const ScopeMetrics* d1 = find_device(a, 1);
  ASSERT_TRUE(d0 && d1);
  EXPECT_EQ(d0->kernels, 3u);
  EXPECT_EQ(d0->tklqt_ns, us(55));
  EXPECT_EQ(d0->il_ns, us(170));
  EXPECT_EQ(d0->busy_ns, us(100));    // union: the two streams overlap on 120..150
  EXPECT_EQ(d0->idle_ns, us(70));
  EXPECT_EQ(d0->idle_sum_ns, us(40));  // the paper's IL - sum(durations)
  EXPECT_EQ(d1->kernels, 1u);
  EXPECT_EQ(d1->il_ns, us(260));
  EXPECT_EQ(d1->memset, 1u);
  EXPECT_EQ(d0->memset, 0u);
  const ScopeMetrics* s07 = find_stream(a, 0, 7);
  const ScopeMetrics* s08 = find_stream(a, 0, 8);
  const ScopeMetrics* s17 = find_stream(a, 1, 7);
  ASSERT_TRUE(s07 && s08 && s17);
  EXPECT_EQ(s07->tklqt_ns, us(30));
  EXPECT_EQ(s07->idle_ns, us(100));
  EXPECT_EQ(s07->gaps.count[gi(GapClass::kHostWait)], 1u);
  EXPECT_EQ(s07->gaps.gap_ns[gi(GapClass::kHostWait)], us(50));
  EXPECT_EQ(s08->tklqt_ns, us(25));
  EXPECT_EQ(s08->il_ns, us(130));
  EXPECT_EQ(s17->tklqt_ns, us(20));
  EXPECT_EQ(a.all.gaps.count[gi(GapClass::kFirst)], 3u);  // one per stream
  EXPECT_EQ(a.tables.by_count[0].name, "gemm \"quoted\" <a\\b>");
}

// graph_launch.json: cudaGraphLaunch at 20 (+8) owns three kernels 30, 36, 42 (lq 10, 16, 22);
// then cudaLaunchKernel at 60 -> 70..75 (lq 10, host-wait gap 22).
TEST(AnalyzeMetrics, GraphKernelsAreMeasuredFromTheGraphLaunch) {
  TraceAnalysis a = analyze_fixture("graph_launch.json");
  EXPECT_EQ(a.all.kernels, 4u);
  EXPECT_EQ(a.all.joined, 4u);
  EXPECT_EQ(a.all.graph_kernels, 3u);
  EXPECT_EQ(a.graph_launches, 1u);
  EXPECT_EQ(a.graph_kernels, 3u);
  EXPECT_EQ(a.launches, 2u);
  EXPECT_EQ(a.anomalies.launches_without_kernel, 0u);
  EXPECT_EQ(a.anomalies.orphan_kernels, 0u);
  EXPECT_EQ(a.all.tklqt_ns, us(58));
  EXPECT_EQ(a.all.il_ns, us(65));
  EXPECT_EQ(a.all.busy_ns, us(21));
  EXPECT_EQ(a.all.gaps.count[gi(GapClass::kKernelWait)], 2u);
  EXPECT_EQ(a.all.gaps.gap_ns[gi(GapClass::kKernelWait)], us(2));
  EXPECT_EQ(a.all.gaps.count[gi(GapClass::kHostWait)], 1u);
  EXPECT_EQ(a.all.gaps.gap_ns[gi(GapClass::kHostWait)], us(22));
}

// zero_timestamp.json: op, launch and kernel all at ts 0 (lq 0); launch 5 -> kernel 10 with dur 0 (lq 5).
TEST(AnalyzeMetrics, ZeroTimestampsAreValid) {
  TraceAnalysis a = analyze_fixture("zero_timestamp.json");
  EXPECT_EQ(a.all.kernels, 2u);
  EXPECT_EQ(a.all.joined, 2u);
  EXPECT_EQ(a.all.tklqt_ns, us(5));
  EXPECT_EQ(a.anchor.ts_ns, 0);
  EXPECT_EQ(a.all.il_ns, us(10));
  EXPECT_EQ(a.all.busy_ns, us(4));
  EXPECT_EQ(a.all.idle_ns, us(6));
  EXPECT_DOUBLE_EQ(a.all.akd_ns(), 2000.0);
  EXPECT_EQ(a.anomalies.skipped_missing_time, 0u);
}

// negative_lq.json: kernel at 98 for a launch at 100 (lq -2, counted, kept in TKLQT); launch 110 -> 120 (lq 10).
TEST(AnalyzeMetrics, NegativeLqIsCountedNotClamped) {
  TraceAnalysis a = analyze_fixture("negative_lq.json");
  EXPECT_EQ(a.all.tklqt_ns, us(8));
  EXPECT_EQ(a.all.negative_lq, 1u);
  EXPECT_EQ(a.all.negative_lq_ns, us(-2));
  EXPECT_EQ(a.anomalies.negative_lq, 1u);
  EXPECT_EQ(a.all.lq_min_ns, us(-2));
  EXPECT_EQ(a.all.started_before_launch_returned, 1u);
  EXPECT_EQ(a.all.queue_delay_ns, us(5));  // max(0, 98-105) + (120-115)
  EXPECT_EQ(a.all.il_ns, us(32));          // 122 - 90
  EXPECT_EQ(a.all.queue.max, 1u);          // the negative interval never queues
}

// orphans_and_missing.json: no operators, so IL starts at the first launch call (10).
//   corr 1: launch 10 -> kernel 20 (lq 10); a kernel without correlation; a kernel with correlation 99 (no call);
//   corr 3: a launch with no kernel; corr 4: cudaMemcpyAsync (not a kernel launch);
//   corr 5: cuLaunchKernel (driver) 60 -> 70 (lq 10);
//   corr 6: cudaLaunchKernel at 80 and cuLaunchKernel at 81 share it: the runtime call is preferred (lq 10).
TEST(AnalyzeMetrics, OrphansLaunchesWithoutKernelAndDuplicates) {
  TraceAnalysis a = analyze_fixture("orphans_and_missing.json");
  EXPECT_EQ(a.all.kernels, 5u);
  EXPECT_EQ(a.all.joined, 3u);
  EXPECT_EQ(a.all.orphans, 2u);
  EXPECT_EQ(a.anomalies.orphan_kernels, 2u);
  EXPECT_EQ(a.anomalies.orphans_no_correlation, 1u);
  EXPECT_EQ(a.anomalies.orphans_unmatched, 1u);
  EXPECT_EQ(a.launches, 4u);
  EXPECT_EQ(a.anomalies.launches_without_kernel, 1u);
  EXPECT_EQ(a.anomalies.duplicate_correlations, 1u);
  EXPECT_EQ(a.all.tklqt_ns, us(30));
  EXPECT_EQ(a.anchor.kind, AnchorKind::kLaunch);
  EXPECT_EQ(a.all.il_ns, us(85));
  EXPECT_EQ(a.anomalies.skipped_bad_phase, 1u);
  EXPECT_EQ(a.anomalies.skipped_missing_time, 1u);
}

// sync_split.json: A B C | StreamSync | A B C | DeviceSync | A B | cudaMemcpy | A C
//   sequences 4; chains: AB x3, BC x2, ABC x2, AC x1 (below min occurrences); never C->A across a sync.
//   scores: AB 3/4, BC 2/3, ABC 2/4.
TEST(AnalyzeMetrics, FusionChainsSplitAtHostSyncs) {
  TraceAnalysis a = analyze_fixture("sync_split.json");
  EXPECT_EQ(a.all.tklqt_ns, us(50));
  EXPECT_EQ(a.fusion.sync_calls, 3u);
  EXPECT_EQ(a.fusion.sequences, 4u);
  ASSERT_EQ(a.fusion.candidates.size(), 3u);
  EXPECT_EQ(a.fusion_chain_names[0], (std::vector<std::string>{"A", "B"}));
  EXPECT_DOUBLE_EQ(a.fusion.candidates[0].score, 0.75);
  EXPECT_EQ(a.fusion.candidates[0].occurrences, 3u);
  EXPECT_EQ(a.fusion.candidates[0].first_kernel_occurrences, 4u);
  EXPECT_EQ(a.fusion.candidates[0].launches_removable(), 3u);
  EXPECT_EQ(a.fusion.candidates[0].lq_removable_ns, us(15));
  EXPECT_EQ(a.fusion_chain_names[1], (std::vector<std::string>{"B", "C"}));
  EXPECT_DOUBLE_EQ(a.fusion.candidates[1].score, 2.0 / 3.0);
  EXPECT_EQ(a.fusion_chain_names[2], (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_DOUBLE_EQ(a.fusion.candidates[2].score, 0.5);
  for (const auto& chain : a.fusion_chain_names)
    for (size_t i = 0; i + 1 < chain.size(); ++i)
      EXPECT_FALSE(chain[i] == "C" && chain[i + 1] == "A") << "a chain crossed a host sync";
}

TEST(AnalyzeMetrics, SyncSplittingChangesTheChains) {
  // Without the three sync calls the stream is one sequence and C -> A appears twice.
  TraceData t;
  ASSERT_TRUE(read_trace_file(fixture("sync_split.json"), &t).ok());
  std::erase_if(t.apis, [](const ApiRec& r) { return r.kind == ApiKind::kSync || r.kind == ApiKind::kMemcpySync; });
  TraceAnalysis a = analyze_trace(t, {});
  EXPECT_EQ(a.fusion.sequences, 1u);
  bool found_ca = false;
  for (const auto& chain : a.fusion_chain_names)
    for (size_t i = 0; i + 1 < chain.size(); ++i) found_ca = found_ca || (chain[i] == "C" && chain[i + 1] == "A");
  EXPECT_TRUE(found_ca);
}

TEST(AnalyzeMetrics, NoKernelsIsAnEmptyResult) {
  TraceAnalysis a = analyze_fixture("no_kernels.json");
  EXPECT_EQ(a.all.kernels, 0u);
  EXPECT_EQ(a.all.tklqt_ns, 0);
  EXPECT_TRUE(a.devices.empty());
  EXPECT_TRUE(a.streams.empty());
  EXPECT_TRUE(a.fusion.candidates.empty());
  EXPECT_EQ(a.anomalies.launches_without_kernel, 0u);  // cudaMemcpy is not a kernel launch
}

TEST(AnalyzeMetrics, LegacyArrayTrace) {
  TraceAnalysis a = analyze_fixture("array_format_legacy.json");
  EXPECT_EQ(a.all.kernels, 1u);
  EXPECT_EQ(a.all.tklqt_ns, us(9.5));
  EXPECT_EQ(a.all.il_ns, us(16.5));  // 21.5 - 5
  EXPECT_EQ(a.launches_op_by_external_id, 1u);
}

TEST(AnalyzeMetrics, PerKernelRows) {
  AnalyzeOptions o;
  o.per_kernel = true;
  TraceAnalysis a = analyze_fixture("gaps_queue.json", o);
  ASSERT_EQ(a.per_kernel.size(), 4u);
  EXPECT_EQ(a.per_kernel[1].name, "k_b");
  EXPECT_EQ(a.per_kernel[1].lq_ns, us(45));
  EXPECT_EQ(a.per_kernel[1].queue_delay_ns, us(40));
  EXPECT_EQ(a.per_kernel[1].gap_class, GapClass::kKernelWait);
  EXPECT_EQ(a.per_kernel[2].gap_class, GapClass::kHostWait);
  EXPECT_EQ(a.per_kernel[3].gap_class, GapClass::kOther);
  EXPECT_EQ(a.per_kernel[0].op_name, "aten::a");
}

}  // namespace
}  // namespace launchprof::testing
