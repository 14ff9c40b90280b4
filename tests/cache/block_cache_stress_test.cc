// Many threads on one BlockCache with a budget far smaller than the working set: every byte read
// must be the block's own, the accounting must match the blocks present, and nothing may hang.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "fs/cache/block_cache.h"
#include "tests/cache/block_test_util.h"
#include "tests/temp_dir.h"

namespace shardfs::cache {
namespace {

using util::Errc;

constexpr uint32_t kIds = 64;
size_t SizeOf(uint32_t n) { return 500 + (n * 397) % 4000; }

TEST(BlockCacheStressTest, ConcurrentOperationsKeepTheCacheConsistent) {
  testutil::TempDir dir;
  const std::string cache_dir = dir.Sub("cache");
  const uint64_t budget = 20 * 2500;
  auto opened = BlockCache::Open({.dir = cache_dir, .budget_bytes = budget});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  BlockCache& cache = **opened;

  std::atomic<int> errors{0};
  std::atomic<int> workers_left{4};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1000 + t);
      for (int i = 0; i < 400; ++i) {
        uint32_t n = rng() % kIds;
        switch (rng() % 6) {
          case 0:
          case 1: {
            auto s = cache.Put(Id(n), Block(n, SizeOf(n)), rng() % 4 == 0);
            if (!s.ok()) ++errors;
            break;
          }
          case 2:
          case 3: {
            auto got = cache.Get(Id(n));
            if (got.ok() ? *got != Block(n, SizeOf(n)) : got.code() != Errc::kNotFound) ++errors;
            break;
          }
          case 4:
            if (!cache.Remove(Id(n)).ok()) ++errors;
            break;
          default:
            if (!cache.MarkClean(Id(n)).ok()) ++errors;
            break;
        }
      }
      --workers_left;
    });
  }
  // The uploader: makes dirty blocks clean so that waiting Puts can go on.
  std::thread uploader([&] {
    while (workers_left.load() > 0) {
      auto dirty = cache.DirtyBlocks();
      if (!dirty.ok()) ++errors;
      for (const auto& id : dirty.ok() ? *dirty : std::vector<util::ObjectId>{})
        if (!cache.MarkClean(id).ok()) ++errors;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  // Never hang the test binary: give up after 60 s.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (workers_left.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (workers_left.load() > 0) {
    ADD_FAILURE() << "workers still running after 60 s";
    cache.Cancel();
  }
  for (auto& t : threads) t.join();
  uploader.join();
  EXPECT_EQ(errors.load(), 0);

  auto check = [&](BlockCache& c) {
    uint64_t used = 0, blocks = 0;
    for (uint32_t n = 0; n < kIds; ++n) {
      if (!c.Contains(Id(n))) continue;
      auto got = c.Get(Id(n));
      ASSERT_TRUE(got.ok()) << got.error().message;
      EXPECT_EQ(*got, Block(n, SizeOf(n)));
      used += SizeOf(n);
      ++blocks;
    }
    BlockCacheStats st = c.Stats();
    EXPECT_EQ(st.used_bytes, used);
    EXPECT_EQ(st.blocks, blocks);
    EXPECT_LE(st.used_bytes, budget);
  };
  check(cache);
  const BlockCacheStats before = cache.Stats();
  ASSERT_TRUE(cache.Sync().ok());
  opened->reset();

  auto reopened = BlockCache::Open({.dir = cache_dir, .budget_bytes = budget});
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  check(**reopened);
  EXPECT_EQ((*reopened)->Stats().blocks, before.blocks);
  EXPECT_EQ((*reopened)->Stats().dirty_bytes, before.dirty_bytes);
}

}  // namespace
}  // namespace shardfs::cache
