// CoreFs, in process: namespace operations, data across block boundaries, holes, remounts, the
// store as the only copy, files deleted while open, store outages and the privacy promise.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/core/core_fs_harness.h"

namespace shardfs::core {
namespace {

using util::Errc;

util::Bytes Pattern(size_t n, uint8_t seed) {
  util::Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 131 + (i >> 9));
  return b;
}

class CoreFsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h_.Mount().ok()); }

  uint64_t CreateFile(uint64_t parent, const std::string& name, uint64_t* fh) {
    auto c = h_.fs().Create(parent, name, 0644, O_RDWR | O_CREAT, RootCaller());
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    *fh = c->fh;
    return c->attr.ino;
  }
  util::Bytes ReadAll(uint64_t ino) {
    auto fh = h_.fs().Open(ino, O_RDONLY);
    EXPECT_TRUE(fh.ok());
    auto attr = h_.fs().GetAttr(ino);
    util::Bytes out(attr->size);
    auto n = h_.fs().Read(ino, *fh, 0, out);
    EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.error().message);
    out.resize(n.ok() ? *n : 0);
    EXPECT_TRUE(h_.fs().Release(ino, *fh).ok());
    return out;
  }
  std::vector<std::string> List(uint64_t dir) {
    auto fh = h_.fs().OpenDir(dir);
    std::vector<std::string> names;
    EXPECT_TRUE(h_.fs()
                    .ReadDir(dir, *fh, 0, false,
                             [&](const DirEntry& e) {
                               names.push_back(e.name);
                               return true;
                             })
                    .ok());
    (void)h_.fs().ReleaseDir(dir, *fh);
    return names;
  }

  CoreFsHarness h_;
};

TEST_F(CoreFsTest, WriteReadAcrossBlocksAndRemount) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "f", &fh);
  util::Bytes data = Pattern(3 * 4096 + 123, 1);
  ASSERT_EQ(*h_.fs().Write(ino, fh, 0, data), data.size());
  util::Bytes mid = Pattern(5000, 9);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 3000, mid).ok());
  std::copy(mid.begin(), mid.end(), data.begin() + 3000);
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  EXPECT_EQ(ReadAll(ino), data);
  h_.Remount();
  auto found = h_.fs().Lookup(kRootIno, "f");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->ino, ino);
  EXPECT_EQ(ReadAll(ino), data);
  // Everything reached the store: with the local cache gone, the store alone serves it.
  h_.Unmount();
  h_.WipeCache();
  ASSERT_TRUE(h_.Mount().ok());
  EXPECT_EQ(ReadAll(ino), data);
}

TEST_F(CoreFsTest, HolesCostNothing) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "sparse", &fh);
  SetAttr grow;
  grow.size = uint64_t{1} << 50;  // 1 PiB
  auto t0 = std::chrono::steady_clock::now();
  auto attr = h_.fs().SetAttributes(ino, grow, RootCaller());
  ASSERT_TRUE(attr.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(attr->size, uint64_t{1} << 50);
  EXPECT_EQ(attr->blocks, 0u);
  util::Bytes buf(10000, 0xff);
  ASSERT_EQ(*h_.fs().Read(ino, fh, (uint64_t{1} << 49) + 77, buf), buf.size());
  EXPECT_EQ(buf, util::Bytes(10000, 0));
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  ASSERT_TRUE(h_.fs().WaitForUploads().ok());
  EXPECT_EQ(h_.store().List("")->size(), 0u);
}

TEST_F(CoreFsTest, TruncateZeroesTheTailForLaterGrowth) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "t", &fh);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 0, Pattern(10000, 3)).ok());
  ASSERT_TRUE(h_.fs().Fsync(ino, fh, /*datasync=*/true).ok());  // sealed, then cut
  SetAttr shrink;
  shrink.size = 5000;
  ASSERT_TRUE(h_.fs().SetAttributes(ino, shrink, RootCaller()).ok());
  SetAttr grow;
  grow.size = 9000;
  ASSERT_TRUE(h_.fs().SetAttributes(ino, grow, RootCaller()).ok());
  util::Bytes expect = Pattern(10000, 3);
  expect.resize(5000);
  expect.resize(9000, 0);
  EXPECT_EQ(ReadAll(ino), expect);
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  h_.Remount();
  EXPECT_EQ(ReadAll(ino), expect);
}

TEST_F(CoreFsTest, PunchHoleAndFallocate) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "p", &fh);
  util::Bytes data = Pattern(5 * 4096, 4);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 0, data).ok());
  ASSERT_TRUE(h_.fs().Fallocate(ino, fh, kFallocPunchHole | kFallocKeepSize, 1000, 9000).ok());
  std::fill(data.begin() + 1000, data.begin() + 10000, 0);
  EXPECT_EQ(ReadAll(ino), data);
  EXPECT_EQ(h_.fs().Fallocate(ino, fh, kFallocPunchHole, 0, 10).code(), Errc::kUnsupported);
  ASSERT_TRUE(h_.fs().Fallocate(ino, fh, 0, 0, 100000).ok());
  EXPECT_EQ(h_.fs().GetAttr(ino)->size, 100000u);
  ASSERT_TRUE(h_.fs().Fallocate(ino, fh, kFallocKeepSize, 0, 200000).ok());
  EXPECT_EQ(h_.fs().GetAttr(ino)->size, 100000u);
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
}

// File handles: the kernel opens a handle of an inode it forgot by looking up "." in it, for
// files as for directories, after a remount too; a deleted inode is gone.
TEST_F(CoreFsTest, LookupOfDotAnswersForAnyLiveInode) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "f", &fh);
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  auto self = h_.fs().Lookup(ino, ".");
  ASSERT_TRUE(self.ok()) << self.error().message;
  EXPECT_EQ(self->ino, ino);
  EXPECT_TRUE(S_ISREG(self->mode));
  h_.fs().Forget(ino, 2);  // the create's reference and this one
  h_.Remount();
  self = h_.fs().Lookup(ino, ".");
  ASSERT_TRUE(self.ok()) << self.error().message;
  EXPECT_EQ(self->ino, ino);
  h_.fs().Forget(ino, 1);
  ASSERT_TRUE(h_.fs().Unlink(kRootIno, "f").ok());
  EXPECT_EQ(h_.fs().Lookup(ino, ".").code(), Errc::kNotFound);
}

// fallocate makes blocks for the range at once: st_blocks counts them, and writing into them,
// sealing them or remounting adds nothing.
TEST_F(CoreFsTest, AllocatedBytesCountOnceInStBlocks) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "f", &fh);
  ASSERT_TRUE(h_.fs().Fallocate(ino, fh, 0, 4095, 2).ok());  // across a block boundary
  auto attr = h_.fs().GetAttr(ino);
  EXPECT_EQ(attr->size, 4097u);
  const uint64_t allocated = attr->blocks;
  EXPECT_EQ(allocated, (4097u + 511) / 512);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 4095, util::AsBytes("ab")).ok());
  EXPECT_EQ(h_.fs().GetAttr(ino)->blocks, allocated);
  ASSERT_TRUE(h_.fs().Fsync(ino, fh, false).ok());
  EXPECT_EQ(h_.fs().GetAttr(ino)->blocks, allocated);
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  h_.Remount();
  EXPECT_EQ(h_.fs().GetAttr(ino)->blocks, allocated);
  util::Bytes want(4097, 0);
  want[4095] = 'a';
  want[4096] = 'b';
  EXPECT_EQ(ReadAll(ino), want);
}

TEST(CoreFsQuotaTest, FallocateBeyondTheQuotaIsNoSpaceAndAllocatesNothing) {
  CoreFsHarness h;
  h.quota = 64 << 10;
  ASSERT_TRUE(h.Mount().ok());
  auto c = h.fs().Create(kRootIno, "f", 0644, O_RDWR | O_CREAT, RootCaller());
  ASSERT_TRUE(c.ok());
  for (uint64_t length : {uint64_t{1} << 50, uint64_t{65} << 10}) {
    util::Status s = h.fs().Fallocate(c->attr.ino, c->fh, 0, 0, length);
    EXPECT_EQ(s.code(), Errc::kNoSpace) << length;
  }
  EXPECT_EQ(h.fs().GetAttr(c->attr.ino)->size, 0u);
  EXPECT_EQ(h.fs().GetAttr(c->attr.ino)->blocks, 0u);
  ASSERT_TRUE(h.fs().Fallocate(c->attr.ino, c->fh, 0, 0, 16 << 10).ok());
  EXPECT_EQ(h.fs().GetAttr(c->attr.ino)->blocks, 32u);
  ASSERT_TRUE(h.fs().Release(c->attr.ino, c->fh).ok());
}

TEST_F(CoreFsTest, ReadOnlyRefusesChangesWhileReadsGoOn) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "f", &fh);
  const util::Bytes data = Pattern(10000, 5);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 0, data).ok());  // the last block stays in memory
  const uint64_t sealed = h_.fs().GetStatus().sealed_blocks;
  ASSERT_TRUE(h_.fs().SetReadOnly(true).ok());
  EXPECT_TRUE(h_.fs().GetStatus().read_only);
  EXPECT_GT(h_.fs().GetStatus().sealed_blocks, sealed) << "going read-only seals what was written";
  EXPECT_EQ(h_.fs().Write(ino, fh, 0, data).code(), Errc::kReadOnly);
  EXPECT_EQ(h_.fs().Mkdir(kRootIno, "d", 0755, RootCaller()).code(), Errc::kReadOnly);
  EXPECT_EQ(h_.fs().Unlink(kRootIno, "f").code(), Errc::kReadOnly);
  EXPECT_EQ(h_.fs().Fallocate(ino, fh, 0, 0, 100000).code(), Errc::kReadOnly);
  EXPECT_EQ(ReadAll(ino), data);
  ASSERT_TRUE(h_.fs().SetReadOnly(false).ok());
  EXPECT_FALSE(h_.fs().GetStatus().read_only);
  EXPECT_TRUE(h_.fs().Write(ino, fh, 10000, data).ok());
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
}

TEST_F(CoreFsTest, DirectoriesAndRename) {
  auto a = h_.fs().Mkdir(kRootIno, "a", 0755, RootCaller());
  auto b = h_.fs().Mkdir(kRootIno, "b", 0755, RootCaller());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(h_.fs().GetAttr(kRootIno)->nlink, 4u);
  uint64_t fh;
  uint64_t f = CreateFile(a->ino, "f", &fh);
  ASSERT_TRUE(h_.fs().Release(f, fh).ok());
  EXPECT_EQ(h_.fs().Rmdir(kRootIno, "a").code(), Errc::kNotEmpty);
  EXPECT_EQ(h_.fs().Mkdir(kRootIno, "a", 0755, RootCaller()).code(), Errc::kExists);
  EXPECT_EQ(h_.fs().Rename(kRootIno, "a", a->ino, "x", 0).code(), Errc::kInvalidOp);
  ASSERT_TRUE(h_.fs().Rename(a->ino, "f", b->ino, "g", 0).ok());
  EXPECT_EQ(h_.fs().Lookup(a->ino, "f").code(), Errc::kNotFound);
  EXPECT_EQ(h_.fs().Lookup(b->ino, "g")->ino, f);
  ASSERT_TRUE(h_.fs().Rename(kRootIno, "a", b->ino, "a2", 0).ok());
  EXPECT_EQ(h_.fs().GetAttr(kRootIno)->nlink, 3u);
  EXPECT_EQ(h_.fs().GetAttr(b->ino)->nlink, 3u);
  EXPECT_EQ(h_.fs().Rename(b->ino, "g", b->ino, "a2", 0).code(), Errc::kIsDir);
  EXPECT_EQ(h_.fs().Rename(b->ino, "a2", b->ino, "g", 0).code(), Errc::kNotDir);
  EXPECT_EQ(h_.fs().Rename(b->ino, "g", b->ino, "a2", kRenameNoReplace).code(), Errc::kExists);
  ASSERT_TRUE(h_.fs().Rename(b->ino, "g", b->ino, "a2", kRenameExchange).ok());
  EXPECT_EQ(h_.fs().Lookup(b->ino, "a2")->ino, f);
  EXPECT_EQ(h_.fs().Lookup(b->ino, "g")->ino, a->ino);
  auto names = List(b->ino);
  EXPECT_EQ(std::multiset<std::string>(names.begin(), names.end()),
            (std::multiset<std::string>{".", "..", "a2", "g"}));
  h_.Remount();
  EXPECT_EQ(h_.fs().Lookup(b->ino, "a2")->ino, f);
  EXPECT_EQ(h_.fs().GetAttr(b->ino)->nlink, 3u);
  EXPECT_EQ(h_.fs().Lookup(b->ino, "..")->ino, kRootIno);
  EXPECT_EQ(h_.fs().Lookup(b->ino, ".")->ino, b->ino);
  EXPECT_EQ(h_.fs().Lookup(kRootIno, "..")->ino, kRootIno);
  std::string long_name(256, 'x');
  EXPECT_EQ(h_.fs().Mkdir(kRootIno, long_name, 0755, RootCaller()).code(), Errc::kNameTooLong);
}

TEST_F(CoreFsTest, ReaddirStableWhileChanging) {
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(
        h_.fs().Mknod(kRootIno, "f" + std::to_string(i), S_IFREG | 0644, 0, RootCaller()).ok());
  }
  auto fh = h_.fs().OpenDir(kRootIno);
  std::multiset<std::string> seen;
  uint64_t offset = 0;
  int round = 0;
  while (true) {
    int got = 0;
    ASSERT_TRUE(h_.fs()
                    .ReadDir(kRootIno, *fh, offset, false,
                             [&](const DirEntry& e) {
                               if (got == 7) return false;  // a small reply buffer
                               seen.insert(e.name);
                               offset = e.offset;
                               ++got;
                               return true;
                             })
                    .ok());
    if (got == 0) break;
    // Churn between calls: add and remove entries that are not part of the stable set.
    std::string tmp = "tmp" + std::to_string(round++);
    ASSERT_TRUE(h_.fs().Mknod(kRootIno, tmp, S_IFREG | 0644, 0, RootCaller()).ok());
    if (round > 1) {
      ASSERT_TRUE(h_.fs().Unlink(kRootIno, "tmp" + std::to_string(round - 2)).ok());
    }
  }
  for (int i = 0; i < 300; ++i) EXPECT_EQ(seen.count("f" + std::to_string(i)), 1u) << i;
}

TEST_F(CoreFsTest, HardLinksAndUnlinkWhileOpen) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "f", &fh);
  util::Bytes data = Pattern(20000, 5);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 0, data).ok());
  ASSERT_TRUE(h_.fs().Link(ino, kRootIno, "g").ok());
  EXPECT_EQ(h_.fs().GetAttr(ino)->nlink, 2u);
  ASSERT_TRUE(h_.fs().Unlink(kRootIno, "f").ok());
  ASSERT_TRUE(h_.fs().Unlink(kRootIno, "g").ok());
  EXPECT_EQ(h_.fs().GetAttr(ino)->nlink, 0u);
  util::Bytes back(data.size());
  ASSERT_EQ(*h_.fs().Read(ino, fh, 0, back), data.size());
  EXPECT_EQ(back, data);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 0, Pattern(10, 6)).ok());
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  h_.fs().Forget(ino, 3);  // create + link returned entries
  EXPECT_EQ(h_.fs().GetAttr(ino).code(), Errc::kNotFound);
  ASSERT_TRUE(h_.fs().WaitForUploads().ok());
  // Its blocks are collected from the store.
  for (int i = 0; i < 50 && !h_.store().List("")->empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(h_.store().List("")->size(), 0u);
}

TEST_F(CoreFsTest, OrphanLeftByACrashIsReclaimedAtMount) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "f", &fh);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 0, Pattern(9000, 7)).ok());
  ASSERT_TRUE(h_.fs().Unlink(kRootIno, "f").ok());
  h_.Remount();  // the handle was never released
  EXPECT_EQ(h_.fs().GetAttr(ino).code(), Errc::kNotFound);
}

// Closing a file does not seal it on the spot: the closer seals files closed about the same
// time together, one cache index commit and one metadata commit per group. Every file then
// reads back, from the cache and from the store alone.
TEST_F(CoreFsTest, SmallFilesClosedTogetherAreSealedInGroups) {
  constexpr int kFiles = 100;  // of 2000 bytes: less than a block, so not sealed by the write
  std::vector<uint64_t> inos;
  for (int i = 0; i < kFiles; ++i) {
    uint64_t fh;
    uint64_t ino = CreateFile(kRootIno, "f" + std::to_string(i), &fh);
    ASSERT_TRUE(h_.fs().Write(ino, fh, 0, Pattern(2000, static_cast<uint8_t>(i))).ok());
    ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
    inos.push_back(ino);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (h_.fs().GetStatus().sealed_blocks < kFiles &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  DriveStatus st = h_.fs().GetStatus();
  EXPECT_EQ(st.sealed_blocks, uint64_t{kFiles});
  EXPECT_GE(st.seal_commits, 1u);
  EXPECT_LE(st.seal_commits, uint64_t{kFiles / 4}) << "closed files were sealed one by one";
  for (int i = 0; i < kFiles; ++i) {
    EXPECT_EQ(ReadAll(inos[static_cast<size_t>(i)]), Pattern(2000, static_cast<uint8_t>(i)));
  }
  h_.Unmount();
  h_.WipeCache();
  ASSERT_TRUE(h_.Mount().ok());
  for (int i = 0; i < kFiles; i += 37) {
    EXPECT_EQ(ReadAll(inos[static_cast<size_t>(i)]), Pattern(2000, static_cast<uint8_t>(i)));
  }
}

// A cache of a few blocks: files closed together are still sealed, in groups that fit it (a
// group bigger than the whole cache waited for room only its own blocks held).
TEST(CoreFsSmallCacheTest, ClosedFilesSealInGroupsThatFitTheCache) {
  CoreFsHarness h(/*block_size=*/4096, /*cache_size=*/16 * 1024);
  ASSERT_TRUE(h.Mount().ok());
  constexpr int kFiles = 40;
  std::vector<uint64_t> inos;
  for (int i = 0; i < kFiles; ++i) {
    auto c = h.fs().Create(kRootIno, "f" + std::to_string(i), 0644, O_RDWR | O_CREAT, RootCaller());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(h.fs().Write(c->attr.ino, c->fh, 0, Pattern(2000, static_cast<uint8_t>(i))).ok());
    ASSERT_TRUE(h.fs().Release(c->attr.ino, c->fh).ok());
    inos.push_back(c->attr.ino);
  }
  auto done = std::async(std::launch::async, [&] { return h.fs().SealAll(); });
  ASSERT_EQ(done.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "sealing the closed files never finished";
  ASSERT_TRUE(done.get().ok());
  EXPECT_EQ(h.fs().GetStatus().sealed_blocks, uint64_t{kFiles});
  ASSERT_TRUE(h.fs().WaitForUploads().ok());
  h.Unmount();
  h.WipeCache();
  ASSERT_TRUE(h.Mount().ok());
  for (int i = 0; i < kFiles; i += 7) {
    auto fh = h.fs().Open(inos[static_cast<size_t>(i)], O_RDONLY);
    ASSERT_TRUE(fh.ok());
    util::Bytes out(2000);
    auto n = h.fs().Read(inos[static_cast<size_t>(i)], *fh, 0, out);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(out, Pattern(2000, static_cast<uint8_t>(i)));
    ASSERT_TRUE(h.fs().Release(inos[static_cast<size_t>(i)], *fh).ok());
  }
}

// Write-back: the blocks of a burst of small files wait for a pause in the writes (each costs
// the store an object whatever its size), even past the 64 MiB after which a stream of whole
// blocks is uploaded while it is written (so that its uploads overlap it).
TEST(CoreFsWriteBackTest, SmallFilesWaitForAPauseStreamsUploadAsTheyGo) {
  constexpr uint64_t kBlock = 1 << 20;
  CoreFsHarness h(kBlock, /*cache_size=*/uint64_t{512} << 20);
  ASSERT_TRUE(h.Mount().ok());
  constexpr int kFiles = 80;  // of 900 KiB: 70 MiB
  for (int i = 0; i < kFiles; ++i) {
    auto c = h.fs().Create(kRootIno, "f" + std::to_string(i), 0644, O_RDWR | O_CREAT, RootCaller());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(
        h.fs().Write(c->attr.ino, c->fh, 0, Pattern(900 << 10, static_cast<uint8_t>(i))).ok());
    ASSERT_TRUE(h.fs().Release(c->attr.ino, c->fh).ok());
  }
  // The closer seals them within milliseconds; the uploads wait for a second of quiet.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (h.fs().GetStatus().sealed_blocks < uint64_t{kFiles} &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(h.fs().GetStatus().sealed_blocks, uint64_t{kFiles});
  EXPECT_EQ(h.store().counts().puts, 0u) << "uploads ran during a burst of small files";
  ASSERT_TRUE(h.fs().WaitForUploads().ok());
  EXPECT_EQ(h.store().counts().puts, uint64_t{kFiles});

  uint64_t fh;
  auto c = h.fs().Create(kRootIno, "stream", 0644, O_RDWR | O_CREAT, RootCaller());
  ASSERT_TRUE(c.ok());
  fh = c->fh;
  constexpr uint64_t kStreamBlocks = 160;
  uint64_t uploaded_after = 0;  // blocks written when the first of the stream was uploaded
  for (uint64_t b = 0; b < kStreamBlocks; ++b) {
    ASSERT_TRUE(
        h.fs().Write(c->attr.ino, fh, b * kBlock, Pattern(kBlock, static_cast<uint8_t>(b))).ok());
    if (uploaded_after == 0 && h.store().counts().puts > uint64_t{kFiles}) uploaded_after = b + 1;
  }
  EXPECT_GT(uploaded_after, 0u) << "nothing was uploaded while 160 MiB of whole blocks streamed";
  ASSERT_TRUE(h.fs().Release(c->attr.ino, fh).ok());
  ASSERT_TRUE(h.fs().WaitForUploads().ok());
  h.Unmount();
  h.WipeCache();
  ASSERT_TRUE(h.Mount().ok());
  auto back = h.fs().Open(c->attr.ino, O_RDONLY);
  ASSERT_TRUE(back.ok());
  util::Bytes block(kBlock);
  ASSERT_TRUE(h.fs().Read(c->attr.ino, *back, 100 * kBlock, block).ok());
  EXPECT_EQ(block, Pattern(kBlock, 100));
}

// Blocks waiting for upload go to the store before garbage is deleted from it: a new file
// written after a large one was deleted is stored first, then the old blocks go.
// A dir: store on the cache's file system keeps the cache's block files themselves (hard
// links): the bytes are written to the disk once. The cache, evicting and removing blocks,
// never writes into a file the store holds.
TEST(CoreFsDirStoreTest, StoreKeepsTheCacheFilesAndTheCacheNeverRewritesThem) {
  constexpr uint64_t kBlock = 128 << 10;
  CoreFsHarness h(kBlock, /*cache_size=*/6 * kBlock, /*memory_budget=*/4 * kBlock);
  h.dir_store = h.dir() + "/store";
  ASSERT_TRUE(h.Mount().ok());
  auto c = h.fs().Create(kRootIno, "big", 0644, O_RDWR | O_CREAT, RootCaller());
  ASSERT_TRUE(c.ok());
  const util::Bytes first = Pattern(4 * kBlock, 3);
  ASSERT_TRUE(h.fs().Write(c->attr.ino, c->fh, 0, first).ok());
  ASSERT_TRUE(h.fs().Fsync(c->attr.ino, c->fh, false).ok());
  ASSERT_TRUE(h.fs().WaitForUploads().ok());
  auto linked_objects = [&] {
    size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(h.dir_store)) {
      if (e.is_regular_file() && e.hard_link_count() == 2) ++n;
    }
    return n;
  };
  EXPECT_EQ(linked_objects(), 4u);  // each block's one file, in the cache and in the store
  // Overwrite every block (the old ones become garbage and leave the cache) and add more than
  // the cache holds (uploaded blocks are evicted): the files freed are not reused as spares.
  const util::Bytes second = Pattern(16 * kBlock, 7);
  ASSERT_TRUE(h.fs().Write(c->attr.ino, c->fh, 0, second).ok());
  ASSERT_TRUE(h.fs().Release(c->attr.ino, c->fh).ok());
  ASSERT_TRUE(h.fs().WaitForUploads().ok());
  EXPECT_LE(h.fs().GetStatus().cache_used_bytes, 6 * kBlock);  // so blocks were evicted
  h.Unmount();
  h.WipeCache();
  ASSERT_TRUE(h.Mount().ok());
  auto fh = h.fs().Open(c->attr.ino, O_RDONLY);
  ASSERT_TRUE(fh.ok());
  util::Bytes out(second.size());
  auto n = h.fs().Read(c->attr.ino, *fh, 0, out);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, second.size());
  EXPECT_TRUE(out == second) << "a block in the store was overwritten";
  ASSERT_TRUE(h.fs().Release(c->attr.ino, *fh).ok());
}

TEST_F(CoreFsTest, UploadsGoBeforeGarbageIsDeleted) {
  constexpr size_t kBlocks = 16;
  const size_t size = kBlocks * h_.block_size();
  uint64_t fh_a, fh_b;
  uint64_t a = CreateFile(kRootIno, "a", &fh_a);
  ASSERT_TRUE(h_.fs().Write(a, fh_a, 0, Pattern(size, 1)).ok());
  ASSERT_TRUE(h_.fs().Release(a, fh_a).ok());
  ASSERT_TRUE(h_.fs().WaitForUploads().ok());
  h_.faults().SetLatency(std::chrono::milliseconds(5));
  uint64_t b = CreateFile(kRootIno, "b", &fh_b);
  ASSERT_TRUE(h_.fs().Write(b, fh_b, 0, Pattern(size, 2)).ok());
  ASSERT_TRUE(h_.fs().Fsync(b, fh_b, false).ok());
  ASSERT_TRUE(h_.fs().Unlink(kRootIno, "a").ok());
  h_.fs().Forget(a, 1);  // the kernel's reference from the create: now a's blocks are garbage
  DriveStatus st = h_.fs().GetStatus();
  ASSERT_GT(st.pending_blocks, 0u);
  ASSERT_EQ(st.pending_deletes, kBlocks);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    st = h_.fs().GetStatus();
    if (st.pending_blocks > 0) {
      ASSERT_EQ(st.pending_deletes, kBlocks)
          << "garbage deleted while " << st.pending_blocks << " blocks waited for upload";
    } else if (st.pending_deletes == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(st.pending_blocks, 0u);
  EXPECT_EQ(st.pending_deletes, 0u);
  ASSERT_TRUE(h_.fs().Release(b, fh_b).ok());
  EXPECT_EQ(ReadAll(b), Pattern(size, 2));
}

TEST_F(CoreFsTest, WritesSurviveAStoreOutage) {
  h_.faults().Drop();
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "f", &fh);
  util::Bytes data = Pattern(40000, 8);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 0, data).ok());
  ASSERT_TRUE(h_.fs().Fsync(ino, fh, false).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GT(h_.fs().PendingUploads(), 0u);
  EXPECT_EQ(ReadAll(ino), data);
  h_.faults().Restore();
  ASSERT_TRUE(h_.fs().WaitForUploads().ok());
  EXPECT_EQ(h_.fs().PendingUploads(), 0u);
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  h_.Unmount();
  h_.WipeCache();
  ASSERT_TRUE(h_.Mount().ok());
  EXPECT_EQ(ReadAll(ino), data);
}

// LMDB reuses the pages a commit frees only once no read transaction older than that commit is
// open. The uploader threads, idle with nothing to upload, held theirs while they waited (a
// second at a time), so every commit meanwhile took new pages: deleting 10,000 files grew the
// metadata file from 63 MB to 193 MB.
TEST_F(CoreFsTest, IdleUploadersLetTheMetadataReuseItsPages) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the uploaders find nothing
  const std::string file = h_.dir() + "/cache/meta/data.mdb";
  const auto before = std::filesystem::file_size(file);
  for (int i = 0; i < 1500; ++i) {
    ASSERT_TRUE(h_.fs().Mkdir(kRootIno, "d", 0755, RootCaller()).ok());
    ASSERT_TRUE(h_.fs().Rmdir(kRootIno, "d").ok());
  }
  // 3,000 commits of a few pages each: ~40 MiB of new pages if none were reused.
  EXPECT_LT(std::filesystem::file_size(file), before + (uint64_t{1} << 20))
      << "grew from " << before;
}

// A write into part of a stored block is kept as a patch: it needs no read of the block (here
// the block is neither cached nor reachable), and the block is read once, when the patches are
// sealed over it or a reader needs it. A seal that cannot read it fails and keeps the patches.
TEST_F(CoreFsTest, SmallWritesIntoStoredBlocksAreNotReadFirst) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "f", &fh);
  util::Bytes data = Pattern(3 * 4096, 3);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 0, data).ok());
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  ASSERT_TRUE(h_.fs().WaitForUploads().ok());
  h_.Unmount();
  h_.WipeCache();
  ASSERT_TRUE(h_.Mount().ok());
  h_.faults().Drop();
  fh = *h_.fs().Open(ino, O_RDWR);
  // Scattered small writes, some overlapping, one across two blocks.
  const std::vector<std::pair<uint64_t, size_t>> writes = {
      {100, 50}, {130, 40}, {4000, 200}, {9000, 1}, {5000, 300}, {4999, 2}, {0, 10}};
  uint8_t seed = 50;
  for (const auto& [off, len] : writes) {
    util::Bytes patch = Pattern(len, seed++);
    ASSERT_TRUE(h_.fs().Write(ino, fh, off, patch).ok()) << off;
    std::copy(patch.begin(), patch.end(), data.begin() + static_cast<ptrdiff_t>(off));
  }
  // The store is down and nothing is cached: sealing the patches needs the blocks.
  EXPECT_FALSE(h_.fs().Fsync(ino, fh, false).ok());
  h_.faults().Restore();
  ASSERT_TRUE(h_.fs().Fsync(ino, fh, false).ok());
  EXPECT_EQ(ReadAll(ino), data);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 4090, Pattern(20, 99)).ok());  // patched again, then read
  util::Bytes twenty = Pattern(20, 99);
  std::copy(twenty.begin(), twenty.end(), data.begin() + 4090);
  h_.Unmount();
  h_.WipeCache();
  ASSERT_TRUE(h_.Mount().ok());
  EXPECT_EQ(ReadAll(ino), data);
  // A write that covers a block whole after patches needs no read either.
  h_.faults().Drop();
  fh = *h_.fs().Open(ino, O_RDWR);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 4096, Pattern(10, 7)).ok());
  util::Bytes whole = Pattern(4096, 8);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 4096, whole).ok());
  std::copy(whole.begin(), whole.end(), data.begin() + 4096);
  ASSERT_TRUE(h_.fs().Fsync(ino, fh, false).ok());
  h_.faults().Restore();
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  EXPECT_EQ(ReadAll(ino), data);
}

TEST_F(CoreFsTest, CorruptStoreObjectIsAnErrorNotWrongData) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "f", &fh);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 0, Pattern(4096, 9)).ok());
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  h_.Unmount();
  h_.WipeCache();
  ASSERT_TRUE(h_.Mount().ok());
  h_.faults().SetCorruptReads(true);
  auto rfh = h_.fs().Open(ino, O_RDONLY);
  util::Bytes buf(4096);
  auto r = h_.fs().Read(ino, *rfh, 0, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::kCorrupt);
  h_.faults().SetCorruptReads(false);
  EXPECT_EQ(*h_.fs().Read(ino, *rfh, 0, buf), 4096u);
  EXPECT_EQ(buf, Pattern(4096, 9));
}

TEST_F(CoreFsTest, XattrsAndSymlinks) {
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "f", &fh);
  util::Bytes v = Pattern(65536, 1);
  ASSERT_TRUE(h_.fs().SetXattr(ino, "user.big", v, 0).ok());
  EXPECT_EQ(*h_.fs().GetXattr(ino, "user.big"), v);
  EXPECT_EQ(h_.fs().SetXattr(ino, "user.big", v, kXattrCreate).code(), Errc::kExists);
  EXPECT_EQ(h_.fs().SetXattr(ino, "user.new", v, kXattrReplace).code(), Errc::kNoAttribute);
  EXPECT_EQ(h_.fs().GetXattr(ino, "user.none").code(), Errc::kNoAttribute);
  EXPECT_EQ(h_.fs().SetXattr(ino, "system.posix_acl_access", v, 0).code(), Errc::kUnsupported);
  ASSERT_TRUE(h_.fs().SetXattr(ino, "user.a", util::Bytes{1}, 0).ok());
  std::vector<std::string> names = h_.fs().ListXattr(ino).value();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{"user.a", "user.big"}));
  ASSERT_TRUE(h_.fs().RemoveXattr(ino, "user.a").ok());
  EXPECT_EQ(h_.fs().RemoveXattr(ino, "user.a").code(), Errc::kNoAttribute);
  auto link = h_.fs().Symlink(kRootIno, "l", "target/path", RootCaller());
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->size, 11u);
  h_.Remount();
  EXPECT_EQ(*h_.fs().Readlink(link->ino), "target/path");
  EXPECT_EQ(*h_.fs().GetXattr(ino, "user.big"), v);
}

TEST_F(CoreFsTest, SetgidDirectoriesAndUmask) {
  auto d = h_.fs().Mkdir(kRootIno, "shared", 02775, RootCaller());
  ASSERT_TRUE(d.ok());
  SetAttr chgrp;
  chgrp.gid = 100;
  ASSERT_TRUE(h_.fs().SetAttributes(d->ino, chgrp, RootCaller()).ok());
  Caller user{1000, 1000, 027, {}};
  auto sub = h_.fs().Mkdir(d->ino, "sub", 0777, user);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->gid, 100u);
  EXPECT_TRUE(sub->mode & S_ISGID);
  EXPECT_EQ(sub->mode & 0777, 0750u);
  auto file = h_.fs().Mknod(d->ino, "f", S_IFREG | 02755, 0, user);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->gid, 100u);
  EXPECT_FALSE(file->mode & S_ISGID);  // not a member of group 100
}

// kill_setid (the kernel's HANDLE_KILLPRIV_V2 requests) clears what Linux clears on a write by
// an unprivileged caller: setuid, and setgid only with group execute; only on regular files;
// and on a file with neither it changes nothing, not even ctime.
TEST_F(CoreFsTest, KillSetIdClearsWhatLinuxClears) {
  SetAttr kill;
  kill.kill_setid = true;
  auto f = h_.fs().Mknod(kRootIno, "f", S_IFREG | 06755, 0, RootCaller());
  ASSERT_TRUE(f.ok());
  auto a = h_.fs().SetAttributes(f->ino, kill, RootCaller());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->mode & 07777, 0755u);
  auto g = h_.fs().Mknod(kRootIno, "g", S_IFREG | 02644, 0, RootCaller());
  ASSERT_TRUE(g.ok());
  a = h_.fs().SetAttributes(g->ino, kill, RootCaller());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->mode & 07777, 02644u) << "setgid without group execute is no set-id program";
  EXPECT_TRUE(a->ctime == g->ctime) << "nothing cleared, nothing changed";
  auto d = h_.fs().Mkdir(kRootIno, "d", 02755, RootCaller());
  ASSERT_TRUE(d.ok());
  a = h_.fs().SetAttributes(d->ino, kill, RootCaller());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->mode & 07777, 02755u) << "directories keep theirs";
  // With a chown (the kernel sends both): the owner changes and the bits go.
  auto e = h_.fs().Mknod(kRootIno, "e", S_IFREG | 04755, 0, RootCaller());
  ASSERT_TRUE(e.ok());
  SetAttr chown = kill;
  chown.uid = 1000;
  a = h_.fs().SetAttributes(e->ino, chown, RootCaller());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->mode & 07777, 0755u);
  EXPECT_EQ(a->uid, 1000u);
  h_.Remount();
  EXPECT_EQ(h_.fs().GetAttr(f->ino)->mode & 07777, 0755u);
  EXPECT_EQ(h_.fs().GetAttr(e->ino)->mode & 07777, 0755u);
}

// Nothing the drive stores locally or remotely shows a file's contents or name.
TEST_F(CoreFsTest, NothingInTheClear) {
  const std::string secret_name = "diary-of-a-very-secret-person.txt";
  const std::string secret_text = "The password to the vault is swordfish-4711.";
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, secret_name, &fh);
  std::string body;
  for (int i = 0; i < 200; ++i) body += secret_text;
  ASSERT_TRUE(h_.fs().Write(ino, fh, 0, util::AsBytes(body)).ok());
  ASSERT_TRUE(h_.fs().SetXattr(ino, "user.secret-attr-name", util::AsBytes(secret_text), 0).ok());
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  ASSERT_TRUE(h_.fs().WaitForUploads().ok());
  h_.Unmount();
  auto contains = [](const std::string& hay, const std::string& needle) {
    return hay.find(needle) != std::string::npos;
  };
  for (auto& e : std::filesystem::recursive_directory_iterator(h_.dir())) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    EXPECT_FALSE(contains(all, secret_name.substr(0, 20))) << e.path();
    EXPECT_FALSE(contains(all, secret_text.substr(0, 20))) << e.path();
    EXPECT_FALSE(contains(all, "secret-attr-name")) << e.path();
  }
  std::vector<std::string> objects = h_.store().List("").value();
  for (const auto& name : objects) {
    std::string obj(util::AsStringView(*h_.store().Get(name)));
    EXPECT_FALSE(contains(obj, secret_text.substr(0, 20)));
    EXPECT_FALSE(contains(name + obj, secret_name.substr(0, 20)));
  }
}

TEST_F(CoreFsTest, StatFsCountsWhatIsWrittenAtOnce) {
  const uint64_t free_before = h_.fs().StatFs()->available_bytes;
  uint64_t fh;
  uint64_t ino = CreateFile(kRootIno, "f", &fh);
  ASSERT_TRUE(h_.fs().Write(ino, fh, 0, Pattern(40960, 3)).ok());  // ten whole blocks
  auto st = h_.fs().StatFs();
  ASSERT_TRUE(st.ok());
  EXPECT_LE(st->available_bytes, free_before - 40960);  // before any upload
  ASSERT_TRUE(h_.fs().WaitForUploads().ok());
  EXPECT_LE(h_.fs().StatFs()->available_bytes, free_before - 40960);
  ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
}

TEST(CoreFsQuotaTest, TheQuotaIsTheDriveSizeAndWritesStopThere) {
  CoreFsHarness h;
  h.quota = 64 << 10;  // sixteen blocks of 4 KiB
  ASSERT_TRUE(h.Mount().ok());
  auto st = h.fs().StatFs();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->total_bytes, 64u << 10);
  EXPECT_EQ(st->available_bytes, 64u << 10);
  auto c = h.fs().Create(kRootIno, "f", 0644, O_RDWR | O_CREAT, RootCaller());
  ASSERT_TRUE(c.ok());
  // Whole blocks are sealed as they are written, so each counts at once; the uploader learns
  // the store's use when it starts, and the quota holds from then on.
  util::Status refused = util::Ok();
  uint64_t written = 0;
  for (int i = 0; i < 400 && refused.ok(); ++i) {
    auto n = h.fs().Write(c->attr.ino, c->fh, written, Pattern(4096, 9));
    if (n.ok()) {
      written += 4096;
    } else {
      refused = n.error();
    }
    if (i == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_FALSE(refused.ok()) << "the quota never stopped a write";
  EXPECT_EQ(refused.code(), Errc::kNoSpace);
  EXPECT_NE(refused.error().message.find("quota of 64K"), std::string::npos)
      << refused.error().message;
  EXPECT_GE(written, 48u << 10);  // sealed blocks are a little larger than their data
  EXPECT_LE(written, 64u << 10);
  EXPECT_EQ(h.fs().StatFs()->available_bytes, 0u);
  // Deleting the file gives the room back once its blocks are gone from the store.
  ASSERT_TRUE(h.fs().Release(c->attr.ino, c->fh).ok());
  ASSERT_TRUE(h.fs().Unlink(kRootIno, "f").ok());
  h.fs().Forget(c->attr.ino, 1);
  ASSERT_TRUE(h.fs().WaitForUploads().ok());
  auto g = h.fs().Create(kRootIno, "g", 0644, O_RDWR | O_CREAT, RootCaller());
  ASSERT_TRUE(g.ok());
  util::Status again = util::MakeError(Errc::kNoSpace, "not tried");
  for (int i = 0; i < 100 && !again.ok(); ++i) {
    auto n = h.fs().Write(g->attr.ino, g->fh, 0, Pattern(4096, 4));
    if (n.ok()) {
      again = util::Ok();
    } else {
      again = n.error();
    }
    if (!again.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(again.ok()) << again.error().message;
  // The deleted blocks leave the store in the background; df follows once they are gone.
  uint64_t available = 0;
  for (int i = 0; i < 200 && available <= (32u << 10); ++i) {
    available = h.fs().StatFs()->available_bytes;
    if (available <= (32u << 10)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GT(available, 32u << 10);
  ASSERT_TRUE(h.fs().Release(g->attr.ino, g->fh).ok());
}

TEST(CoreFsQuotaTest, ErasureCodedStoresReportBlockBytes) {
  CoreFsHarness h(4096, 1 << 20, 1 << 20, /*erasure_nodes=*/6);
  ASSERT_TRUE(h.Mount().ok());
  auto c = h.fs().Create(kRootIno, "f", 0644, O_RDWR | O_CREAT, RootCaller());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(h.fs().Write(c->attr.ino, c->fh, 0, Pattern(40960, 1)).ok());
  ASSERT_TRUE(h.fs().Release(c->attr.ino, c->fh).ok());
  ASSERT_TRUE(h.fs().WaitForUploads().ok());
  auto st = h.fs().StatFs();
  ASSERT_TRUE(st.ok());
  const uint64_t used = st->total_bytes - st->available_bytes;
  // Ten sealed blocks of a little over 4 KiB, not the half as much again their parity takes.
  EXPECT_GE(used, 40960u);
  EXPECT_LT(used, 40960u * 5 / 4);
}

}  // namespace
}  // namespace shardfs::core
