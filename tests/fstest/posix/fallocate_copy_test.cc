// fallocate (allocate, keep-size, punch hole) and copy_file_range.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using FallocateTest = FsTest;
using CopyFileRangeTest = FsTest;

TEST_F(FallocateTest, ModeZeroExtendsSizeWithZerosAndKeepsData) {
  std::string p = Path("f");
  const std::string data = Pattern(10000, 1);
  ASSERT_TRUE(WriteFile(p, data));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(fallocate(fd.get(), 0, 5000, 200000));
  EXPECT_EQ(Stat(p).st_size, 205000);
  std::string got = PRead(fd.get(), 300000, 0);
  ASSERT_EQ(got.size(), 205000u);
  EXPECT_TRUE(got.compare(0, data.size(), data) == 0) << "fallocate must not change data";
  EXPECT_TRUE(IsAllZero(std::string_view(got).substr(data.size())));
  ASSERT_SYS_OK(fallocate(fd.get(), 0, 0, 100));
  EXPECT_EQ(Stat(p).st_size, 205000) << "allocating inside the file does not shrink it";
  EXPECT_TRUE(PRead(fd.get(), 100, 0) == data.substr(0, 100));
}

TEST_F(FallocateTest, KeepSizeDoesNotChangeSize) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, "abc"));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, 0, 1 << 20));
  EXPECT_EQ(Stat(p).st_size, 3);
  EXPECT_EQ(ReadFile(p), "abc");
}

TEST_F(FallocateTest, PunchHoleZeroesRangeAndKeepsSize) {
  for (off_t block : {off_t{4096}, off_t{65536}, off_t{4} << 20}) {
    SCOPED_TRACE("block " + std::to_string(block));
    std::string p = Path("f" + std::to_string(block));
    const off_t size = 3 * block + 100;
    const std::string data = Pattern(size, 3);
    ASSERT_TRUE(WriteFile(p, data));
    UniqueFd fd(open(p.c_str(), O_RDWR));
    ASSERT_SYS_OK(fd.get());
    // A range that starts inside one block, covers the next one whole and ends inside a third.
    const off_t start = block / 2 + 1;
    const off_t len = 2 * block - 3;
    ASSERT_SYS_OK(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, start, len));
    EXPECT_EQ(Stat(p).st_size, size);
    std::string got = PRead(fd.get(), size, 0);
    ASSERT_EQ(got.size(), static_cast<size_t>(size));
    EXPECT_TRUE(got.compare(0, start, data, 0, start) == 0) << "bytes before the hole changed";
    EXPECT_TRUE(IsAllZero(std::string_view(got).substr(start, len))) << "hole not zeroed";
    EXPECT_TRUE(got.compare(start + len, size - start - len, data, start + len) == 0)
        << "bytes after the hole changed";
    // Punching past EOF changes nothing, and the hole can be written again.
    ASSERT_SYS_OK(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, size, block));
    EXPECT_EQ(Stat(p).st_size, size);
    ASSERT_TRUE(PWriteAll(fd.get(), "refill", start + 10));
    EXPECT_EQ(PRead(fd.get(), 6, start + 10), "refill");
    EXPECT_TRUE(IsAllZero(PRead(fd.get(), 10, start)));
  }
}

TEST_F(FallocateTest, PunchHoleWholeFileReadsZeros) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, Pattern(300000, 4)));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 300000));
  ASSERT_SYS_OK(fsync(fd.get()));
  std::string got = PRead(fd.get(), 400000, 0);
  EXPECT_EQ(got.size(), 300000u);
  EXPECT_TRUE(IsAllZero(got));
}

// Allocated space counts in st_blocks at once, and writing into it adds nothing (du is right
// for preallocated files, as databases make them).
TEST_F(FallocateTest, AllocatedSpaceIsCountedOnceInStBlocks) {
  std::string p = Path("f");
  UniqueFd fd(open(p.c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(fallocate(fd.get(), 0, 4095, 2));  // two bytes across a 4 KiB boundary
  const blkcnt_t allocated = Stat(p).st_blocks;
  EXPECT_GE(allocated * 512, 4097);
  ASSERT_TRUE(PWriteAll(fd.get(), "ab", 4095));
  EXPECT_EQ(Stat(p).st_blocks, allocated) << "writing into allocated bytes allocated them again";
  ASSERT_SYS_OK(fsync(fd.get()));
  EXPECT_EQ(Stat(p).st_blocks, allocated);
  EXPECT_EQ(PRead(fd.get(), 4097, 0), std::string(4095, '\0') + "ab");

  std::string q = Path("g");
  UniqueFd g(open(q.c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_SYS_OK(g.get());
  ASSERT_SYS_OK(fallocate(g.get(), 0, 0, 1 << 20));
  const blkcnt_t whole = Stat(q).st_blocks;
  EXPECT_GE(whole * 512, 1 << 20);
  ASSERT_TRUE(PWriteAll(g.get(), Pattern(1 << 20, 8), 0));
  ASSERT_SYS_OK(fsync(g.get()));
  EXPECT_EQ(Stat(q).st_blocks, whole);
}

// More than the drive can hold is refused with ENOSPC, and nothing is allocated.
TEST_F(FallocateTest, MoreThanTheDriveHoldsIsENOSPC) {
  std::string p = Path("f");
  UniqueFd fd(open(p.c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_SYS_OK(fd.get());
  struct statvfs vfs {};
  ASSERT_SYS_OK(fstatvfs(fd.get(), &vfs));
  const off_t beyond = static_cast<off_t>(vfs.f_bavail * vfs.f_frsize) * 2 + (off_t{1} << 30);
  EXPECT_SYS_ERRNO(fallocate(fd.get(), 0, 0, beyond), ENOSPC);
  EXPECT_SYS_ERRNO(fallocate(fd.get(), 0, 0, off_t{1} << 50), ENOSPC, EFBIG);
  EXPECT_EQ(Stat(p).st_size, 0);
  EXPECT_EQ(Stat(p).st_blocks, 0);
}

TEST_F(FallocateTest, Errors) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, "abc"));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  EXPECT_SYS_ERRNO(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE, 0, 1), EOPNOTSUPP);
  EXPECT_SYS_ERRNO(fallocate(fd.get(), 0, 0, 0), EINVAL);
  EXPECT_SYS_ERRNO(fallocate(fd.get(), 0, -1, 10), EINVAL);
  UniqueFd ro(open(p.c_str(), O_RDONLY));
  ASSERT_SYS_OK(ro.get());
  EXPECT_SYS_ERRNO(fallocate(ro.get(), 0, 0, 10), EBADF);
  EXPECT_EQ(ReadFile(p), "abc");
}

TEST_F(CopyFileRangeTest, CopiesWholeFile) {
  const std::string data = Pattern(3 * 65536 + 77, 5);
  ASSERT_TRUE(WriteFile(Path("src"), data));
  UniqueFd in(open(Path("src").c_str(), O_RDONLY));
  UniqueFd out(open(Path("dst").c_str(), O_CREAT | O_WRONLY, 0644));
  ASSERT_SYS_OK(in.get());
  ASSERT_SYS_OK(out.get());
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = copy_file_range(in.get(), nullptr, out.get(), nullptr, data.size() - done, 0);
    ASSERT_SYS_OK(n);
    ASSERT_GT(n, 0) << "copy stopped early at " << done;
    done += n;
  }
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), static_cast<off_t>(data.size()))
      << "NULL offsets use and advance the file offsets";
  EXPECT_EQ(lseek(out.get(), 0, SEEK_CUR), static_cast<off_t>(data.size()));
  EXPECT_EQ(copy_file_range(in.get(), nullptr, out.get(), nullptr, 100, 0), 0) << "at EOF";
  out.reset();
  EXPECT_TRUE(ReadFile(Path("dst")) == data);
}

TEST_F(CopyFileRangeTest, ExplicitOffsetsAreUpdatedAndFileOffsetsAreNot) {
  const std::string src = Pattern(200000, 6);
  const std::string dst = Pattern(100000, 7);
  ASSERT_TRUE(WriteFile(Path("src"), src));
  ASSERT_TRUE(WriteFile(Path("dst"), dst));
  UniqueFd in(open(Path("src").c_str(), O_RDONLY));
  UniqueFd out(open(Path("dst").c_str(), O_RDWR));
  ASSERT_SYS_OK(in.get());
  ASSERT_SYS_OK(out.get());
  // Into the middle of dst, then past its end (leaving a hole).
  loff_t off_in = 1000;
  loff_t off_out = 50000;
  ASSERT_EQ(copy_file_range(in.get(), &off_in, out.get(), &off_out, 30000, 0), 30000);
  EXPECT_EQ(off_in, 31000);
  EXPECT_EQ(off_out, 80000);
  EXPECT_EQ(lseek(in.get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(lseek(out.get(), 0, SEEK_CUR), 0);
  off_in = 190000;
  off_out = 150000;
  ssize_t n = copy_file_range(in.get(), &off_in, out.get(), &off_out, 50000, 0);
  EXPECT_EQ(n, 10000) << "short copy at the source's EOF";

  std::string want = dst;
  want.replace(50000, 30000, src.substr(1000, 30000));
  want.resize(150000, '\0');
  want += src.substr(190000, 10000);
  std::string got = PRead(out.get(), 300000, 0);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);
}

TEST_F(CopyFileRangeTest, CopyFromHoleGivesZerosAndOverlapIsRejected) {
  std::string p = Path("sparse");
  UniqueFd fd(open(p.c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_SYS_OK(fd.get());
  ASSERT_TRUE(PWriteAll(fd.get(), "end", 500000));
  UniqueFd out(open(Path("dst").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_SYS_OK(out.get());
  ASSERT_TRUE(PWriteAll(out.get(), Pattern(1000, 8), 0));
  loff_t off_in = 100;
  loff_t off_out = 0;
  ASSERT_EQ(copy_file_range(fd.get(), &off_in, out.get(), &off_out, 1000, 0), 1000);
  EXPECT_TRUE(IsAllZero(PRead(out.get(), 1000, 0)));

  off_in = 0;
  loff_t off_same = 10;
  EXPECT_SYS_ERRNO(copy_file_range(fd.get(), &off_in, fd.get(), &off_same, 100, 0), EINVAL);
  UniqueFd ro(open(p.c_str(), O_RDONLY));
  ASSERT_SYS_OK(ro.get());
  off_in = 0;
  EXPECT_SYS_ERRNO(copy_file_range(fd.get(), &off_in, ro.get(), nullptr, 10, 0), EBADF);
}

}  // namespace
}  // namespace shardfs::fstest
