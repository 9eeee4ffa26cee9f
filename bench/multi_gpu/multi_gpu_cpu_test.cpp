// Host-only checks of onemoe-bench's multi-GPU mode: launcher environment, token slices and placement, the
// NCCL id file, skew, and how per-rank numbers become a row.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <numeric>
#include <regex>
#include <string>

#include "bench_common.h"
#include "multi_gpu/global_problem.h"
#include "multi_gpu/id_file.h"
#include "multi_gpu/launch_config.h"
#include "multi_gpu/rank_stats.h"

namespace onemoe::multi_gpu {
namespace {

EnvLookup env_of(const std::map<std::string, std::string>& m) {
  return [m](const char* name) -> const char* {
    auto it = m.find(name);
    return it == m.end() ? nullptr : it->second.c_str();
  };
}

TEST(RankEnv, FlagsWinThenOpenMpiThenTorchrun) {
  RankEnv e;
  ASSERT_TRUE(resolve_rank_env(1, 4, env_of({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "2"}}), &e).ok());
  EXPECT_EQ(e.rank, 1);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.local_rank, 2);  // the launcher's local rank still picks the GPU
  ASSERT_TRUE(resolve_rank_env(-1, -1,
                               env_of({{"OMPI_COMM_WORLD_RANK", "5"}, {"OMPI_COMM_WORLD_SIZE", "8"},
                                       {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"RANK", "0"}, {"WORLD_SIZE", "2"}}),
                               &e)
                  .ok());
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.source, "OMPI_COMM_WORLD_*");
  ASSERT_TRUE(resolve_rank_env(-1, -1, env_of({{"RANK", "3"}, {"WORLD_SIZE", "4"}}), &e).ok());
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.local_rank, -1);
  EXPECT_EQ(e.source, "RANK/WORLD_SIZE");
}

TEST(RankEnv, RejectsMissingOrOutOfRange) {
  RankEnv e;
  EXPECT_FALSE(resolve_rank_env(-1, -1, env_of({}), &e).ok());
  EXPECT_FALSE(resolve_rank_env(-1, -1, env_of({{"RANK", "4"}, {"WORLD_SIZE", "4"}}), &e).ok());
  EXPECT_FALSE(resolve_rank_env(-1, -1, env_of({{"RANK", "x"}, {"WORLD_SIZE", "4"}}), &e).ok());
  EXPECT_FALSE(resolve_rank_env(2, 0, env_of({}), &e).ok());
}

TEST(RankEnv, DevicePrefersFlagThenLocalRankThenRank) {
  RankEnv e;
  e.rank = 6;
  e.local_rank = 2;
  EXPECT_EQ(pick_device(e, 1, 4), 1);
  EXPECT_EQ(pick_device(e, -1, 4), 2);
  e.local_rank = -1;
  EXPECT_EQ(pick_device(e, -1, 4), 2);  // 6 % 4
  EXPECT_EQ(pick_device(e, -1, 0), -1);
}

TEST(TokensPerRank, OneValueForAllOrOnePerRank) {
  std::vector<int64_t> t;
  ASSERT_TRUE(parse_tokens_per_rank("4096", 3, &t).ok());
  EXPECT_EQ(t, (std::vector<int64_t>{4096, 4096, 4096}));
  ASSERT_TRUE(parse_tokens_per_rank("16384,0,300,7", 4, &t).ok());
  EXPECT_EQ(t, (std::vector<int64_t>{16384, 0, 300, 7}));
  EXPECT_FALSE(parse_tokens_per_rank("1,2", 3, &t).ok());
  EXPECT_FALSE(parse_tokens_per_rank("1,-2", 2, &t).ok());
  EXPECT_FALSE(parse_tokens_per_rank("0,0", 2, &t).ok());
  EXPECT_FALSE(parse_tokens_per_rank("1,,2", 3, &t).ok());
  EXPECT_FALSE(parse_tokens_per_rank("", 1, &t).ok());
}

TEST(Placement, ContiguousRoundRobinAndLists) {
  std::vector<int> p;
  ASSERT_TRUE(parse_placement("contiguous", 6, 4, &p).ok());
  EXPECT_EQ(p, (std::vector<int>{0, 0, 1, 1, 2, 3}));
  ASSERT_TRUE(parse_placement("round-robin", 6, 4, &p).ok());
  EXPECT_EQ(p, (std::vector<int>{0, 1, 2, 3, 0, 1}));
  ASSERT_TRUE(parse_placement("1,1,0,0", 4, 2, &p).ok());
  EXPECT_EQ(p, (std::vector<int>{1, 1, 0, 0}));
  EXPECT_FALSE(parse_placement("1,1,0", 4, 2, &p).ok());
  EXPECT_FALSE(parse_placement("0,1,2,0", 4, 2, &p).ok());
  EXPECT_FALSE(parse_placement("blocks", 4, 2, &p).ok());
}

TEST(GlobalProblem, RankSlicesConcatenateToTheGlobalTensor) {
  const std::vector<int64_t> tokens = {3, 0, 5, 1};
  const std::vector<TokenRange> ranges = token_ranges(tokens);
  ASSERT_EQ(ranges.size(), 4u);
  EXPECT_EQ(ranges[2].first, 3);
  EXPECT_EQ(ranges[3].first, 8);
  const int64_t H = 4, total = 9;
  std::vector<double> x(size_t(total * H));
  std::iota(x.begin(), x.end(), 0.0);
  std::vector<double> joined;
  for (const TokenRange& r : ranges) {
    const std::vector<double> s = slice_rows(x, H, r.first, r.count);
    EXPECT_EQ(int64_t(s.size()), r.count * H);
    joined.insert(joined.end(), s.begin(), s.end());
  }
  EXPECT_EQ(joined, x);
}

TEST(GlobalProblem, LocalExpertsInAscendingIdWithTheirWeights) {
  const std::vector<int> owner = {1, 0, 1, 0, 1};
  EXPECT_EQ(experts_of_rank(owner, 1), (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(experts_of_rank(owner, 2), std::vector<int>{});
  const int64_t block = 3;  // e.g. I*H
  std::vector<double> w(5 * block);
  std::iota(w.begin(), w.end(), 0.0);
  const std::vector<double> local = gather_experts(w, block, experts_of_rank(owner, 0));
  EXPECT_EQ(local, (std::vector<double>{3, 4, 5, 9, 10, 11}));
}

TEST(GlobalProblem, RowsPerDestinationFollowPlacement) {
  const std::vector<int> owner = {0, 0, 1, 2};
  EXPECT_EQ(rows_per_destination({0, 2, 3, 3, 1, -1}, owner, 3), (std::vector<int64_t>{2, 1, 2}));
}

TEST(GlobalProblem, SkewSendsMostTokensToOneRanksExperts) {
  const MoeShape shape{256, 8, 2, 64, 64};
  MoeConfig config;  // bf16
  const std::vector<int> owner = {0, 0, 1, 1, 2, 2, 3, 3};
  auto top1_on_rank = [&](const harness::HostInputs& in, int rank) {
    int hits = 0;
    for (int64_t t = 0; t < shape.num_tokens; ++t) {
      int best = 0;
      double best_logit = -1e300;
      for (int e = 0; e < shape.num_experts; ++e) {
        double l = 0;
        for (int h = 0; h < shape.hidden; ++h) l += in.x[t * shape.hidden + h] * in.w_router[e * shape.hidden + h];
        if (l > best_logit) best_logit = l, best = e;
      }
      hits += owner[best] == rank ? 1 : 0;
    }
    return hits;
  };
  harness::HostInputs plain = harness::make_inputs(shape, config, 3);
  harness::HostInputs skewed = plain;
  apply_skew(&skewed, shape, config, owner, 2, 4.0);
  EXPECT_LT(top1_on_rank(plain, 2), shape.num_tokens / 2);
  EXPECT_GT(top1_on_rank(skewed, 2), shape.num_tokens * 9 / 10);
  harness::HostInputs untouched = plain;
  apply_skew(&untouched, shape, config, owner, 2, 0.0);
  EXPECT_EQ(untouched.x, plain.x);
}

TEST(IdFile, RoundTripsAndRefusesStaleOrMissingFiles) {
  const std::string path = ::testing::TempDir() + "onemoe_id_" + std::to_string(getpid());
  std::vector<uint8_t> id(128);
  std::iota(id.begin(), id.end(), uint8_t(7));
  ASSERT_TRUE(write_id_file(path, id).ok());
  std::vector<uint8_t> got;
  ASSERT_TRUE(read_id_file(path, id.size(), 0, 1000, 10, &got).ok());
  EXPECT_EQ(got, id);
  // Wrong size or a file older than not_before is never taken.
  EXPECT_EQ(read_id_file(path, 64, 0, 50, 10, &got).status, Status::kErrorTimeout);
  EXPECT_EQ(read_id_file(path, id.size(), std::time(nullptr) + 3600, 50, 10, &got).status, Status::kErrorTimeout);
  std::remove(path.c_str());
  EXPECT_EQ(read_id_file(path, id.size(), 0, 50, 10, &got).status, Status::kErrorTimeout);
}

RankStats stats(std::vector<double> times, uint64_t payload, uint64_t control, std::vector<int64_t> rows_to,
                uint64_t to_peers, uint64_t returned) {
  RankStats s;
  s.ok = true;
  s.wrong = 0;
  s.times_ms = std::move(times);
  s.traffic.payload_bytes = payload;
  s.traffic.control_bytes = control;
  s.traffic.rows_to_peers = to_peers;
  s.traffic.rows_returned = returned;
  s.rows_to = std::move(rows_to);
  s.launches = 1;
  return s;
}

TEST(RankStats, PackUnpackRoundTrips) {
  RankStats s = stats({1.5, 2.5, 3.5}, 4096, 64, {3, 9}, 9, 4);
  s.wrong = 7;
  s.bitwise_mismatch = 2;
  s.launches = 12;
  s.checked_tokens = 11;
  const std::vector<double> v = pack(s, 2, 3);
  ASSERT_EQ(v.size(), packed_size(2, 3));
  const RankStats u = unpack(v.data(), 2, 3);
  EXPECT_TRUE(u.ok);
  EXPECT_EQ(u.wrong, 7);
  EXPECT_EQ(u.bitwise_mismatch, 2);
  EXPECT_EQ(u.launches, 12);
  EXPECT_EQ(u.checked_tokens, 11);
  EXPECT_EQ(u.traffic.payload_bytes, 4096u);
  EXPECT_EQ(u.traffic.rows_returned, 4u);
  EXPECT_EQ(u.rows_to, (std::vector<int64_t>{3, 9}));
  EXPECT_EQ(u.times_ms, (std::vector<double>{1.5, 2.5, 3.5}));
  RankStats unknown = s;
  unknown.rows_to.clear();
  EXPECT_TRUE(unpack(pack(unknown, 2, 3).data(), 2, 3).rows_to.empty());
}

TEST(RankStats, RowTakesThePerIterationMaxAndChecksTraffic) {
  // Rank 0 sends 9 rows to rank 1 and gets 4 back; rank 1 sends 4 and returns 9.
  std::vector<RankStats> ranks = {stats({1, 5, 2}, 1000, 24, {3, 9}, 9, 4), stats({4, 1, 3}, 600, 24, {4, 7}, 4, 9)};
  RowSummary row = summarize(ranks, {12, 11}, 1);
  ASSERT_TRUE(row.all_ok);
  EXPECT_DOUBLE_EQ(row.ms, 4.0);  // maxima 4, 5, 3 -> median 4
  EXPECT_DOUBLE_EQ(row.p99_ms, 5.0);
  EXPECT_EQ(row.max_bytes_sent, 1024u);
  EXPECT_EQ(row.bytes_sent, (std::vector<uint64_t>{1024, 624}));
  EXPECT_DOUBLE_EQ(row.payload_efficiency, 1600.0 / 1648.0);
  ASSERT_TRUE(row.wrong.has_value());
  EXPECT_EQ(*row.wrong, 0);
  EXPECT_EQ(row.traffic_matches_routing, true);
  EXPECT_EQ(row.launches, 1);
  EXPECT_FALSE(row.bitwise_mismatch.has_value());  // not compared

  ranks[1].traffic.rows_returned = 8;  // one row fewer than rank 0 sent it
  EXPECT_EQ(summarize(ranks, {12, 11}, 1).traffic_matches_routing, false);
  ranks[1].wrong = -1;  // rank 1 did not check: the row has no #wrong
  EXPECT_FALSE(summarize(ranks, {12, 11}, 1).wrong.has_value());
  ranks[1].ok = false;
  EXPECT_FALSE(summarize(ranks, {12, 11}, 1).all_ok);
}

TEST(RankStats, OneProcessCountsEveryRanksLaunches) {
  std::vector<RankStats> ranks = {stats({1}, 0, 0, {}, 0, 0), stats({1}, 0, 0, {}, 0, 0)};
  ranks[0].launches = 24;  // rank 0 counted both GPUs' kernels
  ranks[1].launches = 0;
  EXPECT_EQ(summarize(ranks, {1, 1}, 2).launches, 12);
  ranks[0].bitwise_mismatch = 0;  // rank 1 has no tokens: nothing to compare there
  EXPECT_EQ(summarize(ranks, {1, 0}, 2).bitwise_mismatch, 0);
  EXPECT_FALSE(summarize(ranks, {1, 1}, 2).bitwise_mismatch.has_value());
  EXPECT_DOUBLE_EQ(summarize(ranks, {1, 1}, 2).payload_efficiency, 1.0);
}

}  // namespace
}  // namespace onemoe::multi_gpu

TEST(ResultCommit, TheBuildsCommitUnlessOverridden) {
  unsetenv("ONEMOE_COMMIT");
  const std::string built = onemoe::bench::git_commit();
  EXPECT_TRUE(std::regex_match(built, std::regex("[0-9a-f]{40}(-dirty)?|unknown"))) << built;
  setenv("ONEMOE_COMMIT", "abc123", 1);
  EXPECT_EQ(onemoe::bench::git_commit(), "abc123");
  unsetenv("ONEMOE_COMMIT");
}
