// FaultyStore: each fault mode does what it says, and nothing more.
#include "fs/remote/testing/faulty_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "fs/remote/testing/mem_store.h"

namespace shardfs::remote::testing {
namespace {

using std::chrono::milliseconds;
using util::Bytes;
using util::Errc;

Bytes Str(std::string_view s) { return Bytes(s.begin(), s.end()); }

class FaultyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mem_.Put("obj", Str("0123456789")).ok());
    ASSERT_TRUE(mem_.Put("empty", {}).ok());
    mem_.ResetCounts();
  }

  // Whether each of n Gets succeeded.
  static std::vector<bool> Pattern(FaultyStore& store, int n) {
    std::vector<bool> out;
    for (int i = 0; i < n; ++i) out.push_back(store.Get("obj").ok());
    return out;
  }

  MemStore mem_{0, "inner"};
  FaultyStore faulty_{&mem_, 7};
};

TEST_F(FaultyStoreTest, PassesThroughAndDescribesTheInnerStore) {
  EXPECT_EQ(*faulty_.Get("obj"), Str("0123456789"));
  EXPECT_EQ(faulty_.Describe(), "faulty:mem:inner");
  EXPECT_EQ(faulty_.injected_faults(), 0u);
}

TEST_F(FaultyStoreTest, AddsLatencyToEveryCall) {
  faulty_.SetLatency(milliseconds(30));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(faulty_.Get("obj").ok());
  EXPECT_TRUE(faulty_.List("").ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(60));
  faulty_.SetLatency(milliseconds(0));
  start = std::chrono::steady_clock::now();
  EXPECT_TRUE(faulty_.Get("obj").ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(30));
}

TEST_F(FaultyStoreTest, FailsTheNextCalls) {
  faulty_.FailNext(2);
  auto put = faulty_.Put("new", Str("x"));
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.code(), Errc::kUnavailable);
  EXPECT_NE(put.error().message.find("mem:inner"), std::string::npos) << put.error().message;
  EXPECT_NE(put.error().message.find("injected"), std::string::npos) << put.error().message;
  EXPECT_EQ(faulty_.Get("obj").code(), Errc::kUnavailable);
  EXPECT_TRUE(faulty_.Get("obj").ok());
  EXPECT_EQ(mem_.counts().puts, 0u);  // a failed call never reaches the inner store
  EXPECT_EQ(mem_.Get("new").code(), Errc::kNotFound);
  EXPECT_EQ(faulty_.injected_faults(), 2u);

  faulty_.FailNext(1, Errc::kNoSpace);
  EXPECT_EQ(faulty_.Put("new", Str("x")).code(), Errc::kNoSpace);
  EXPECT_TRUE(faulty_.Put("new", Str("x")).ok());
}

TEST_F(FaultyStoreTest, FailsAFractionDeterministically) {
  faulty_.SetFailureRate(0.3, Errc::kCorrupt);
  std::vector<bool> first = Pattern(faulty_, 2000);
  auto failed = std::count(first.begin(), first.end(), false);
  EXPECT_GT(failed, 500);
  EXPECT_LT(failed, 700);
  auto r = faulty_.Get("obj");
  while (r.ok()) r = faulty_.Get("obj");
  EXPECT_EQ(r.code(), Errc::kCorrupt);

  FaultyStore same_seed(&mem_, 7);
  same_seed.SetFailureRate(0.3, Errc::kCorrupt);
  EXPECT_EQ(Pattern(same_seed, 2000), first);
  FaultyStore other_seed(&mem_, 8);
  other_seed.SetFailureRate(0.3, Errc::kCorrupt);
  EXPECT_NE(Pattern(other_seed, 2000), first);

  faulty_.SetFailureRate(1.0);
  EXPECT_EQ(Pattern(faulty_, 50), std::vector<bool>(50, false));
  faulty_.SetFailureRate(0);
  EXPECT_EQ(Pattern(faulty_, 50), std::vector<bool>(50, true));
}

TEST_F(FaultyStoreTest, CorruptsReadsButNotTheStore) {
  const Bytes original = Str("0123456789");
  faulty_.SetCorruptReads(true);
  for (int i = 0; i < 20; ++i) {
    auto got = faulty_.Get("obj");
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), original.size());
    int differing = 0;
    for (size_t j = 0; j < original.size(); ++j) differing += (*got)[j] != original[j];
    EXPECT_EQ(differing, 1);
  }
  auto range = faulty_.GetRange("obj", 2, 3);
  ASSERT_TRUE(range.ok());
  EXPECT_NE(*range, Str("234"));
  EXPECT_EQ(range->size(), 3u);
  EXPECT_EQ(*faulty_.Get("empty"), Bytes());
  EXPECT_EQ(faulty_.Get("missing").code(), Errc::kNotFound);
  EXPECT_EQ(*mem_.Get("obj"), original);

  faulty_.SetCorruptReads(false);
  EXPECT_EQ(*faulty_.Get("obj"), original);
}

TEST_F(FaultyStoreTest, DroppedNodeFailsEverythingUntilRestored) {
  faulty_.Drop();
  EXPECT_TRUE(faulty_.dropped());
  EXPECT_EQ(faulty_.Put("new", Str("x")).code(), Errc::kUnavailable);
  EXPECT_EQ(faulty_.Get("obj").code(), Errc::kUnavailable);
  EXPECT_EQ(faulty_.GetRange("obj", 0, 1).code(), Errc::kUnavailable);
  EXPECT_EQ(faulty_.Delete("obj").code(), Errc::kUnavailable);
  EXPECT_EQ(faulty_.List("").code(), Errc::kUnavailable);
  EXPECT_EQ(faulty_.Usage().code(), Errc::kUnavailable);
  MemStore::Counts c = mem_.counts();
  EXPECT_EQ(c.puts + c.gets + c.deletes + c.lists, 0u);

  faulty_.Restore();
  EXPECT_FALSE(faulty_.dropped());
  EXPECT_EQ(*faulty_.Get("obj"), Str("0123456789"));
  EXPECT_EQ(faulty_.Get("new").code(), Errc::kNotFound);
}

TEST_F(FaultyStoreTest, ClearFaultsRestoresPassThrough) {
  faulty_.SetLatency(milliseconds(1));
  faulty_.FailNext(100);
  faulty_.SetFailureRate(1.0);
  faulty_.SetCorruptReads(true);
  faulty_.Drop();
  faulty_.ClearFaults();
  EXPECT_EQ(*faulty_.Get("obj"), Str("0123456789"));
  EXPECT_FALSE(faulty_.dropped());
}

TEST_F(FaultyStoreTest, FaultsChangeSafelyWhileCallsRun) {
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 3; ++t) {
    callers.emplace_back([&] {
      while (!stop) {
        auto r = faulty_.Get("obj");
        // Only injected kinds of failure, and data that is intact or one byte off.
        if (!r.ok() && r.code() != Errc::kUnavailable) ++wrong;
        if (r.ok() && r->size() != 10) ++wrong;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    faulty_.SetFailureRate(i % 2 ? 0.5 : 0);
    faulty_.FailNext(i % 3);
    faulty_.SetCorruptReads(i % 5 == 0);
    if (i % 7 == 0) faulty_.Drop();
    if (i % 7 == 3) faulty_.Restore();
    std::this_thread::yield();
  }
  stop = true;
  for (auto& th : callers) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace shardfs::remote::testing
