#include "fs/cache/block_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "fs/cache/block_files.h"
#include "tests/cache/block_test_util.h"
#include "tests/temp_dir.h"

namespace shardfs::cache {
namespace {

using std::chrono::milliseconds;
using util::Bytes;
using util::Errc;
using util::ObjectId;
using util::Status;

constexpr size_t kSize = 1000;

// Every test runs twice: blocks in files (inline_max_bytes 0) and blocks inline in the index.
class BlockCacheTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  bool Inline() const { return GetParam() > 0; }
  std::unique_ptr<BlockCache> Open(uint64_t budget) {
    auto cache = BlockCache::Open(
        {.dir = dir_.Sub("cache"), .budget_bytes = budget, .inline_max_bytes = GetParam()});
    EXPECT_TRUE(cache.ok()) << cache.error().message;
    return cache.ok() ? std::move(cache).value() : nullptr;
  }
  void PutOk(BlockCache& cache, uint32_t n, bool dirty, size_t size = kSize) {
    auto s = cache.Put(Id(n), Block(n, size), dirty);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  void ExpectBlock(BlockCache& cache, uint32_t n, size_t size = kSize) {
    auto got = cache.Get(Id(n));
    ASSERT_TRUE(got.ok()) << "block " << n << ": " << got.error().message;
    EXPECT_EQ(*got, Block(n, size)) << "block " << n;
  }
  std::string CacheDir() const { return dir_.Sub("cache"); }

  testutil::TempDir dir_;
};

// Tests about the block files themselves: only the layout that keeps every block in a file.
class BlockFileTest : public BlockCacheTest {};

TEST_P(BlockCacheTest, PutGetRoundTrip) {
  auto cache = Open(1 << 20);
  ASSERT_TRUE(cache);
  PutOk(*cache, 1, false, 4096);
  PutOk(*cache, 2, true, 1);
  PutOk(*cache, 3, false, 0);  // an empty block is still a block
  ExpectBlock(*cache, 1, 4096);
  ExpectBlock(*cache, 2, 1);
  ExpectBlock(*cache, 3, 0);
  EXPECT_TRUE(cache->Contains(Id(1)));
  EXPECT_FALSE(cache->Contains(Id(4)));
  EXPECT_EQ(cache->Get(Id(4)).code(), Errc::kNotFound);
  EXPECT_EQ(util::PathExists(BlockFileOf(CacheDir(), Id(1))), !Inline());

  // Replacing keeps one entry and counts its bytes once.
  PutOk(*cache, 1, false, 100);
  ExpectBlock(*cache, 1, 100);
  BlockCacheStats st = cache->Stats();
  EXPECT_EQ(st.blocks, 3u);
  EXPECT_EQ(st.used_bytes, 101u);
  EXPECT_EQ(st.dirty_blocks, 1u);
  EXPECT_EQ(st.dirty_bytes, 1u);
  EXPECT_EQ(st.hits, 4u);
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(st.budget_bytes, 1u << 20);
  EXPECT_TRUE(cache->Sync().ok());
}

// Sync makes dirty block files durable; a clean block is in the store already, so its file is
// not fsynced (before, every block fetched from the store or uploaded was fsynced too).
TEST_P(BlockFileTest, SyncFsyncsOnlyBlocksNotYetStored) {
  auto cache = Open(1 << 20);
  ASSERT_TRUE(cache);
  PutOk(*cache, 1, /*dirty=*/true);
  PutOk(*cache, 2, /*dirty=*/false);  // fetched from the store
  PutOk(*cache, 3, /*dirty=*/true);
  ASSERT_TRUE(cache->MarkClean(Id(3)).ok());  // uploaded before the sync
  ASSERT_TRUE(cache->Sync().ok());
  EXPECT_EQ(cache->Stats().files_synced, 1u);
  ASSERT_TRUE(cache->Sync().ok());  // nothing new
  EXPECT_EQ(cache->Stats().files_synced, 1u);
  PutOk(*cache, 1, /*dirty=*/true);  // rewritten
  ASSERT_TRUE(cache->Sync().ok());
  EXPECT_EQ(cache->Stats().files_synced, 2u);
  ExpectBlock(*cache, 2);
  ExpectBlock(*cache, 3);
}

TEST_P(BlockCacheTest, EvictsLeastRecentlyUsedFirst) {
  auto cache = Open(3 * kSize);
  ASSERT_TRUE(cache);
  for (uint32_t n : {1, 2, 3}) PutOk(*cache, n, false);
  ExpectBlock(*cache, 1);  // 1 is now the most recent; 2 the least
  PutOk(*cache, 4, false);
  EXPECT_FALSE(cache->Contains(Id(2)));
  EXPECT_TRUE(cache->Contains(Id(1)));
  EXPECT_TRUE(cache->Contains(Id(3)));
  EXPECT_FALSE(util::PathExists(BlockFileOf(CacheDir(), Id(2))));
  PutOk(*cache, 5, false);
  EXPECT_FALSE(cache->Contains(Id(3)));
  EXPECT_TRUE(cache->Contains(Id(1)));
  EXPECT_EQ(cache->Stats().evictions, 2u);
  EXPECT_EQ(cache->Stats().used_bytes, 3 * kSize);
}

TEST_P(BlockCacheTest, EvictionFollowsAccessOrderExactly) {
  constexpr uint32_t kBlocks = 40;
  auto cache = Open(kBlocks * kSize);
  ASSERT_TRUE(cache);
  for (uint32_t n = 0; n < kBlocks; ++n) PutOk(*cache, n, false);
  std::vector<uint32_t> order(kBlocks);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(7);
  std::shuffle(order.begin(), order.end(), rng);
  for (uint32_t n : order) ExpectBlock(*cache, n);
  // Each new block must push out exactly the block read longest ago.
  for (uint32_t i = 0; i < kBlocks / 2; ++i) {
    PutOk(*cache, 1000 + i, false);
    EXPECT_FALSE(cache->Contains(Id(order[i]))) << "step " << i;
    EXPECT_TRUE(cache->Contains(Id(order[i + 1]))) << "step " << i;
  }
}

TEST_P(BlockCacheTest, LruOrderSurvivesReopen) {
  {
    auto cache = Open(3 * kSize);
    ASSERT_TRUE(cache);
    for (uint32_t n : {1, 2, 3}) PutOk(*cache, n, false);
    ExpectBlock(*cache, 1);
    ExpectBlock(*cache, 2);
  }
  auto cache = Open(3 * kSize);
  ASSERT_TRUE(cache);
  PutOk(*cache, 4, false);
  EXPECT_FALSE(cache->Contains(Id(3)));
  EXPECT_TRUE(cache->Contains(Id(1)));
  EXPECT_TRUE(cache->Contains(Id(2)));
}

// Evicted files are reused for new blocks (overwriting cached pages is much cheaper than fresh
// ones); a reused file must hold exactly the new block, whatever size it had before.
TEST_P(BlockFileTest, ReusedFilesHoldExactlyTheNewBlock) {
  auto cache = Open(3 * 4000);
  ASSERT_TRUE(cache);
  for (uint32_t n : {1, 2, 3}) PutOk(*cache, n, false, 4000);
  PutOk(*cache, 4, false, 100);   // evicts 1: its 4000-byte file becomes 4's (shrinks)
  PutOk(*cache, 5, false, 3900);  // fits
  PutOk(*cache, 6, false, 3999);  // evicts 2, reuses its file
  PutOk(*cache, 7, false, 4000);  // evicts 3, reuses its file
  PutOk(*cache, 8, false, 4000);  // evicts 4 and 5: takes the larger spare, 3900 bytes (grows)
  EXPECT_EQ(cache->Stats().evictions, 5u);
  ExpectBlock(*cache, 6, 3999);
  ExpectBlock(*cache, 7, 4000);
  ExpectBlock(*cache, 8, 4000);
  struct stat st {};
  ASSERT_EQ(::stat(BlockFileOf(CacheDir(), Id(6)).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 3999);
  ASSERT_EQ(::stat(BlockFileOf(CacheDir(), Id(8)).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4000);
  PutOk(*cache, 9, false, 50);  // evicts 6; takes the 100-byte spare left by 4
  ExpectBlock(*cache, 9, 50);
}

TEST_P(BlockCacheTest, FileOfNamesTheFileOfABlockInAFile) {
  auto cache = Open(1 << 20);
  ASSERT_TRUE(cache);
  PutOk(*cache, 1, true);
  auto file = cache->FileOf(Id(1));
  if (Inline()) {
    EXPECT_EQ(file.code(), Errc::kNotFound);  // its bytes are in the index
  } else {
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_EQ(file->path, BlockFileOf(CacheDir(), Id(1)));
    EXPECT_EQ(file->size, kSize);
  }
  EXPECT_EQ(cache->FileOf(Id(2)).code(), Errc::kNotFound);
}

// A store may keep a block's file by a hard link (FileOf): the cache must then never write
// another block into it when it evicts or removes the block.
TEST_P(BlockFileTest, LinkedFilesAreNeverReused) {
  auto cache = Open(3 * 4000);
  ASSERT_TRUE(cache);
  for (uint32_t n : {1, 2, 3}) PutOk(*cache, n, false, 4000);
  const std::string kept_1 = dir_.Sub("kept-1"), kept_2 = dir_.Sub("kept-2");
  ASSERT_EQ(::link(cache->FileOf(Id(1))->path.c_str(), kept_1.c_str()), 0);
  ASSERT_EQ(::link(cache->FileOf(Id(2))->path.c_str(), kept_2.c_str()), 0);
  ASSERT_TRUE(cache->Remove(Id(2)).ok());
  for (uint32_t n = 10; n < 20; ++n) PutOk(*cache, n, false, 4000);  // evicts 1, 3 and more
  EXPECT_GE(cache->Stats().evictions, 8u);
  for (auto [path, n] : {std::pair{kept_1, 1u}, std::pair{kept_2, 2u}}) {
    auto kept = ReadBlockFile(path, 4000);
    ASSERT_TRUE(kept.ok()) << kept.error().message;
    EXPECT_EQ(*kept, Block(n, 4000)) << path << " was overwritten";
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u) << "the cache kept a name for " << path;
  }
  for (uint32_t n = 17; n < 20; ++n) ExpectBlock(*cache, n, 4000);
}

TEST_P(BlockFileTest, SpareFilesAreBoundedAndGoneAfterClose) {
  auto count_files = [](const std::string& dir) {
    size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file()) ++n;
    }
    return n;
  };
  {
    auto cache = Open(4 * kSize);
    ASSERT_TRUE(cache);
    for (uint32_t n = 0; n < 4; ++n) PutOk(*cache, n, false);
    for (uint32_t n = 0; n < 4; ++n) ASSERT_TRUE(cache->Remove(Id(n)).ok());  // 4 spares
    PutOk(*cache, 100, false, 4 * kSize);                                     // takes one
    for (uint32_t n = 0; n < 50; ++n) PutOk(*cache, 200 + n, false, 10 + n);
    EXPECT_LE(count_files(CacheDir() + "/staging"), 8u);
    EXPECT_LE(count_files(CacheDir() + "/blocks"), 50u);
  }
  EXPECT_EQ(count_files(CacheDir() + "/staging"), 0u);
  auto cache = Open(4 * kSize);
  ASSERT_TRUE(cache);
  EXPECT_EQ(cache->Stats().blocks, count_files(CacheDir() + "/blocks"));
}

TEST_P(BlockCacheTest, DirtyBlocksAreNeverEvicted) {
  auto cache = Open(3 * kSize);
  ASSERT_TRUE(cache);
  PutOk(*cache, 1, true);
  PutOk(*cache, 2, false);
  PutOk(*cache, 3, true);
  PutOk(*cache, 4, false);  // evicts 2, the only clean block
  PutOk(*cache, 5, false);  // evicts 4
  EXPECT_FALSE(cache->Contains(Id(2)));
  EXPECT_FALSE(cache->Contains(Id(4)));
  ExpectBlock(*cache, 1);
  ExpectBlock(*cache, 3);
  ExpectBlock(*cache, 5);
  ASSERT_TRUE(cache->MarkClean(Id(3)).ok());
  ExpectBlock(*cache, 5);  // now 1 (dirty) > 5 > 3 in recency; 3 is the LRU clean one
  PutOk(*cache, 6, false);
  EXPECT_FALSE(cache->Contains(Id(3)));
  EXPECT_TRUE(cache->Contains(Id(1)));
  EXPECT_TRUE(cache->Contains(Id(5)));
}

TEST_P(BlockCacheTest, DirtyBlocksListsExactlyTheDirtyOnes) {
  auto cache = Open(1 << 20);
  ASSERT_TRUE(cache);
  for (uint32_t n = 1; n <= 6; ++n) PutOk(*cache, n, n % 2 == 0);
  ASSERT_TRUE(cache->MarkClean(Id(4)).ok());
  ASSERT_TRUE(cache->Remove(Id(6)).ok());
  PutOk(*cache, 1, true);  // a replacement can make a clean block dirty
  auto dirty = cache->DirtyBlocks();
  ASSERT_TRUE(dirty.ok());
  std::vector<ObjectId> want = {Id(1), Id(2)};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(*dirty, want);
  EXPECT_EQ(cache->Stats().dirty_blocks, 2u);
  EXPECT_EQ(cache->Stats().dirty_bytes, 2 * kSize);
}

TEST_P(BlockCacheTest, UnknownIdsAreIgnored) {
  auto cache = Open(1 << 20);
  ASSERT_TRUE(cache);
  EXPECT_TRUE(cache->Remove(Id(9)).ok());
  EXPECT_TRUE(cache->MarkClean(Id(9)).ok());
  PutOk(*cache, 1, false);
  EXPECT_TRUE(cache->MarkClean(Id(1)).ok());  // already clean
  EXPECT_TRUE(cache->Remove(Id(1)).ok());
  EXPECT_TRUE(cache->Remove(Id(1)).ok());
  EXPECT_FALSE(util::PathExists(BlockFileOf(CacheDir(), Id(1))));
  EXPECT_EQ(cache->Stats().used_bytes, 0u);
}

TEST_P(BlockCacheTest, BlockLargerThanBudgetIsInvalid) {
  auto cache = Open(4 * kSize);
  ASSERT_TRUE(cache);
  EXPECT_EQ(cache->Put(Id(1), Block(1, 4 * kSize + 1), false).code(), Errc::kInvalid);
  EXPECT_FALSE(cache->Contains(Id(1)));
  PutOk(*cache, 2, false, 4 * kSize);  // exactly the budget fits
  EXPECT_EQ(
      BlockCache::Open({.dir = CacheDir() + "2", .budget_bytes = 0, .inline_max_bytes = GetParam()})
          .code(),
      Errc::kInvalid);
}

// Starts a Put of block 100 that must wait (the budget is full of dirty blocks 1-3), checks that
// it really waits, runs `release`, and returns the Put's status. Never hangs: if the Put is
// still waiting after 10 s the cache is cancelled.
Status PutThatWaits(BlockCache& cache, const std::function<void()>& release, milliseconds* waited) {
  std::atomic<bool> done{false};
  auto start = std::chrono::steady_clock::now();
  auto put = std::async(std::launch::async, [&] {
    auto s = cache.Put(Id(100), Block(100, kSize), false);
    done = true;
    return s;
  });
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(done.load()) << "Put did not wait for space";
  release();
  if (put.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "Put still waiting 10 s after space was freed";
    cache.Cancel();
  }
  *waited = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  return put.get();
}

TEST_P(BlockCacheTest, PutWaitsForMarkClean) {
  auto cache = Open(3 * kSize);
  ASSERT_TRUE(cache);
  for (uint32_t n : {1, 2, 3}) PutOk(*cache, n, true);
  milliseconds waited{};
  auto s = PutThatWaits(
      *cache, [&] { ASSERT_TRUE(cache->MarkClean(Id(2)).ok()); }, &waited);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_GE(waited.count(), 200);
  EXPECT_FALSE(cache->Contains(Id(2)));  // the block made clean was evicted for it
  ExpectBlock(*cache, 100);
  ExpectBlock(*cache, 1);
  ExpectBlock(*cache, 3);
}

TEST_P(BlockCacheTest, PutWaitsForRemove) {
  auto cache = Open(3 * kSize);
  ASSERT_TRUE(cache);
  for (uint32_t n : {1, 2, 3}) PutOk(*cache, n, true);
  milliseconds waited{};
  auto s = PutThatWaits(
      *cache, [&] { ASSERT_TRUE(cache->Remove(Id(1)).ok()); }, &waited);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_GE(waited.count(), 200);
  EXPECT_EQ(cache->Stats().dirty_blocks, 2u);
  EXPECT_EQ(cache->Stats().evictions, 0u);
}

TEST_P(BlockCacheTest, CancelWakesWaitersWithUnavailable) {
  auto cache = Open(3 * kSize);
  ASSERT_TRUE(cache);
  for (uint32_t n : {1, 2, 3}) PutOk(*cache, n, true);
  milliseconds waited{};
  auto s = PutThatWaits(
      *cache, [&] { cache->Cancel(); }, &waited);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::kUnavailable);
  EXPECT_GE(waited.count(), 200);
  EXPECT_FALSE(cache->Contains(Id(100)));
  // After Cancel a Put that would wait fails at once; one that fits still works.
  EXPECT_EQ(cache->Put(Id(101), Block(101, kSize), false).code(), Errc::kUnavailable);
  ASSERT_TRUE(cache->Remove(Id(1)).ok());
  PutOk(*cache, 102, false);
  EXPECT_EQ(cache->Stats().used_bytes, 3 * kSize);
}

TEST_P(BlockCacheTest, ReopenKeepsBlocksAndDirtyState) {
  {
    auto cache = Open(1 << 20);
    ASSERT_TRUE(cache);
    PutOk(*cache, 1, true);
    PutOk(*cache, 2, false);
    PutOk(*cache, 3, true);
    ASSERT_TRUE(cache->MarkClean(Id(3)).ok());
  }
  auto cache = Open(1 << 20);
  ASSERT_TRUE(cache);
  ExpectBlock(*cache, 1);
  ExpectBlock(*cache, 2);
  ExpectBlock(*cache, 3);
  auto dirty = cache->DirtyBlocks();
  ASSERT_TRUE(dirty.ok());
  EXPECT_EQ(*dirty, std::vector<ObjectId>{Id(1)});
  BlockCacheStats st = cache->Stats();
  EXPECT_EQ(st.blocks, 3u);
  EXPECT_EQ(st.used_bytes, 3 * kSize);
  EXPECT_EQ(st.dirty_bytes, kSize);
}

TEST_P(BlockCacheTest, ReopenWithSmallerBudgetEvictsCleanBlocks) {
  {
    auto cache = Open(10 * kSize);
    ASSERT_TRUE(cache);
    for (uint32_t n = 1; n <= 6; ++n) PutOk(*cache, n, n == 1);
  }
  auto cache = Open(3 * kSize);
  ASSERT_TRUE(cache);
  EXPECT_EQ(cache->Stats().used_bytes, 3 * kSize);
  EXPECT_TRUE(cache->Contains(Id(1)));  // dirty, kept
  EXPECT_TRUE(cache->Contains(Id(5)));  // the two most recent clean ones
  EXPECT_TRUE(cache->Contains(Id(6)));
}

TEST_P(BlockFileTest, GetOfVanishedFileDropsTheEntry) {
  auto cache = Open(1 << 20);
  ASSERT_TRUE(cache);
  PutOk(*cache, 1, false);
  PutOk(*cache, 2, false);
  ASSERT_EQ(::unlink(BlockFileOf(CacheDir(), Id(1)).c_str()), 0);
  ASSERT_EQ(::truncate(BlockFileOf(CacheDir(), Id(2)).c_str(), kSize / 2), 0);
  EXPECT_EQ(cache->Get(Id(1)).code(), Errc::kNotFound);
  EXPECT_EQ(cache->Get(Id(2)).code(), Errc::kNotFound);
  EXPECT_FALSE(cache->Contains(Id(1)));
  EXPECT_FALSE(cache->Contains(Id(2)));
  EXPECT_EQ(cache->Stats().used_bytes, 0u);
  EXPECT_EQ(cache->Stats().misses, 2u);
  PutOk(*cache, 2, false);  // and it can come back
  ExpectBlock(*cache, 2);
}

// Blocks on both sides of the inline threshold, and an id moving from one side to the other.
TEST(BlockCacheMixedTest, InlineAndFileBlocksLiveTogether) {
  testutil::TempDir dir;
  const std::string cache_dir = dir.Sub("cache");
  auto file_count = [&] {
    size_t n = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(cache_dir + "/blocks"))
      n += e.is_regular_file() ? 1 : 0;
    return n;
  };
  {
    auto cache =
        BlockCache::Open({.dir = cache_dir, .budget_bytes = 1 << 20, .inline_max_bytes = 2000});
    ASSERT_TRUE(cache.ok());
    for (uint32_t n = 0; n < 10; ++n) {
      ASSERT_TRUE((*cache)->Put(Id(n), Block(n, n % 2 ? 3000 : 1000), n % 3 == 0).ok());
    }
    EXPECT_EQ(file_count(), 5u);
    ASSERT_TRUE((*cache)->Put(Id(1), Block(101, 500), false).ok());   // file -> inline
    ASSERT_TRUE((*cache)->Put(Id(2), Block(102, 5000), false).ok());  // inline -> file
    EXPECT_EQ(file_count(), 5u);
    ASSERT_TRUE((*cache)->Sync().ok());
  }
  auto cache =
      BlockCache::Open({.dir = cache_dir, .budget_bytes = 1 << 20, .inline_max_bytes = 2000});
  ASSERT_TRUE(cache.ok());
  EXPECT_EQ((*cache)->Stats().blocks, 10u);
  for (uint32_t n = 0; n < 10; ++n) {
    auto got = (*cache)->Get(Id(n));
    ASSERT_TRUE(got.ok()) << n;
    const Bytes want = n == 1   ? Block(101, 500)
                       : n == 2 ? Block(102, 5000)
                                : Block(n, n % 2 ? 3000 : 1000);
    EXPECT_EQ(*got, want) << n;
  }
  auto dirty = (*cache)->DirtyBlocks();
  ASSERT_TRUE(dirty.ok());
  EXPECT_EQ(*dirty, (std::vector<ObjectId>{Id(0), Id(3), Id(6), Id(9)}));
  for (uint32_t n = 0; n < 10; ++n) ASSERT_TRUE((*cache)->Remove(Id(n)).ok());
  EXPECT_EQ(file_count(), 0u);
  EXPECT_EQ((*cache)->Stats().used_bytes, 0u);
}

// PutMany: small blocks in one index transaction, large ones as files; all of them readable,
// counted and dirty as asked, replacing older blocks of the same id, and still there after a
// reopen. A batch that does not fit waits for space like Put.
TEST(BlockCacheMixedTest, PutManyAddsSmallAndLargeBlocks) {
  testutil::TempDir dir;
  const std::string cache_dir = dir.Sub("cache");
  const BlockCache::Options options{
      .dir = cache_dir, .budget_bytes = 40'000, .inline_max_bytes = 2000};
  {
    auto cache = BlockCache::Open(options);
    ASSERT_TRUE(cache.ok());
    ASSERT_TRUE((*cache)->Put(Id(1), Block(101, 5000), false).ok());  // file, replaced inline
    std::vector<Bytes> blocks;
    for (uint32_t n = 0; n < 8; ++n) blocks.push_back(Block(n, n == 5 ? 3000 : 1000));
    std::vector<BlockCache::NewBlock> batch;
    for (uint32_t n = 0; n < 8; ++n) batch.push_back({Id(n), blocks[n]});
    auto s = (*cache)->PutMany(batch, /*dirty=*/true);
    ASSERT_TRUE(s.ok()) << s.error().message;
    const BlockCacheStats st = (*cache)->Stats();
    EXPECT_EQ(st.blocks, 8u);
    EXPECT_EQ(st.dirty_blocks, 8u);
    EXPECT_EQ(st.used_bytes, 7 * 1000u + 3000u);
    // Full of dirty blocks: the next batch waits until one is removed, then fits.
    std::vector<Bytes> more{Block(20, 1500), Block(21, 1500)};
    for (uint32_t n = 0; n < 10; ++n) {
      ASSERT_TRUE((*cache)->Put(Id(100 + n), Block(100 + n, 3000), true).ok());
    }
    auto waiter = std::async(std::launch::async, [&] {
      return (*cache)->PutMany({{Id(20), more[0]}, {Id(21), more[1]}}, false);
    });
    EXPECT_EQ(waiter.wait_for(milliseconds(100)), std::future_status::timeout);
    ASSERT_TRUE((*cache)->Remove(Id(100)).ok());
    auto waited = waiter.get();
    ASSERT_TRUE(waited.ok()) << waited.error().message;
    ASSERT_TRUE((*cache)->Sync().ok());
  }
  auto cache = BlockCache::Open(options);
  ASSERT_TRUE(cache.ok());
  for (uint32_t n = 0; n < 8; ++n) {
    auto got = (*cache)->Get(Id(n));
    ASSERT_TRUE(got.ok()) << n;
    EXPECT_EQ(*got, Block(n, n == 5 ? 3000 : 1000)) << n;
  }
  EXPECT_EQ(*(*cache)->Get(Id(21)), Block(21, 1500));
  auto dirty = (*cache)->DirtyBlocks();
  ASSERT_TRUE(dirty.ok());
  EXPECT_EQ(std::count(dirty->begin(), dirty->end(), Id(4)), 1);
  EXPECT_EQ(std::count(dirty->begin(), dirty->end(), Id(101)), 1);
  EXPECT_EQ(std::count(dirty->begin(), dirty->end(), Id(20)), 0);
}

INSTANTIATE_TEST_SUITE_P(Layouts, BlockCacheTest, ::testing::Values(uint64_t{0}, uint64_t{1} << 20),
                         [](const ::testing::TestParamInfo<uint64_t>& p) {
                           return p.param == 0 ? std::string("Files") : std::string("Inline");
                         });
INSTANTIATE_TEST_SUITE_P(Layouts, BlockFileTest, ::testing::Values(uint64_t{0}),
                         [](const ::testing::TestParamInfo<uint64_t>&) {
                           return std::string("Files");
                         });

}  // namespace
}  // namespace shardfs::cache
