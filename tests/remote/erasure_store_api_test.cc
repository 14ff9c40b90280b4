// ErasureStore's contract without faults in the way: round trips, placement spread, the location
// record, Delete, Usage and node status, configuration checks, other codes, and many threads.
#include <gtest/gtest.h>

#include <atomic>
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
using util::Bytes;
using util::Errc;

TEST_F(ErasureStoreTest, RoundTripsOneShardPerNode) {
  auto store = Make();
  EXPECT_EQ(store->Describe(), "4+2 over 6 nodes");
  int n = 0;
  for (size_t len : {size_t{0}, size_t{1}, size_t{296}, size_t{(1u << 20) + 3}}) {
    const std::string name = "blk" + std::to_string(n++);
    const Bytes block = Block(len, len);
    auto loc = store->Put(name, block);
    ASSERT_TRUE(loc.ok()) << loc.error().message;
    LocationRecord r = Record(*loc);
    EXPECT_EQ(r.length, len);
    std::set<std::string> nodes;
    for (const ShardLocation& s : r.shards) nodes.insert(s.node);
    EXPECT_EQ(nodes.size(), 6u);
    ExpectReads(*store, name, *loc, block);
  }
  for (int i = 0; i < kNodes; ++i) EXPECT_EQ(Objects(i), 4u);
}

TEST_F(ErasureStoreTest, SpreadsDataShardsOverTheNodes) {
  auto store = Make();
  std::set<int> first_holders;
  for (int i = 0; i < 12; ++i) {
    auto loc = store->Put("spread" + std::to_string(i), Block(100, 1));
    ASSERT_TRUE(loc.ok());
    first_holders.insert(Holder(*loc, 0));
  }
  EXPECT_GE(first_holders.size(), 4u);
}

TEST_F(ErasureStoreTest, DamagedLocationIsCorrupt) {
  auto store = Make();
  auto loc = store->Put("blk", Block(100, 13));
  ASSERT_TRUE(loc.ok());
  for (size_t i = 0; i < loc->size(); ++i) {
    Bytes bad = *loc;
    bad[i] ^= 0x10;
    EXPECT_EQ(store->Get("blk", bad).code(), Errc::kCorrupt) << i;
    EXPECT_EQ(store->Delete("blk", bad).code(), Errc::kCorrupt) << i;
  }
  EXPECT_EQ(store->Get("blk", util::ByteSpan(*loc).first(10)).code(), Errc::kCorrupt);
  EXPECT_EQ(store->Get("blk", {}).code(), Errc::kCorrupt);
  // The record of another block gives that block's shard names nothing: no wrong bytes.
  auto other = store->Put("other", Block(100, 14));
  EXPECT_EQ(store->Get("blk", *other).code(), Errc::kCorrupt);
}

TEST_F(ErasureStoreTest, DeleteRemovesEveryShard) {
  auto store = Make();
  auto loc = store->Put("blk", Block(1000, 15));
  ASSERT_TRUE(loc.ok());
  ASSERT_TRUE(store->Delete("blk", *loc).ok());
  for (int i = 0; i < kNodes; ++i) EXPECT_EQ(Objects(i), 0u);
  EXPECT_TRUE(store->Delete("blk", *loc).ok());  // already gone is fine
  EXPECT_EQ(store->Get("blk", *loc).code(), Errc::kCorrupt);

  loc = store->Put("blk", Block(1000, 15));
  const int down = Holder(*loc, 3);
  Node(down).Drop();
  auto deleted = store->Delete("blk", *loc);
  EXPECT_EQ(deleted.code(), Errc::kUnavailable);
  EXPECT_NE(deleted.error().message.find("node" + std::to_string(down)), std::string::npos);
  Node(down).Restore();
  EXPECT_TRUE(store->Delete("blk", *loc).ok());
  for (int i = 0; i < kNodes; ++i) EXPECT_EQ(Objects(i), 0u);
}

TEST_F(ErasureStoreTest, UsageAndNodeStatus) {
  auto store = Make();
  ASSERT_TRUE(store->Put("blk", Block(4000, 16)).ok());
  auto usage = store->Usage();
  ASSERT_TRUE(usage.ok());
  // In bytes of blocks: six shards of 1000 bytes hold one block of 4000.
  EXPECT_EQ(usage->objects, 1u);
  EXPECT_EQ(usage->used_bytes, 4000u);
  EXPECT_EQ(usage->capacity_bytes, 0u);  // MemStores without a capacity: unknown
  Node(2).Drop();
  ASSERT_TRUE(store->Usage().ok());
  std::vector<NodeStatus> nodes = store->Nodes();
  ASSERT_EQ(nodes.size(), 6u);
  uint64_t stored = 0;
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_EQ(nodes[static_cast<size_t>(i)].name, "node" + std::to_string(i));
    EXPECT_EQ(nodes[static_cast<size_t>(i)].endpoint, "faulty:mem:n" + std::to_string(i));
    EXPECT_TRUE(nodes[static_cast<size_t>(i)].healthy);
    stored += nodes[static_cast<size_t>(i)].shards_stored;
  }
  EXPECT_EQ(stored, 6u);
  for (int i = 0; i < 3; ++i) (void)store->Put("x" + std::to_string(i), Block(10, 1));
  EXPECT_FALSE(store->Nodes()[2].healthy);
  EXPECT_FALSE(store->Nodes()[2].last_error.empty());
}

TEST_F(ErasureStoreTest, ReadsRecordsOfOtherCodesAndNodeLists) {
  const Bytes block = Block(3333, 17);
  Bytes loc;
  {
    auto writer = Make();
    loc = *writer->Put("blk", block);
  }
  ErasureOptions o = Options();
  o.k = 2;
  o.m = 1;
  ExpectReads(*Make(std::move(o)), "blk", loc, block);  // the record says 4+2
  // node5 is gone from the list (its store now answers as "node9"): five shards remain.
  auto renamed = Make(Options(), {"node0", "node1", "node2", "node3", "node4", "node9"});
  ExpectReads(*renamed, "blk", loc, block);
  EXPECT_EQ(renamed->Delete("blk", loc).code(), Errc::kUnavailable);
}

TEST_F(ErasureStoreTest, MirroringSurvivesAllButOneCopy) {
  ErasureOptions o = Options();
  o.k = 1;
  o.m = 2;
  auto store = Make(std::move(o));
  const Bytes block = Block(500, 18);
  auto loc = store->Put("blk", block);
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(store->Describe(), "1+2 over 6 nodes");
  Node(Holder(*loc, 0)).Drop();
  Node(Holder(*loc, 1)).Drop();
  ExpectReads(*store, "blk", *loc, block);
}

TEST_F(ErasureStoreTest, RefusesBadConfigurationAndNames) {
  auto create = [&](std::vector<ErasureNode> nodes, ErasureOptions o) {
    return ErasureStore::Create(std::move(nodes), std::move(o)).code();
  };
  std::vector<ErasureNode> three = {{"a", &Node(0)}, {"b", &Node(1)}, {"c", &Node(2)}};
  EXPECT_EQ(create(three, Options()), Errc::kInvalid);  // fewer than k
  std::vector<ErasureNode> twice = {
      {"a", &Node(0)}, {"b", &Node(1)}, {"a", &Node(2)}, {"d", &Node(3)}};
  EXPECT_EQ(create(twice, Options()), Errc::kInvalid);
  std::vector<ErasureNode> four = {
      {"a", &Node(0)}, {"b", &Node(1)}, {"c", &Node(2)}, {"d", &Node(3)}};
  EXPECT_TRUE(ErasureStore::Create(four, Options()).ok());  // degraded, with a warning
  ErasureOptions no_names = Options();
  no_names.shard_name = nullptr;
  EXPECT_EQ(create(four, no_names), Errc::kInvalid);
  ErasureOptions bad_code = Options();
  bad_code.k = 40;
  EXPECT_EQ(create(four, bad_code), Errc::kInvalid);

  auto store = Make();
  EXPECT_EQ(store->Put("Bad Name", Block(10, 1)).code(), Errc::kInvalid);
  ErasureOptions same = Options();
  same.shard_name = [](std::string_view, int) { return std::string("same"); };
  EXPECT_EQ(Make(std::move(same))->Put("blk", Block(10, 1)).code(), Errc::kInvalid);
}

TEST_F(ErasureStoreTest, ConcurrentPutsAndGets) {
  auto store = Make();
  Node(5).SetFailureRate(0.2);
  Node(4).SetCorruptReads(true);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        const std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        const Bytes block = Block(static_cast<size_t>(1 + (t * 7919 + i * 104729) % 65536),
                                  static_cast<uint64_t>(t * 100 + i));
        auto loc = store->Put(name, block);
        if (!loc.ok()) {
          ++failures;
          continue;
        }
        for (int r = 0; r < 2; ++r) {
          auto got = store->Get(name, *loc);
          if (!got.ok() || *got != block) ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(BlockBytesOnNodesTest, EqualNodesHoldKOverKPlusMOfTheirRoom) {
  EXPECT_EQ(BlockBytesOnNodes({600, 600, 600, 600, 600, 600}, 4, 2), 2400u);
  // Twelve nodes, six shards a block: each block uses half of them.
  EXPECT_EQ(BlockBytesOnNodes(std::vector<uint64_t>(12, 600), 4, 2), 4800u);
  EXPECT_EQ(BlockBytesOnNodes({600, 600, 600}, 1, 2), 600u);  // mirroring
}

TEST(BlockBytesOnNodesTest, ABigNodeCannotHoldMoreThanOneShardOfEachBlock) {
  // The 1000-byte node can take only as many shards as the five small ones allow.
  EXPECT_EQ(BlockBytesOnNodes({1000, 10, 10, 10, 10, 10}, 4, 2), 40u);
  // Two big nodes and five small: every block has a shard on both big ones and on four small.
  EXPECT_EQ(BlockBytesOnNodes({1000, 1000, 100, 100, 100, 100, 100}, 4, 2), 4u * 125);
  EXPECT_EQ(BlockBytesOnNodes({1000, 0, 0, 0, 0, 0}, 4, 2), 0u);
}

TEST(BlockBytesOnNodesTest, TooFewNodesOrHugeRoomsDoNotOverflow) {
  EXPECT_EQ(BlockBytesOnNodes({100, 100, 100, 100, 100}, 4, 2), 0u);
  const uint64_t huge = UINT64_MAX / 2;
  EXPECT_EQ(BlockBytesOnNodes(std::vector<uint64_t>(6, huge), 4, 2), UINT64_MAX);
}

}  // namespace
}  // namespace shardfs::remote
