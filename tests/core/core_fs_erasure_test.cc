// CoreFs over an ErasureStore of six in-memory nodes (4+2): what a mounted drive on nodes
// promises, in process — any two nodes lost or lying, reads still right; three lost, an error
// and never wrong bytes; placements kept so that garbage leaves every node; readahead fills the
// cache ahead of a sequential reader.
#include <fcntl.h>

#include <gtest/gtest.h>

#include "tests/core/core_fs_harness.h"

namespace shardfs::core {
namespace {

using util::Errc;

util::Bytes Pattern(size_t n, uint8_t seed) {
  util::Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed * 7 + i * 13 + (i >> 10));
  return b;
}

class CoreFsErasureTest : public ::testing::Test {
 protected:
  // 16 KiB blocks, 1 MiB of cache, six nodes.
  CoreFsErasureTest() : h_(16 << 10, 1 << 20, 1 << 20, 6) {}
  void SetUp() override { ASSERT_TRUE(h_.Mount().ok()); }

  uint64_t WriteFile(const std::string& name, const util::Bytes& data) {
    auto c = h_.fs().Create(kRootIno, name, 0644, O_RDWR | O_CREAT, RootCaller());
    EXPECT_TRUE(c.ok());
    EXPECT_TRUE(h_.fs().Write(c->attr.ino, c->fh, 0, data).ok());
    EXPECT_TRUE(h_.fs().Release(c->attr.ino, c->fh).ok());
    return c->attr.ino;
  }
  // settle: after each read, let readahead finish what it started (a reader slower than it).
  util::Result<util::Bytes> ReadAll(uint64_t ino, bool settle = false) {
    SHARDFS_ASSIGN_OR_RETURN(uint64_t fh, h_.fs().Open(ino, O_RDONLY));
    SHARDFS_ASSIGN_OR_RETURN(Attr attr, h_.fs().GetAttr(ino));
    util::Bytes out(attr.size);
    size_t done = 0;
    while (done < out.size()) {  // in 4 KiB reads, as the kernel would: sequential
      auto n = h_.fs().Read(
          ino, fh, done,
          util::MutableByteSpan(out.data() + done, std::min<size_t>(4096, out.size() - done)));
      if (!n.ok()) {
        (void)h_.fs().Release(ino, fh);
        return n.error();
      }
      if (*n == 0) break;
      done += *n;
      if (settle) h_.fs().WaitForReadahead();
    }
    (void)h_.fs().Release(ino, fh);
    return out;
  }
  // Unmount (uploading everything), drop the cache, mount: every block now comes from nodes.
  void ColdRemount() {
    h_.Unmount();
    h_.WipeCache();
    ASSERT_TRUE(h_.Mount().ok());
  }
  uint64_t Objects() {
    uint64_t n = 0;
    for (size_t i = 0; i < 6; ++i) n += h_.node_store(i).List("")->size();
    return n;
  }

  CoreFsHarness h_;
};

TEST_F(CoreFsErasureTest, AnyTwoNodesLostReadsStayCorrect) {
  const util::Bytes data = Pattern(200 * 1024 + 7, 1);
  const uint64_t ino = WriteFile("f", data);
  ColdRemount();
  EXPECT_GT(Objects(), 0u);
  for (size_t a = 0; a < 6; ++a) {
    for (size_t b = a + 1; b < 6; ++b) {
      h_.node_faults(a).Drop();
      h_.node_faults(b).Drop();
      ColdRemount();
      auto got = ReadAll(ino);
      ASSERT_TRUE(got.ok()) << "nodes " << a << "," << b << " down: " << got.error().message;
      EXPECT_TRUE(*got == data) << "nodes " << a << "," << b << " down";
      h_.node_faults(a).Restore();
      h_.node_faults(b).Restore();
    }
  }
}

TEST_F(CoreFsErasureTest, LyingNodesAreOutvoted) {
  const util::Bytes data = Pattern(100 * 1024, 2);
  const uint64_t ino = WriteFile("f", data);
  ColdRemount();
  h_.node_faults(1).SetCorruptReads(true);
  h_.node_faults(4).SetCorruptReads(true);
  auto got = ReadAll(ino);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_TRUE(*got == data);
  uint64_t bad = 0;
  for (const auto& n : h_.fs().GetStatus().nodes) bad += n.bad_shards;
  EXPECT_GT(bad, 0u) << "bad shards must be reported";
}

TEST_F(CoreFsErasureTest, ThreeNodesDownIsAnErrorNeverWrongBytesThenRecovers) {
  const util::Bytes data = Pattern(64 * 1024, 3);
  const uint64_t ino = WriteFile("f", data);
  ColdRemount();
  for (size_t i : {0, 2, 5}) h_.node_faults(i).Drop();
  auto got = ReadAll(ino);
  ASSERT_FALSE(got.ok()) << "read with 3 of 6 nodes down cannot succeed";
  EXPECT_TRUE(got.code() == Errc::kUnavailable || got.code() == Errc::kCorrupt)
      << got.error().message;
  for (size_t i : {0, 2, 5}) h_.node_faults(i).Restore();
  got = ReadAll(ino);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_TRUE(*got == data);
}

TEST_F(CoreFsErasureTest, ReplacedAndDeletedBlocksLeaveEveryNode) {
  const uint64_t ino = WriteFile("f", Pattern(96 * 1024, 4));
  ASSERT_TRUE(h_.fs().WaitForUploads().ok());
  const uint64_t first = Objects();
  EXPECT_EQ(first, 6u * 6u) << "6 blocks of 16 KiB, 6 shards each";
  WriteFile("f", Pattern(96 * 1024, 5));  // O_CREAT on an existing file: rewrites its blocks
  ASSERT_TRUE(h_.fs().Unlink(kRootIno, "f").ok());
  h_.fs().Forget(ino, 1);
  h_.Unmount();  // waits for uploads and garbage
  ASSERT_TRUE(h_.Mount().ok());
  for (int i = 0; i < 100 && Objects() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(Objects(), 0u) << "every shard of deleted data is removed from the nodes";
}

TEST_F(CoreFsErasureTest, StatusCountsDeletionsUntilTheNodesHaveThem) {
  const uint64_t ino = WriteFile("f", Pattern(64 * 1024, 7));  // 4 blocks
  ASSERT_TRUE(h_.fs().WaitForUploads().ok());
  EXPECT_EQ(h_.fs().GetStatus().pending_deletes, 0u);
  for (size_t i = 0; i < 6; ++i) h_.node_faults(i).Drop();
  ASSERT_TRUE(h_.fs().Unlink(kRootIno, "f").ok());
  h_.fs().Forget(ino, 1);
  // No node takes the deletions: the blocks wait, counted.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(h_.fs().GetStatus().pending_deletes, 4u);
  EXPECT_EQ(Objects(), 4u * 6u);
  for (size_t i = 0; i < 6; ++i) h_.node_faults(i).Restore();
  uint64_t left = 4;
  for (int i = 0; i < 400 && left > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    left = h_.fs().GetStatus().pending_deletes;
  }
  EXPECT_EQ(left, 0u) << "deletions go through once the nodes are back";
  EXPECT_EQ(Objects(), 0u);
}

TEST_F(CoreFsErasureTest, SequentialReadsFetchAhead) {
  const util::Bytes data = Pattern(32 * 16 * 1024, 6);  // 32 blocks
  const uint64_t ino = WriteFile("f", data);
  ColdRemount();
  auto got = ReadAll(ino, /*settle=*/true);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == data);
  const DriveStatus st = h_.fs().GetStatus();
  // Without readahead the reader would wait for every one of the 32 blocks. With it, only
  // for block 0 (no window yet) and block 1 (the window opens there); every later block was
  // fetched and decrypted before the reader reached it.
  EXPECT_EQ(st.read_waits, 2u) << "loaded ahead " << st.readahead_blocks;
  EXPECT_EQ(st.readahead_blocks, 30u) << "reads waited " << st.read_waits;
}

}  // namespace
}  // namespace shardfs::core
