// truncate/ftruncate around block boundaries (shardfs's block size is configurable, so several
// sizes are tried), and sparse files at 1 TiB.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <limits>
#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using TruncateTest = FsTest;

class TruncateBoundaryTest : public FsTest, public ::testing::WithParamInterface<off_t> {};

// Shrinking must forget the cut bytes: growing again (by truncate or by a write past EOF) reads
// zeros there, never the old data.
TEST_P(TruncateBoundaryTest, ShrinkThenGrowReadsZerosPastTheCut) {
  const off_t block = GetParam();
  const off_t full = 3 * block;
  const std::string data = Pattern(full, static_cast<unsigned>(block));
  std::string p = Path("f");
  UniqueFd fd(open(p.c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_SYS_OK(fd.get());
  for (off_t cut : {block - 1, block, block + 1, 2 * block + block / 2, off_t{1}, off_t{0}}) {
    SCOPED_TRACE("block " + std::to_string(block) + " cut " + std::to_string(cut));
    ASSERT_TRUE(PWriteAll(fd.get(), data, 0));
    ASSERT_SYS_OK(ftruncate(fd.get(), cut));
    EXPECT_EQ(Stat(p).st_size, cut);
    std::string got = PRead(fd.get(), full, 0);
    ASSERT_EQ(got.size(), static_cast<size_t>(cut));
    EXPECT_TRUE(got == data.substr(0, cut)) << "data before the cut changed";

    ASSERT_SYS_OK(ftruncate(fd.get(), full));
    got = PRead(fd.get(), full, 0);
    ASSERT_EQ(got.size(), static_cast<size_t>(full));
    EXPECT_TRUE(got.compare(0, cut, data, 0, cut) == 0) << "data before the cut changed";
    EXPECT_TRUE(IsAllZero(std::string_view(got).substr(cut))) << "stale data after growing";

    ASSERT_SYS_OK(ftruncate(fd.get(), cut));
    ASSERT_TRUE(PWriteAll(fd.get(), "Z", full - 1));
    got = PRead(fd.get(), full, 0);
    ASSERT_EQ(got.size(), static_cast<size_t>(full));
    EXPECT_TRUE(IsAllZero(std::string_view(got).substr(cut, full - 1 - cut)))
        << "stale data in the hole written past the cut";
    EXPECT_EQ(got.back(), 'Z');
  }
}

TEST_P(TruncateBoundaryTest, PathTruncateUpAndDown) {
  const off_t block = GetParam();
  std::string p = Path("f");
  const std::string data = Pattern(block + 10, 7);
  ASSERT_TRUE(WriteFile(p, data));
  ASSERT_SYS_OK(truncate(p.c_str(), 2 * block + 3));
  std::string got = ReadFile(p);
  ASSERT_EQ(got.size(), static_cast<size_t>(2 * block + 3));
  EXPECT_TRUE(got.compare(0, data.size(), data) == 0);
  EXPECT_TRUE(IsAllZero(std::string_view(got).substr(data.size())));
  ASSERT_SYS_OK(truncate(p.c_str(), block - 5));
  EXPECT_TRUE(ReadFile(p) == data.substr(0, block - 5));
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, TruncateBoundaryTest,
                         ::testing::Values(off_t{4096}, off_t{65536}, off_t{1} << 20,
                                           off_t{4} << 20),
                         [](const auto& p) { return std::to_string(p.param); });

TEST_F(TruncateTest, TruncateErrors) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  EXPECT_SYS_ERRNO(truncate(Path("f").c_str(), -1), EINVAL);
  EXPECT_SYS_ERRNO(truncate(Path("d").c_str(), 0), EISDIR);
  EXPECT_SYS_ERRNO(truncate(Path("missing").c_str(), 0), ENOENT);
  UniqueFd ro(open(Path("f").c_str(), O_RDONLY));
  ASSERT_SYS_OK(ro.get());
  EXPECT_SYS_ERRNO(ftruncate(ro.get(), 0), EINVAL, EBADF);
  UniqueFd d(open(Path("d").c_str(), O_RDONLY));
  ASSERT_SYS_OK(d.get());
  EXPECT_SYS_ERRNO(ftruncate(d.get(), 0), EINVAL, EBADF);
  EXPECT_EQ(ReadFile(Path("f")), "x");
}

TEST_F(TruncateTest, TruncateToSameSizeKeepsData) {
  ASSERT_TRUE(WriteFile(Path("f"), "abc"));
  ASSERT_SYS_OK(truncate(Path("f").c_str(), 3));
  EXPECT_EQ(ReadFile(Path("f")), "abc");
}

TEST_F(TruncateTest, OneTebibyteSparseFile) {
  const off_t tib = off_t{1} << 40;
  std::string p = Path("big");
  UniqueFd fd(open(p.c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_SYS_OK(fd.get());
  ASSERT_TRUE(PWriteAll(fd.get(), "edge", tib));
  ASSERT_SYS_OK(fsync(fd.get()));
  struct stat st = Stat(p);
  EXPECT_EQ(st.st_size, tib + 4);
  EXPECT_LT(st.st_blocks * 512, off_t{64} << 20) << "a hole must not take space";
  for (off_t at : {off_t{0}, off_t{4} << 30, tib / 2 + 12345, tib - 4096}) {
    std::string z = PRead(fd.get(), 4096, at);
    EXPECT_EQ(z.size(), 4096u) << "at " << at;
    EXPECT_TRUE(IsAllZero(z)) << "at " << at;
  }
  EXPECT_EQ(PRead(fd.get(), 10, tib - 2), std::string("\0\0edge", 6));
  ASSERT_TRUE(PWriteAll(fd.get(), "low", 5));
  ASSERT_SYS_OK(ftruncate(fd.get(), 100));
  EXPECT_EQ(Stat(p).st_size, 100);
  EXPECT_EQ(PRead(fd.get(), 8, 4), std::string("\0low\0\0\0\0", 8));
  ASSERT_SYS_OK(ftruncate(fd.get(), tib * 2));
  EXPECT_EQ(Stat(p).st_size, tib * 2);
  EXPECT_TRUE(IsAllZero(PRead(fd.get(), 8, tib)));
}

TEST_F(TruncateTest, WritePastTheLargestOffsetFails) {
  UniqueFd fd(open(Path("f").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_SYS_OK(fd.get());
  const off_t max = std::numeric_limits<off_t>::max();
  EXPECT_SYS_ERRNO(pwrite(fd.get(), "0123456789", 10, max - 5), EFBIG, EINVAL);
  EXPECT_EQ(Stat(Path("f")).st_size, 0);
}

}  // namespace
}  // namespace shardfs::fstest
