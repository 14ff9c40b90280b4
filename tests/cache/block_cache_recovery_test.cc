// BlockCache after a crash or outside damage, and on a full disk.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <random>
#include <thread>

#include "fs/cache/block_cache.h"
#include "fs/cache/kv_store.h"
#include "tests/cache/block_test_util.h"
#include "tests/temp_dir.h"

namespace shardfs::cache {
namespace {

using util::Errc;
using util::ObjectId;

constexpr size_t kSize = 1000;

void WriteText(const std::string& path, const std::string& text) {
  ASSERT_TRUE(util::MakeDirs(util::ParentDir(path), 0700).ok());
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

TEST(BlockCacheRecoveryTest, OpenDropsDamagedEntriesAndStrayFiles) {
  testutil::TempDir dir;
  const std::string cache_dir = dir.Sub("cache");
  {
    auto cache =
        BlockCache::Open({.dir = cache_dir, .budget_bytes = 1 << 20, .inline_max_bytes = 0});
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    for (uint32_t n : {1, 2, 3}) ASSERT_TRUE((*cache)->Put(Id(n), Block(n, kSize), n == 3).ok());
  }
  ASSERT_EQ(::unlink(BlockFileOf(cache_dir, Id(1)).c_str()), 0);               // file gone
  ASSERT_EQ(::truncate(BlockFileOf(cache_dir, Id(2)).c_str(), kSize - 1), 0);  // torn write
  const std::string orphan = BlockFileOf(cache_dir, Id(4));                    // never indexed
  const std::string temp = cache_dir + "/staging/17";                          // crashed Put
  const std::string foreign = BlockFileOf(cache_dir, Id(6)) + ".note";         // not ours
  WriteText(orphan, "orphan");
  WriteText(temp, "half a block");
  WriteText(foreign, "someone else's");

  auto cache = BlockCache::Open({.dir = cache_dir, .budget_bytes = 1 << 20, .inline_max_bytes = 0});
  ASSERT_TRUE(cache.ok()) << cache.error().message;
  EXPECT_FALSE((*cache)->Contains(Id(1)));
  EXPECT_FALSE((*cache)->Contains(Id(2)));
  EXPECT_FALSE((*cache)->Contains(Id(4)));
  auto three = (*cache)->Get(Id(3));
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(*three, Block(3, kSize));
  EXPECT_FALSE(util::PathExists(BlockFileOf(cache_dir, Id(2))));
  EXPECT_FALSE(util::PathExists(orphan));
  EXPECT_FALSE(util::PathExists(temp));
  EXPECT_TRUE(util::PathExists(foreign));
  BlockCacheStats st = (*cache)->Stats();
  EXPECT_EQ(st.blocks, 1u);
  EXPECT_EQ(st.used_bytes, kSize);
  EXPECT_EQ(st.dirty_blocks, 1u);
  auto dirty = (*cache)->DirtyBlocks();
  ASSERT_TRUE(dirty.ok());
  EXPECT_EQ(*dirty, std::vector<ObjectId>{Id(3)});
}

TEST(BlockCacheRecoveryTest, UnknownIndexFormatIsUnsupported) {
  testutil::TempDir dir;
  const std::string cache_dir = dir.Sub("cache");
  {
    auto cache =
        BlockCache::Open({.dir = cache_dir, .budget_bytes = 1 << 20, .inline_max_bytes = 0});
    ASSERT_TRUE(cache.ok());
  }
  {
    auto index = KvStore::Open({.dir = cache_dir + "/index", .tables = {"blocks", "meta"}});
    ASSERT_TRUE(index.ok());
    auto txn = (*index)->BeginWrite();
    ASSERT_TRUE(txn.ok());
    const uint8_t v99[4] = {99, 0, 0, 0};
    ASSERT_TRUE((*txn)->Put(1, util::AsBytes("format"), util::ByteSpan(v99, 4)).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto cache = BlockCache::Open({.dir = cache_dir, .budget_bytes = 1 << 20, .inline_max_bytes = 0});
  ASSERT_FALSE(cache.ok());
  EXPECT_EQ(cache.code(), Errc::kUnsupported);
}

// A cache written by format 1 (files only, no "small" table) opens, keeps its blocks and is
// marked format 2.
TEST(BlockCacheRecoveryTest, FormatOneIsUpgraded) {
  testutil::TempDir dir;
  const std::string cache_dir = dir.Sub("cache");
  {
    auto cache =
        BlockCache::Open({.dir = cache_dir, .budget_bytes = 1 << 20, .inline_max_bytes = 0});
    ASSERT_TRUE(cache.ok());
    ASSERT_TRUE((*cache)->Put(Id(1), Block(1, 3000), true).ok());
  }
  {
    auto index = KvStore::Open({.dir = cache_dir + "/index", .tables = {"blocks", "meta"}});
    ASSERT_TRUE(index.ok());
    auto txn = (*index)->BeginWrite();
    ASSERT_TRUE(txn.ok());
    const uint8_t v1[4] = {1, 0, 0, 0};
    ASSERT_TRUE((*txn)->Put(1, util::AsBytes("format"), util::ByteSpan(v1, 4)).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto cache = BlockCache::Open({.dir = cache_dir, .budget_bytes = 1 << 20});
  ASSERT_TRUE(cache.ok()) << cache.error().message;
  auto got = (*cache)->Get(Id(1));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, Block(1, 3000));
  ASSERT_TRUE((*cache)->Put(Id(2), Block(2, 100), false).ok());  // inline from now on
  EXPECT_EQ((*cache)->Get(Id(2)).value(), Block(2, 100));
}

// A process killed at random moments (SIGKILL: no destructors, no flush) leaves a cache that
// opens consistent: every block it holds reads back exactly, and the accounting matches.
TEST(BlockCacheRecoveryTest, KilledAtAnyMomentReopensConsistent) {
  testutil::TempDir dir;
  const std::string cache_dir = dir.Sub("cache");
  const uint64_t budget = 16 * 3000;
  auto size_of = [](uint32_t n) -> size_t { return 1000 + (n * 211) % 3000; };
  uint64_t seen = 0;
  for (int round = 0; round < 4; ++round) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto cache =
          BlockCache::Open({.dir = cache_dir, .budget_bytes = budget, .inline_max_bytes = 2500});
      if (!cache.ok()) ::_exit(1);
      std::mt19937 rng(round);
      while (true) {  // until killed
        uint32_t n = rng() % 48;
        switch (rng() % 5) {
          case 0:
          case 1:
            (void)(*cache)->Put(Id(n), Block(n, size_of(n)), rng() % 3 == 0);
            break;
          case 2:
            (void)(*cache)->Get(Id(n));
            break;
          case 3:
            (void)(*cache)->Remove(Id(n));
            break;
          default: {  // keeps the budget from filling with dirty blocks (Put would wait)
            auto dirty = (*cache)->DirtyBlocks();
            if (dirty.ok())
              for (const ObjectId& id : *dirty) (void)(*cache)->MarkClean(id);
            break;
          }
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 70 * round));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child stopped by itself: " << status;

    auto cache =
        BlockCache::Open({.dir = cache_dir, .budget_bytes = budget, .inline_max_bytes = 2500});
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    uint64_t used = 0, blocks = 0;
    for (uint32_t n = 0; n < 48; ++n) {
      if (!(*cache)->Contains(Id(n))) continue;
      auto got = (*cache)->Get(Id(n));
      ASSERT_TRUE(got.ok()) << "round " << round << " block " << n << ": " << got.error().message;
      EXPECT_EQ(*got, Block(n, size_of(n))) << "round " << round << " block " << n;
      used += size_of(n);
      ++blocks;
    }
    EXPECT_EQ((*cache)->Stats().used_bytes, used);
    EXPECT_EQ((*cache)->Stats().blocks, blocks);
    EXPECT_LE(used, budget);
    EXPECT_TRUE(std::filesystem::is_empty(cache_dir + "/staging"));
    seen += blocks;
  }
  EXPECT_GT(seen, 0u) << "the child never got to store anything";
}

// A 1 MiB tmpfs stands in for a full disk. Mounting needs root (CAP_SYS_ADMIN).
class BlockCacheDiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
    mnt_ = dir_.Sub("mnt");
    ASSERT_EQ(::mkdir(mnt_.c_str(), 0700), 0);
    if (::mount("tmpfs", mnt_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    cache_.reset();  // closes the index before unmounting
    if (mounted_ && ::umount2(mnt_.c_str(), 0) != 0) {
      ADD_FAILURE() << "umount " << mnt_ << ": " << std::strerror(errno);
      ::umount2(mnt_.c_str(), MNT_DETACH);
    }
  }

  testutil::TempDir dir_;
  std::string mnt_;
  bool mounted_ = false;
  std::unique_ptr<BlockCache> cache_;
};

// The disk is full of dirty blocks: a Put waits for an upload (MarkClean), as when the budget
// is, instead of failing, then evicts the uploaded block and goes in. (It failed with kNoSpace,
// and the core lost the block's data.)
TEST_F(BlockCacheDiskFullTest, DirtyBlocksWaitForUploadsWhenTheDiskIsFull) {
  const std::string cache_dir = mnt_ + "/cache";
  auto opened =
      BlockCache::Open({.dir = cache_dir, .budget_bytes = 64 << 20, .inline_max_bytes = 0});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  cache_ = std::move(opened).value();
  EXPECT_LT(cache_->Stats().capacity_bytes, 1u << 20) << "the disk holds less than the budget";

  constexpr size_t kBig = 200 * 1024;
  uint32_t stored = 0;
  std::optional<std::future<util::Status>> waiting;
  for (uint32_t n = 1; n <= 10 && !waiting; ++n) {
    auto put = std::async(std::launch::async,
                          [this, n] { return cache_->Put(Id(n), Block(n, kBig), true); });
    if (put.wait_for(std::chrono::seconds(2)) == std::future_status::ready) {
      ASSERT_TRUE(put.get().ok()) << "block " << n;
      ++stored;
    } else {
      waiting = std::move(put);
    }
  }
  ASSERT_TRUE(waiting) << "10 blocks of 200 KiB fit in a 1 MiB tmpfs?";
  ASSERT_GE(stored, 2u);
  EXPECT_EQ(cache_->Stats().space_waiters, 1u);
  EXPECT_EQ(waiting->wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "a dirty block went in with the disk full of dirty blocks";
  ASSERT_TRUE(cache_->MarkClean(Id(1)).ok());  // uploaded: may be evicted now
  ASSERT_EQ(waiting->wait_for(std::chrono::seconds(10)), std::future_status::ready);
  util::Status put = waiting->get();
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_FALSE(cache_->Contains(Id(1)));
  for (uint32_t n = 2; n <= stored + 1; ++n) {
    auto got = cache_->Get(Id(n));
    ASSERT_TRUE(got.ok()) << "block " << n << ": " << got.error().message;
    EXPECT_EQ(*got, Block(n, kBig));
  }
  EXPECT_TRUE(cache_->Sync().ok());
}

// The disk is full of what others wrote and the cache holds nothing it could drop: only then is
// a block refused, with kNoSpace naming the disk, and nothing half-written is left behind.
TEST_F(BlockCacheDiskFullTest, NothingToFreeIsNoSpaceAndChangesNothing) {
  const std::string cache_dir = mnt_ + "/cache";
  auto opened =
      BlockCache::Open({.dir = cache_dir, .budget_bytes = 64 << 20, .inline_max_bytes = 0});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  cache_ = std::move(opened).value();
  constexpr size_t kBig = 200 * 1024;
  ASSERT_TRUE(cache_->Put(Id(1), Block(1, kBig), true).ok());
  ASSERT_TRUE(cache_->MarkClean(Id(1)).ok());
  {
    std::ofstream filler(mnt_ + "/filler", std::ios::binary);  // until the disk is full
    const std::string chunk(4096, 'f');
    while (filler.write(chunk.data(), chunk.size())) {
    }
  }
  util::Status refused = cache_->Put(Id(2), Block(2, kBig), true);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), Errc::kNoSpace);
  EXPECT_NE(refused.error().message.find("holds nothing it could drop"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(cache_->Contains(Id(1))) << "the clean block was not evicted to make room";
  EXPECT_FALSE(cache_->Contains(Id(2)));
  EXPECT_FALSE(util::PathExists(BlockFileOf(cache_dir, Id(2))));
  EXPECT_TRUE(std::filesystem::is_empty(cache_dir + "/staging"));  // no half-written file
  // Room again: it goes in, and survives a reopen.
  ASSERT_EQ(::unlink((mnt_ + "/filler").c_str()), 0);
  ASSERT_TRUE(cache_->Put(Id(2), Block(2, kBig), true).ok());
  ASSERT_TRUE(cache_->Sync().ok());
  cache_.reset();
  opened = BlockCache::Open({.dir = cache_dir, .budget_bytes = 64 << 20, .inline_max_bytes = 0});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  cache_ = std::move(opened).value();
  auto got = cache_->Get(Id(2));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, Block(2, kBig));
}

}  // namespace
}  // namespace shardfs::cache
