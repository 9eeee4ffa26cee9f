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
//   scores: AB 3/4, BC 2/3, ABC 2/4. AB is listed first and claims its three windows (kernels 0-1, 3-4, 6-7);
//   every window of BC and ABC shares a B with them, so neither is listed: fusing AB there leaves no BC to fuse.
TEST(AnalyzeMetrics, FusionChainsSplitAtHostSyncs) {
  TraceAnalysis a = analyze_fixture("sync_split.json");
  EXPECT_EQ(a.all.tklqt_ns, us(50));
  EXPECT_EQ(a.fusion.sync_calls, 3u);
  EXPECT_EQ(a.fusion.sequences, 4u);
  EXPECT_EQ(a.fusion.distinct_chains, 4u);
  ASSERT_EQ(a.fusion.candidates.size(), 1u);
  EXPECT_EQ(a.fusion_chain_names[0], (std::vector<std::string>{"A", "B"}));
  EXPECT_DOUBLE_EQ(a.fusion.candidates[0].score, 0.75);
  EXPECT_EQ(a.fusion.candidates[0].occurrences, 3u);
  EXPECT_EQ(a.fusion.candidates[0].chain_occurrences, 3u);
  EXPECT_EQ(a.fusion.candidates[0].first_kernel_occurrences, 4u);
  EXPECT_EQ(a.fusion.candidates[0].launches_removable(), 3u);
  EXPECT_EQ(a.fusion.candidates[0].lq_removable_ns, us(15));
}

TEST(AnalyzeMetrics, SyncSplittingChangesTheChains) {
  // Without the three sync calls the stream is one sequence A B C A B C A B A C: chains now cross the old split
  // points (C A, B C A, ...), so there are more distinct chains than the 4 above.
  TraceData t;
  ASSERT_TRUE(read_trace_file(fixture("sync_split.json"), &t).ok());
  std::erase_if(t.apis, [](const ApiRec& r) { return r.kind == ApiKind::kSync || r.kind == ApiKind::kMemcpySync; });
  TraceAnalysis a = analyze_trace(t, {});
  EXPECT_EQ(a.fusion.sequences, 1u);
  EXPECT_GT(a.fusion.distinct_chains, 4u);
}

// A layer of 10 distinct kernels repeated 6 times on one stream: every window of 2..8 consecutive kernels has score
// 1. Listed naively, the shifted windows of the layer all appear and "launches removable" counts each kernel many
// times. Listed without overlap, no kernel is in two listed windows, so the removable launches add up to at most
// kernels - windows.
TEST(AnalyzeMetrics, FusionWindowsDoNotOverlap) {
  TraceData t;
  const int kLayer = 10, kRepeats = 6;
  for (int r = 0; r < kRepeats; ++r)
    for (int k = 0; k < kLayer; ++k) {
      int64_t at = (r * kLayer + k) * 100;
      int64_t corr = r * kLayer + k + 1;
      uint32_t name = t.names.intern("layer_kernel_" + std::to_string(k));
      t.apis.push_back({at, 5, corr, kNoId, 1, 1, t.names.intern("cudaLaunchKernel"), ApiKind::kKernelLaunch, false});
      t.kernels.push_back({at + 10, 20, corr, 7, 0, name});
    }
  AnalyzeOptions o;
  o.top_n = 20;
  TraceAnalysis a = analyze_trace(t, o);
  ASSERT_FALSE(a.fusion.candidates.empty());
  EXPECT_EQ(a.fusion.candidates[0].names.size(), 8u);
  EXPECT_EQ(a.fusion.candidates[0].occurrences, 6u);
  uint64_t kernels_in_windows = 0, removable = 0;
  for (const auto& c : a.fusion.candidates) {
    kernels_in_windows += c.occurrences * c.names.size();
    removable += c.launches_removable();
  }
  EXPECT_LE(kernels_in_windows, uint64_t{kLayer * kRepeats});
  EXPECT_LE(removable, uint64_t{kLayer * kRepeats} - a.fusion.candidates.size());
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


// kernel_ends_before_launch.json: no operators, so IL starts at the launch call (100); the only kernel runs 80..90,
// before its own launch (clock skew). IL would be 90 - 100 = -10 us and idle -10 us, and a sweep read that as a
// CPU-bound batch. IL and idle are undefined instead, and counted.
TEST(AnalyzeMetrics, KernelEndingBeforeItsLaunchLeavesIlUndefined) {
  TraceAnalysis a = analyze_fixture("kernel_ends_before_launch.json");
  EXPECT_EQ(a.anchor.kind, AnchorKind::kLaunch);
  EXPECT_EQ(a.all.kernels, 1u);
  EXPECT_EQ(a.all.tklqt_ns, us(-20));  // lq 80 - 100, kept
  EXPECT_FALSE(a.all.il_defined);
  EXPECT_FALSE(a.all.idle_fraction_defined());
  EXPECT_GE(a.all.il_ns, 0);
  EXPECT_GE(a.all.idle_ns, 0);
  EXPECT_EQ(a.all.kernels_ending_before_anchor, 1u);
  EXPECT_EQ(a.anomalies.kernels_ending_before_anchor, 1u);
  ASSERT_EQ(a.streams.size(), 1u);
  EXPECT_FALSE(a.streams[0].il_defined);
}

// memcpy_steps.json: ProfilerStep#3 1000..1100, ProfilerStep#4 1100..1200, first operator at 1000.
//   k_mul 1020..1030 (lq 10), DtoH copy 1040..1060 (8 KiB), k_mul 1120..1150 (lq 10), memset 1160..1170 (100 B),
//   k_add 1180..1200 (lq 10, no operator). IL = 1200 - 1000 = 200.
//   busy = kernels 10 + 30 + 20 = 60, plus copy 20 and set 10 = 90: idle = 110, not 140 (copies keep the GPU busy).
//   Step 3: k_mul only, IL 1030 - 1000 = 30, idle 20 (the copy is not in the step's scope: steps take kernels).
//   Step 4: k_mul and k_add, IL 1200 - 1100 = 100, busy 50, idle 50.
TEST(AnalyzeMetrics, CopiesAreBusyAndStepsAreSplit) {
  TraceAnalysis a = analyze_fixture("memcpy_steps.json");
  EXPECT_EQ(a.all.il_ns, us(200));
  EXPECT_EQ(a.all.busy_ns, us(90));
  EXPECT_EQ(a.all.copy_busy_ns, us(30));
  EXPECT_EQ(a.all.idle_ns, us(110));
  EXPECT_EQ(a.all.idle_sum_ns, us(140));  // the paper's IL - sum of kernel durations
  ASSERT_EQ(a.steps.size(), 2u);
  EXPECT_EQ(a.steps[0].name, "ProfilerStep#3");
  EXPECT_EQ(a.steps[0].metrics.kernels, 1u);
  EXPECT_EQ(a.steps[0].metrics.il_ns, us(30));
  EXPECT_EQ(a.steps[0].metrics.idle_ns, us(20));
  EXPECT_EQ(a.steps[1].metrics.kernels, 2u);
  EXPECT_EQ(a.steps[1].metrics.tklqt_ns, us(20));
  EXPECT_EQ(a.steps[1].metrics.il_ns, us(100));
  EXPECT_EQ(a.steps[1].metrics.idle_ns, us(50));
  // Copies and sets by kind and size.
  ASSERT_EQ(a.tables.mems.size(), 2u);
  EXPECT_EQ(a.tables.mems[0].kind, "Memcpy DtoH (Device -> Pinned)");
  EXPECT_EQ(a.tables.mems[0].size, "<= 64 KiB");
  EXPECT_EQ(a.tables.mems[0].bytes, 8192);
  EXPECT_EQ(a.tables.mems[1].size, "<= 4 KiB");
  // Kernels: k_mul twice (10 and 30 us): mean 20, min 10, max 30, std 10; 40 of 60 us of kernel time.
  ASSERT_FALSE(a.tables.by_time.empty());
  const KernelStat& mul = a.tables.by_time[0];
  EXPECT_EQ(mul.name, "k_mul");
  EXPECT_EQ(mul.min_ns, us(10));
  EXPECT_EQ(mul.max_ns, us(30));
  EXPECT_NEAR(mul.std_ns, 10000.0, 1e-6);
  EXPECT_EQ(a.tables.kernel_time_ns, us(60));
  // Operators: aten::mul, 2 calls of 20 + 30 us CPU time, launched 40 us of GPU time; k_add's launch has no
  // External id and joins ProfilerStep#4 by containment (20 us).
  ASSERT_EQ(a.tables.ops_by_gpu_time.size(), 2u);
  EXPECT_EQ(a.tables.ops_by_gpu_time[0].name, "aten::mul");
  EXPECT_EQ(a.tables.ops_by_gpu_time[1].gpu_ns, us(20));
  EXPECT_EQ(a.tables.ops_by_gpu_time[0].calls, 2u);
  EXPECT_EQ(a.tables.ops_by_gpu_time[0].cpu_ns, us(50));
  EXPECT_EQ(a.tables.ops_by_gpu_time[0].gpu_ns, us(40));
  // API calls: cudaLaunchKernel 3 calls of 5 us, 3 kernels.
  ASSERT_FALSE(a.tables.apis_by_time.empty());
  EXPECT_EQ(a.tables.apis_by_time[0].name, "cudaLaunchKernel");
  EXPECT_EQ(a.tables.apis_by_time[0].calls, 3u);
  EXPECT_EQ(a.tables.apis_by_time[0].kernels, 3u);
}

// The same trace cut to [110, 210) us after its first event (1000): only step 4's events remain.
TEST(AnalyzeMetrics, TimeWindowKeepsEventsStartingInside) {
  AnalyzeOptions o;
  o.has_window = true;
  o.window_from_ns = us(100);
  o.window_to_ns = us(200);
  TraceAnalysis a = analyze_fixture("memcpy_steps.json", o);
  EXPECT_EQ(a.all.kernels, 2u);
  EXPECT_EQ(a.all.tklqt_ns, us(20));
  EXPECT_EQ(a.anchor.ts_ns, us(100));  // ProfilerStep#4, the first operator inside the window
  EXPECT_FALSE(a.window.empty());
}

}  // namespace
}  // namespace launchprof::testing
