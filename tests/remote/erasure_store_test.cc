// ErasureStore under faults: any two of six nodes may be down, slow, lying or wiped and every
// block still reads back exactly; past that, Get fails cleanly and never returns wrong bytes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fs/remote/location_record.h"
#include "tests/remote/erasure_store_fixture.h"

namespace shardfs::remote {
namespace {

using erasure_test::Block;
using erasure_test::ErasureStoreTest;
using std::chrono::milliseconds;
using util::Bytes;
using util::Errc;

TEST_F(ErasureStoreTest, AnyTwoNodesDownDuringGet) {
  const Bytes block = Block(10000, 2);
  for (int a = 0; a < kNodes; ++a) {
    for (int b = a + 1; b < kNodes; ++b) {
      auto store = Make();
      auto loc = store->Put("blk", block);
      ASSERT_TRUE(loc.ok());
      Node(a).Drop();
      Node(b).Drop();
      ExpectReads(*store, "blk", *loc, block);
      RestoreAll();
    }
  }
}

// A Put with two nodes down puts six shards on the four others, at most two on each; such a
// block survives the loss of any one of its holders (any loss of at most m shards).
TEST_F(ErasureStoreTest, AnyTwoNodesDownDuringPutDegradesButStaysReadable) {
  const Bytes block = Block(5000, 3);
  for (int a = 0; a < kNodes; ++a) {
    for (int b = a + 1; b < kNodes; ++b) {
      auto store = Make();
      Node(a).Drop();
      Node(b).Drop();
      auto loc = store->Put("blk", block);
      ASSERT_TRUE(loc.ok()) << loc.error().message;
      std::vector<int> load(kNodes, 0);
      for (int s = 0; s < 6; ++s) ++load[static_cast<size_t>(Holder(*loc, s))];
      EXPECT_EQ(load[static_cast<size_t>(a)] + load[static_cast<size_t>(b)], 0);
      for (int l : load) EXPECT_LE(l, 2);
      ExpectReads(*store, "blk", *loc, block);
      for (int lost = 0; lost < kNodes; ++lost) {
        if (load[static_cast<size_t>(lost)] == 0) continue;
        Node(lost).Drop();
        ExpectReads(*store, "blk", *loc, block);
        Node(lost).Restore();
      }
      RestoreAll();
    }
  }
}

TEST_F(ErasureStoreTest, NodesFailingMidPutAreReplaced) {
  auto store = Make();
  Node(1).FailNext(1);
  Node(4).FailNext(1);
  auto loc = store->Put("blk", Block(999, 4));
  ASSERT_TRUE(loc.ok());
  // A node that failed is not asked again within a Put, and no unused node is left: the two
  // shards go to nodes that already took one (degraded), so the record is still complete.
  for (int s = 0; s < 6; ++s) EXPECT_NE(Holder(*loc, s), 1);
  ExpectReads(*store, "blk", *loc, Block(999, 4));
}

TEST_F(ErasureStoreTest, CorruptReadsOnTwoNodesAreCaughtAndCounted) {
  auto store = Make();
  const Bytes block = Block(20000, 5);
  auto loc = store->Put("blk", block);
  ASSERT_TRUE(loc.ok());
  const int liar1 = Holder(*loc, 0), liar2 = Holder(*loc, 1);  // data shards: asked first
  Node(liar1).SetCorruptReads(true);
  Node(liar2).SetCorruptReads(true);
  for (int i = 0; i < 3; ++i) ExpectReads(*store, "blk", *loc, block);
  uint64_t bad = 0;
  for (const NodeStatus& s : store->Nodes()) {
    if (s.name == "node" + std::to_string(liar1) || s.name == "node" + std::to_string(liar2)) {
      bad += s.bad_shards;
    } else {
      EXPECT_EQ(s.bad_shards, 0u) << s.name;
    }
  }
  EXPECT_GE(bad, 1u);
}

TEST_F(ErasureStoreTest, ThreeLyingNodesAreCorruptNeverWrongBytes) {
  auto store = Make();
  auto loc = store->Put("blk", Block(4000, 6));
  ASSERT_TRUE(loc.ok());
  for (int i : {0, 2, 5}) Node(i).SetCorruptReads(true);
  EXPECT_EQ(store->Get("blk", *loc).code(), Errc::kCorrupt);
}

TEST_F(ErasureStoreTest, ShardsWipedOnTwoNodes) {
  auto store = Make();
  for (int a = 0; a < kNodes; ++a) {
    for (int b = a + 1; b < kNodes; ++b) {
      const std::string name = "blk" + std::to_string(a) + std::to_string(b);
      const Bytes block = Block(3000, static_cast<uint64_t>(a * 10 + b));
      auto loc = store->Put(name, block);
      ASSERT_TRUE(loc.ok());
      Wipe(a);
      Wipe(b);
      ExpectReads(*store, name, *loc, block);
    }
  }
  auto loc = store->Put("gone", Block(3000, 7));
  for (int i : {1, 3, 4}) Wipe(i);
  EXPECT_EQ(store->Get("gone", *loc).code(), Errc::kCorrupt);  // lost, not "try later"
}

TEST_F(ErasureStoreTest, LostShardsAreCountedAgainstTheirNode) {
  ErasureOptions o = Options();
  o.hedge = 2;  // every holder is asked, however the Put's latencies ranked the nodes
  auto store = Make(std::move(o));
  const Bytes block = Block(20000, 9);
  auto loc = store->Put("blk", block);
  ASSERT_TRUE(loc.ok());
  const int loser = Holder(*loc, 0);
  Wipe(loser);
  auto loser_bad = [&] {
    for (const NodeStatus& s : store->Nodes()) {
      if (s.name == "node" + std::to_string(loser)) return s.bad_shards;
    }
    return uint64_t{0};
  };
  // A call that had not started when the read ended is skipped; read until one was made.
  for (int i = 0; i < 50 && loser_bad() == 0; ++i) ExpectReads(*store, "blk", *loc, block);
  for (const NodeStatus& s : store->Nodes()) {
    if (s.name == "node" + std::to_string(loser)) {
      EXPECT_GE(s.bad_shards, 1u);
      EXPECT_THAT(s.last_error, ::testing::HasSubstr("missing"));
    } else {
      EXPECT_EQ(s.bad_shards, 0u) << s.name;
    }
  }
}

// A dead node whose failure arrives only after the other shards decoded the block (the hedged
// read no longer needs it) still counts as failing: status must be able to show it down.
TEST_F(ErasureStoreTest, FailuresAfterTheReadIsDecodedStillCount) {
  // Every holder is asked on every read (hedge = m), whatever the ranking: with the default
  // hedge the dead node was asked only while it ranked among the first five, and a Put that
  // happened to be slow on it (ASan under load) ranked it sixth, so it was never asked.
  ErasureOptions o = Options();
  o.hedge = 2;
  auto store = Make(std::move(o));
  const Bytes block = Block(20000, 10);
  auto loc = store->Put("blk", block);
  ASSERT_TRUE(loc.ok());
  const int dead = Holder(*loc, 0);
  Node(dead).Drop();
  Node(dead).SetLatency(milliseconds(30));
  auto dead_status = [&] {
    for (const NodeStatus& s : store->Nodes()) {
      if (s.name == "node" + std::to_string(dead)) return s;
    }
    return NodeStatus{};
  };
  // Each read asks the dead node, whose failure lands 30 ms later, after the read returned. A
  // call that had not started when the read ended is skipped (it says nothing of the node), so
  // keep reading until one lands, within a bound.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (dead_status().error_rate == 0 && std::chrono::steady_clock::now() < give_up) {
    ExpectReads(*store, "blk", *loc, block);
    std::this_thread::sleep_for(milliseconds(40));
  }
  const NodeStatus s = dead_status();
  EXPECT_EQ(s.name, "node" + std::to_string(dead));
  EXPECT_GT(s.error_rate, 0) << s.name;
  EXPECT_FALSE(s.last_error.empty()) << s.name;
}

TEST_F(ErasureStoreTest, ASlowNodeDoesNotSlowGets) {
  auto store = Make();
  const Bytes block = Block(64 << 10, 8);
  auto loc = store->Put("blk", block);
  ASSERT_TRUE(loc.ok());
  Node(Holder(*loc, 0)).SetLatency(milliseconds(500));  // the node asked first
  for (int i = 0; i < 2; ++i) {
    const auto start = std::chrono::steady_clock::now();
    ExpectReads(*store, "blk", *loc, block);
    EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(250));
  }
}

TEST_F(ErasureStoreTest, StragglersAreHedgedEvenWithoutAnExtraRequest) {
  ErasureOptions o = Options();
  o.hedge = 0;
  o.straggler_after = milliseconds(30);
  auto store = Make(std::move(o));
  const Bytes block = Block(5000, 9);
  auto loc = store->Put("blk", block);
  ASSERT_TRUE(loc.ok());
  Node(Holder(*loc, 2)).SetLatency(milliseconds(500));
  const auto start = std::chrono::steady_clock::now();
  ExpectReads(*store, "blk", *loc, block);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(250));
}

TEST_F(ErasureStoreTest, MoreThanMNodesDownIsUnavailableUntilTheyReturn) {
  auto store = Make();
  const Bytes block = Block(7000, 10);
  auto loc = store->Put("blk", block);
  ASSERT_TRUE(loc.ok());
  for (int i : {0, 2, 4}) Node(i).Drop();
  auto got = store->Get("blk", *loc);
  EXPECT_EQ(got.code(), Errc::kUnavailable);
  EXPECT_NE(got.error().message.find("node"), std::string::npos) << got.error().message;
  // Three nodes take shards, one fewer than k: nothing may be left behind.
  std::vector<uint64_t> before;
  for (int i = 0; i < kNodes; ++i) before.push_back(Objects(i));
  EXPECT_EQ(store->Put("new", Block(7000, 11)).code(), Errc::kUnavailable);
  for (int i = 0; i < kNodes; ++i) EXPECT_EQ(Objects(i), before[static_cast<size_t>(i)]) << i;

  RestoreAll();
  ExpectReads(*store, "blk", *loc, block);  // holders in backoff are still asked when needed
  clock_.Advance(std::chrono::minutes(5));  // past every backoff
  auto again = store->Put("new", Block(7000, 11));
  ASSERT_TRUE(again.ok()) << again.error().message;
  std::set<std::string> nodes;
  for (const ShardLocation& s : Record(*again).shards) nodes.insert(s.node);
  EXPECT_EQ(nodes.size(), 6u);
  ExpectReads(*store, "new", *again, Block(7000, 11));
}

TEST_F(ErasureStoreTest, NodesInBackoffAreSkippedUnlessTooFewOthersRemain) {
  auto store = Make();
  Node(0).Drop();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->Put("d" + std::to_string(i), Block(50, 1)).ok());
  EXPECT_FALSE(store->Nodes()[0].healthy);
  Node(0).Restore();
  mems_[0]->ResetCounts();
  auto loc = store->Put("blk", Block(50, 2));  // five others take it (degraded); 0 is not asked
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(mems_[0]->counts().puts, 0u);
  ExpectReads(*store, "blk", *loc, Block(50, 2));

  // With three in backoff only three others remain, fewer than k: the three are asked too.
  for (int i : {1, 2}) Node(i).Drop();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(store->Put("e" + std::to_string(i), Block(50, 1)).ok());
  }
  for (int i : {1, 2}) Node(i).Restore();
  loc = store->Put("blk2", Block(50, 3));
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  std::set<std::string> nodes;
  for (const ShardLocation& s : Record(*loc).shards) nodes.insert(s.node);
  EXPECT_EQ(nodes.size(), 6u);
}

TEST_F(ErasureStoreTest, DownAndLyingTogether) {
  auto store = Make();
  const Bytes block = Block(9000, 12);
  auto loc = store->Put("blk", block);
  ASSERT_TRUE(loc.ok());
  Node(Holder(*loc, 0)).Drop();
  Node(Holder(*loc, 3)).SetCorruptReads(true);
  ExpectReads(*store, "blk", *loc, block);
  Node(Holder(*loc, 5)).Drop();  // one more: 3 good shards left, some unreachable
  EXPECT_EQ(store->Get("blk", *loc).code(), Errc::kUnavailable);
}

}  // namespace
}  // namespace shardfs::remote
