// NodeHealth: the moving averages, the failure threshold and backoff (on a FakeClock), and the
// ranking, each checked exactly.
#include "fs/remote/node_health.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace shardfs::remote {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::vector<size_t> Order(const std::vector<RankedNode>& ranked) {
  std::vector<size_t> out;
  for (const RankedNode& r : ranked) out.push_back(r.node);
  return out;
}

class NodeHealthTest : public ::testing::Test {
 protected:
  static HealthOptions Options() {
    HealthOptions o;
    o.alpha = 0.5;
    o.failures_to_unhealthy = 3;
    o.initial_backoff = seconds(1);
    o.max_backoff = seconds(8);
    o.error_penalty_ms = 100;
    return o;
  }
  util::FakeClock clock_;
  NodeHealth health_{4, &clock_, Options()};
};

TEST_F(NodeHealthTest, StartsHealthyAndUnmeasured) {
  EXPECT_EQ(health_.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    NodeHealthSnapshot s = health_.Snapshot(i);
    EXPECT_TRUE(s.healthy);
    EXPECT_TRUE(s.available);
    EXPECT_FALSE(s.has_latency);
    EXPECT_EQ(s.error_rate, 0);
    EXPECT_TRUE(s.last_error.empty());
  }
  EXPECT_EQ(Order(health_.Rank(0)), (std::vector<size_t>{0, 1, 2, 3}));
}

TEST_F(NodeHealthTest, LatencyIsAMovingAverage) {
  health_.RecordSuccess(0, milliseconds(10));
  EXPECT_DOUBLE_EQ(health_.Snapshot(0).latency_ms, 10);  // the first sample is taken whole
  health_.RecordSuccess(0, milliseconds(20));
  EXPECT_DOUBLE_EQ(health_.Snapshot(0).latency_ms, 15);
  health_.RecordSuccess(0, milliseconds(5));
  EXPECT_DOUBLE_EQ(health_.Snapshot(0).latency_ms, 10);
  EXPECT_TRUE(health_.Snapshot(0).has_latency);
}

TEST_F(NodeHealthTest, ErrorRateIsAMovingAverage) {
  health_.RecordFailure(1, "boom");
  EXPECT_DOUBLE_EQ(health_.Snapshot(1).error_rate, 0.5);
  health_.RecordFailure(1, "boom");
  EXPECT_DOUBLE_EQ(health_.Snapshot(1).error_rate, 0.75);
  health_.RecordSuccess(1, milliseconds(1));
  EXPECT_DOUBLE_EQ(health_.Snapshot(1).error_rate, 0.375);
  EXPECT_EQ(health_.Snapshot(1).last_error, "boom");
  EXPECT_EQ(health_.Snapshot(1).consecutive_failures, 0u);
}

TEST_F(NodeHealthTest, ConsecutiveFailuresMakeANodeUnhealthyUntilItsBackoffEnds) {
  health_.RecordFailure(2, "down");
  health_.RecordFailure(2, "down");
  EXPECT_TRUE(health_.Snapshot(2).healthy);  // two is not yet a pattern
  health_.RecordFailure(2, "down");
  EXPECT_FALSE(health_.Snapshot(2).healthy);
  EXPECT_FALSE(health_.Available(2));
  EXPECT_EQ(health_.Snapshot(2).retry_at, clock_.Now() + seconds(1));
  clock_.Advance(milliseconds(999));
  EXPECT_FALSE(health_.Available(2));
  clock_.Advance(milliseconds(1));
  EXPECT_TRUE(health_.Available(2));  // one probe is allowed
  EXPECT_FALSE(health_.Snapshot(2).healthy);
  // A failed probe doubles the backoff: 2, 4, 8, then the cap.
  for (auto expected : {seconds(2), seconds(4), seconds(8), seconds(8), seconds(8)}) {
    health_.RecordFailure(2, "still down");
    EXPECT_EQ(health_.Snapshot(2).retry_at, clock_.Now() + expected);
    EXPECT_FALSE(health_.Available(2));
    clock_.Advance(expected);
    EXPECT_TRUE(health_.Available(2));
  }
  // One success and it is healthy again, with a fresh count.
  health_.RecordSuccess(2, milliseconds(3));
  EXPECT_TRUE(health_.Snapshot(2).healthy);
  health_.RecordFailure(2, "blip");
  EXPECT_TRUE(health_.Available(2));
  EXPECT_EQ(health_.Snapshot(2).last_error, "blip");
}

TEST_F(NodeHealthTest, AMissingObjectIsNotAFailure) {
  for (int i = 0; i < 10; ++i) health_.RecordSuccess(3, milliseconds(1));
  EXPECT_TRUE(health_.Snapshot(3).healthy);
  EXPECT_EQ(health_.Snapshot(3).error_rate, 0);
}

TEST_F(NodeHealthTest, BadShardsAreCountedButKeepTheNodeHealthy) {
  for (int i = 0; i < 5; ++i) health_.RecordBadShard(0, "shard 1 fails its checksum");
  NodeHealthSnapshot s = health_.Snapshot(0);
  EXPECT_EQ(s.bad_shards, 5u);
  EXPECT_TRUE(s.healthy);
  EXPECT_GT(s.error_rate, 0.9);
  EXPECT_EQ(s.last_error, "shard 1 fails its checksum");
  // ... but it ranks behind reliable nodes.
  EXPECT_EQ(Order(health_.Rank(0)).back(), 0u);
}

TEST_F(NodeHealthTest, AbandonedCallsOnlyRaiseTheLatency) {
  health_.RecordAbandoned(1, milliseconds(40));  // unmeasured: taken as a first sample
  EXPECT_DOUBLE_EQ(health_.Snapshot(1).latency_ms, 40);
  health_.RecordAbandoned(1, milliseconds(10));  // a lower bound below the average says nothing
  EXPECT_DOUBLE_EQ(health_.Snapshot(1).latency_ms, 40);
  health_.RecordAbandoned(1, milliseconds(80));
  EXPECT_DOUBLE_EQ(health_.Snapshot(1).latency_ms, 60);
  EXPECT_EQ(health_.Snapshot(1).error_rate, 0);
  EXPECT_EQ(health_.Snapshot(1).consecutive_failures, 0u);
}

TEST_F(NodeHealthTest, RanksByTierThenRotatesAmongEquals) {
  health_.RecordSuccess(0, milliseconds(50));                // tier 6 (32-64 ms)
  health_.RecordSuccess(1, std::chrono::microseconds(300));  // tier 0
  health_.RecordSuccess(2, std::chrono::microseconds(900));  // tier 0
  health_.RecordSuccess(3, milliseconds(3));                 // tier 2
  std::vector<RankedNode> r = health_.Rank(0);
  EXPECT_EQ(Order(r), (std::vector<size_t>{1, 2, 3, 0}));
  EXPECT_EQ(r[0].tier, 0);
  EXPECT_EQ(r[2].tier, 2);
  EXPECT_EQ(r[3].tier, 6);
  // Rotation reorders only within a tier.
  EXPECT_EQ(Order(health_.Rank(2)), (std::vector<size_t>{2, 1, 3, 0}));
  EXPECT_EQ(Order(health_.Rank(3)), (std::vector<size_t>{1, 2, 3, 0}));
  EXPECT_EQ(Order(health_.Rank(6)), (std::vector<size_t>{2, 1, 3, 0}));
}

TEST_F(NodeHealthTest, RotationSpreadsEqualNodes) {
  std::vector<int> first(4, 0);
  for (uint64_t rot = 0; rot < 40; ++rot) ++first[health_.Rank(rot)[0].node];
  EXPECT_EQ(first, (std::vector<int>{10, 10, 10, 10}));
}

TEST_F(NodeHealthTest, ErrorsCostLikeLatency) {
  health_.RecordSuccess(0, milliseconds(2));  // tier 2
  health_.RecordSuccess(1, std::chrono::microseconds(100));
  health_.RecordFailure(1, "x");  // error rate 0.5: 50 ms of penalty, tier 6
  EXPECT_EQ(Order(health_.Rank(0)), (std::vector<size_t>{2, 3, 0, 1}));
}

TEST_F(NodeHealthTest, NodesInBackoffRankLast) {
  for (int i = 0; i < 3; ++i) health_.RecordFailure(0, "down");
  health_.RecordSuccess(1, milliseconds(500));
  std::vector<RankedNode> r = health_.Rank(0);
  EXPECT_EQ(Order(r), (std::vector<size_t>{2, 3, 1, 0}));
  EXPECT_EQ(r.back().tier, NodeHealth::kBackoffTier);
  clock_.Advance(seconds(1));
  EXPECT_LT(health_.Rank(0).back().tier, NodeHealth::kBackoffTier);  // probe time
}

TEST_F(NodeHealthTest, StoredShardsAreCounted) {
  health_.RecordStored(3);
  health_.RecordStored(3);
  EXPECT_EQ(health_.Snapshot(3).shards_stored, 2u);
  EXPECT_EQ(health_.Snapshot(2).shards_stored, 0u);
}

TEST_F(NodeHealthTest, LongErrorsAreTruncated) {
  health_.RecordFailure(0, std::string(10000, 'e'));
  EXPECT_LE(health_.Snapshot(0).last_error.size(), 300u);
}

TEST_F(NodeHealthTest, IsThreadSafe) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const auto node = static_cast<size_t>((t + i) % 4);
        if (i % 7 == 0) {
          health_.RecordFailure(node, "x");
        } else {
          health_.RecordSuccess(node, milliseconds(i % 5));
        }
        health_.RecordStored(node);
        (void)health_.Rank(static_cast<uint64_t>(i));
      }
    });
  }
  for (auto& t : threads) t.join();
  uint64_t stored = 0;
  for (size_t i = 0; i < 4; ++i) stored += health_.Snapshot(i).shards_stored;
  EXPECT_EQ(stored, 8000u);
}

}  // namespace
}  // namespace shardfs::remote
