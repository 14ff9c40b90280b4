// open/create flags, read/write at offsets, holes, fsync, and files unlinked while open.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using OpenTest = FsTest;

TEST_F(OpenTest, CreateSetsModeOwnerAndEmptySize) {
  std::string p = Path("f");
  UniqueFd fd(open(p.c_str(), O_CREAT | O_WRONLY, 0640));
  ASSERT_SYS_OK(fd.get());
  struct stat st = Stat(p);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_uid, geteuid());
  struct stat fst {};
  ASSERT_SYS_OK(fstat(fd.get(), &fst));
  EXPECT_EQ(fst.st_ino, st.st_ino);
}

TEST_F(OpenTest, UmaskIsApplied) {
  mode_t old = umask(027);
  UniqueFd fd(open(Path("f").c_str(), O_CREAT | O_WRONLY, 0777));
  int err = Err(mkdir(Path("d").c_str(), 0777));
  umask(old);
  ASSERT_SYS_OK(fd.get());
  ASSERT_ERRNO(err, 0);
  EXPECT_EQ(Stat(Path("f")).st_mode & 0777, 0750u);
  EXPECT_EQ(Stat(Path("d")).st_mode & 0777, 0750u);
}

TEST_F(OpenTest, ExclusiveCreateOfExistingNameFailsWithEexist) {
  ASSERT_TRUE(WriteFile(Path("f"), "data"));
  EXPECT_SYS_ERRNO(open(Path("f").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  EXPECT_SYS_ERRNO(open(Path("d").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
  // O_EXCL does not follow a symlink, not even a dangling one.
  ASSERT_SYS_OK(symlink("missing", Path("dangling").c_str()));
  EXPECT_SYS_ERRNO(open(Path("dangling").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
  EXPECT_FALSE(Exists(Path("missing")));
  EXPECT_EQ(ReadFile(Path("f")), "data");
}

TEST_F(OpenTest, CreateThroughDanglingSymlinkCreatesTarget) {
  ASSERT_SYS_OK(symlink("target", Path("link").c_str()));
  UniqueFd fd(open(Path("link").c_str(), O_CREAT | O_WRONLY, 0600));
  ASSERT_SYS_OK(fd.get());
  EXPECT_TRUE(S_ISREG(LStat(Path("target")).st_mode));
  EXPECT_TRUE(S_ISLNK(LStat(Path("link")).st_mode));
}

TEST_F(OpenTest, TruncFlagEmptiesFileAndKeepsInode) {
  ASSERT_TRUE(WriteFile(Path("f"), Pattern(100000, 1)));
  ino_t ino = Stat(Path("f")).st_ino;
  UniqueFd fd(open(Path("f").c_str(), O_WRONLY | O_TRUNC));
  ASSERT_SYS_OK(fd.get());
  struct stat st = Stat(Path("f"));
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_ino, ino);
  ASSERT_TRUE(PWriteAll(fd.get(), "xy", 0));
  fd.reset();
  EXPECT_EQ(ReadFile(Path("f")), "xy");
}

TEST_F(OpenTest, DirectoryFlagOnFileFailsWithEnotdir) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  EXPECT_SYS_ERRNO(open(Path("f").c_str(), O_RDONLY | O_DIRECTORY), ENOTDIR);
  ASSERT_SYS_OK(symlink("f", Path("l").c_str()));
  EXPECT_SYS_ERRNO(open(Path("l").c_str(), O_RDONLY | O_DIRECTORY), ENOTDIR);
  UniqueFd d(open(dir_.c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_SYS_OK(d.get());
}

TEST_F(OpenTest, CreateInMissingDirectoryFailsWithEnoent) {
  EXPECT_SYS_ERRNO(open(Path("nodir/f").c_str(), O_CREAT | O_WRONLY, 0644), ENOENT);
  EXPECT_SYS_ERRNO(open(Path("missing").c_str(), O_RDONLY), ENOENT);
  ASSERT_TRUE(WriteFile(Path("file"), "x"));
  EXPECT_SYS_ERRNO(open(Path("file/f").c_str(), O_CREAT | O_WRONLY, 0644), ENOTDIR);
}

TEST_F(OpenTest, DirectoryCannotBeOpenedForWriting) {
  EXPECT_SYS_ERRNO(open(dir_.c_str(), O_WRONLY), EISDIR);
  EXPECT_SYS_ERRNO(open(dir_.c_str(), O_RDWR), EISDIR);
  EXPECT_SYS_ERRNO(open(dir_.c_str(), O_RDONLY | O_CREAT, 0644), EISDIR);
  UniqueFd fd(open(dir_.c_str(), O_RDONLY));
  ASSERT_SYS_OK(fd.get());
  char buf[16];
  EXPECT_SYS_ERRNO(read(fd.get(), buf, sizeof buf), EISDIR);
  EXPECT_SYS_ERRNO(write(fd.get(), "x", 1), EBADF);
}

TEST_F(OpenTest, AccessModeOfDescriptorIsEnforced) {
  ASSERT_TRUE(WriteFile(Path("f"), "data"));
  UniqueFd ro(open(Path("f").c_str(), O_RDONLY));
  ASSERT_SYS_OK(ro.get());
  EXPECT_SYS_ERRNO(write(ro.get(), "x", 1), EBADF);
  UniqueFd wo(open(Path("f").c_str(), O_WRONLY));
  ASSERT_SYS_OK(wo.get());
  char c;
  EXPECT_SYS_ERRNO(read(wo.get(), &c, 1), EBADF);
  EXPECT_EQ(ReadFile(Path("f")), "data");
}

TEST_F(OpenTest, ReadWriteAtOffsets) {
  std::string p = Path("f");
  UniqueFd fd(open(p.c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_SYS_OK(fd.get());
  ASSERT_EQ(write(fd.get(), "hello world", 11), 11);
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 11);
  ASSERT_TRUE(PWriteAll(fd.get(), "WORLD", 6));
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 11) << "pwrite must not move the file offset";
  EXPECT_EQ(PRead(fd.get(), 100, 0), "hello WORLD");
  EXPECT_EQ(PRead(fd.get(), 3, 4), "o W");
  EXPECT_EQ(PRead(fd.get(), 10, 11), "") << "read at EOF returns 0";
  EXPECT_EQ(PRead(fd.get(), 10, 1000), "") << "read past EOF returns 0";
  ASSERT_EQ(lseek(fd.get(), 2, SEEK_SET), 2);
  char buf[4] = {};
  ASSERT_EQ(read(fd.get(), buf, 3), 3);
  EXPECT_EQ(std::string(buf, 3), "llo");
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_END), 11);
  EXPECT_SYS_ERRNO(lseek(fd.get(), -1, SEEK_SET), EINVAL);
  EXPECT_SYS_ERRNO(pwrite(fd.get(), "x", 1, -1), EINVAL);
}

TEST_F(OpenTest, WriteBeyondEofLeavesHoleOfZeros) {
  for (off_t block : {off_t{4096}, off_t{65536}, off_t{1} << 20, off_t{4} << 20}) {
    SCOPED_TRACE("block " + std::to_string(block));
    std::string p = Path("hole" + std::to_string(block));
    UniqueFd fd(open(p.c_str(), O_CREAT | O_RDWR, 0644));
    ASSERT_SYS_OK(fd.get());
    ASSERT_TRUE(PWriteAll(fd.get(), "head", 0));
    const off_t tail = 3 * block + 17;
    ASSERT_TRUE(PWriteAll(fd.get(), "tail", tail));
    EXPECT_EQ(Stat(p).st_size, tail + 4);
    std::string all = PRead(fd.get(), tail + 100, 0);
    ASSERT_EQ(all.size(), static_cast<size_t>(tail + 4));
    EXPECT_EQ(all.substr(0, 4), "head");
    EXPECT_TRUE(IsAllZero(std::string_view(all).substr(4, tail - 4)));
    EXPECT_EQ(all.substr(tail), "tail");
    // lseek past EOF then write: the same.
    ASSERT_EQ(lseek(fd.get(), tail + 4 + block, SEEK_SET), tail + 4 + block);
    ASSERT_EQ(write(fd.get(), "end", 3), 3);
    EXPECT_TRUE(IsAllZero(PRead(fd.get(), block, tail + 4)));
    EXPECT_EQ(PRead(fd.get(), 10, tail + 4 + block), "end");
  }
}

TEST_F(OpenTest, SeekDataAndHoleStayWithinFile) {
  std::string p = Path("f");
  UniqueFd fd(open(p.c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_SYS_OK(fd.get());
  ASSERT_TRUE(PWriteAll(fd.get(), "x", 8 << 20));
  off_t size = (8 << 20) + 1;
  off_t hole = lseek(fd.get(), 0, SEEK_HOLE);
  ASSERT_SYS_OK(hole);
  EXPECT_LE(hole, size);
  off_t data = lseek(fd.get(), 0, SEEK_DATA);
  ASSERT_SYS_OK(data);
  EXPECT_LE(data, size - 1);
  EXPECT_SYS_ERRNO(lseek(fd.get(), size, SEEK_DATA), ENXIO);
  EXPECT_SYS_ERRNO(lseek(fd.get(), size + 10, SEEK_HOLE), ENXIO);
}

TEST_F(OpenTest, AppendWritesGoToEndEvenAfterSeek) {
  ASSERT_TRUE(WriteFile(Path("f"), "abc"));
  UniqueFd fd(open(Path("f").c_str(), O_WRONLY | O_APPEND));
  ASSERT_SYS_OK(fd.get());
  ASSERT_EQ(lseek(fd.get(), 0, SEEK_SET), 0);
  ASSERT_EQ(write(fd.get(), "def", 3), 3);
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 6);
  EXPECT_EQ(ReadFile(Path("f")), "abcdef");
}

// Two processes append fixed-size records through their own descriptors: every record must
// land whole, none lost or overwritten.
TEST_F(OpenTest, AppendsFromTwoProcessesAreAtomic) {
  constexpr int kRecords = 400;
  constexpr size_t kLen = 97;
  std::string p = Path("log");
  ASSERT_TRUE(WriteFile(p, ""));
  auto writer = [&](char tag) {
    return [&p, tag]() -> int {
      int fd = open(p.c_str(), O_WRONLY | O_APPEND);
      if (fd < 0) return errno;
      for (int i = 0; i < kRecords; ++i) {
        char rec[kLen + 1];
        snprintf(rec, sizeof rec, "%c%05d%s", tag, i, std::string(kLen - 7, tag).c_str());
        rec[kLen - 1] = '\n';
        if (write(fd, rec, kLen) != static_cast<ssize_t>(kLen)) return errno ? errno : EIO;
      }
      return Err(close(fd));
    };
  };
  Child a(writer('A'));
  Child b(writer('B'));
  EXPECT_ERRNO(a.Wait(), 0);
  EXPECT_ERRNO(b.Wait(), 0);

  std::string all = ReadFile(p);
  ASSERT_EQ(all.size(), 2 * kRecords * kLen);
  std::map<char, int> next{{'A', 0}, {'B', 0}};
  for (size_t off = 0; off < all.size(); off += kLen) {
    std::string rec = all.substr(off, kLen);
    char tag = rec[0];
    ASSERT_TRUE(tag == 'A' || tag == 'B') << "garbage record at offset " << off;
    ASSERT_EQ(std::stoi(rec.substr(1, 5)), next[tag]) << "record out of order at " << off;
    ASSERT_EQ(rec.substr(6, kLen - 7), std::string(kLen - 7, tag)) << "torn record at " << off;
    ++next[tag];
  }
  EXPECT_EQ(next['A'], kRecords);
  EXPECT_EQ(next['B'], kRecords);
}

TEST_F(OpenTest, AppendsThroughTwoDescriptorsInterleave) {
  std::string p = Path("f");
  UniqueFd a(open(p.c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644));
  UniqueFd b(open(p.c_str(), O_WRONLY | O_APPEND));
  ASSERT_SYS_OK(a.get());
  ASSERT_SYS_OK(b.get());
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(write(a.get(), "aa", 2), 2);
    ASSERT_EQ(write(b.get(), "bbb", 3), 3);
  }
  std::string want;
  for (int i = 0; i < 50; ++i) want += "aabbb";
  EXPECT_EQ(ReadFile(p), want);
}

TEST_F(OpenTest, FsyncAndFdatasyncSucceedOnFilesAndDirectories) {
  std::string p = Path("f");
  UniqueFd fd(open(p.c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_SYS_OK(fd.get());
  ASSERT_TRUE(PWriteAll(fd.get(), Pattern(300000, 2), 0));
  EXPECT_SYS_OK(fsync(fd.get()));
  ASSERT_TRUE(PWriteAll(fd.get(), "more", 300000));
  EXPECT_SYS_OK(fdatasync(fd.get()));
  EXPECT_SYS_OK(syncfs(fd.get()));
  UniqueFd ro(open(p.c_str(), O_RDONLY));
  ASSERT_SYS_OK(ro.get());
  EXPECT_SYS_OK(fsync(ro.get())) << "fsync on a read-only descriptor is allowed";
  UniqueFd d(open(dir_.c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_SYS_OK(d.get());
  EXPECT_SYS_OK(fsync(d.get()));
  EXPECT_SYS_OK(fdatasync(d.get()));
  EXPECT_EQ(PRead(ro.get(), 4, 300000), "more");
}

TEST_F(OpenTest, UnlinkedOpenFileStaysUsableUntilClose) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, "before"));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  UniqueFd ro(open(p.c_str(), O_RDONLY));
  ASSERT_SYS_OK(ro.get());
  ASSERT_SYS_OK(unlink(p.c_str()));
  EXPECT_FALSE(Exists(p));
  struct stat st {};
  ASSERT_SYS_OK(fstat(fd.get(), &st));
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(PRead(fd.get(), 100, 0), "before");
  ASSERT_TRUE(PWriteAll(fd.get(), Pattern(200000, 3), 6));
  EXPECT_EQ(PRead(ro.get(), 200006, 0), "before" + Pattern(200000, 3));
  EXPECT_SYS_OK(ftruncate(fd.get(), 3));
  EXPECT_SYS_OK(fsync(fd.get()));
  ASSERT_SYS_OK(fstat(ro.get(), &st));
  EXPECT_EQ(st.st_size, 3);
  EXPECT_EQ(PRead(ro.get(), 100, 0), "bef");
  // A new file under the same name is a different file.
  ASSERT_TRUE(WriteFile(p, "new"));
  EXPECT_EQ(PRead(ro.get(), 100, 0), "bef");
  EXPECT_EQ(ReadFile(p), "new");
}

TEST_F(OpenTest, RemovedOpenDirectoryIsEmptyAndRejectsNewEntries) {
  std::string d = Path("d");
  ASSERT_SYS_OK(mkdir(d.c_str(), 0755));
  UniqueFd fd(open(d.c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(rmdir(d.c_str()));
  struct stat st {};
  ASSERT_SYS_OK(fstat(fd.get(), &st));
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_SYS_ERRNO(openat(fd.get(), "f", O_CREAT | O_WRONLY, 0644), ENOENT);
  EXPECT_SYS_ERRNO(mkdirat(fd.get(), "sub", 0755), ENOENT);
}

}  // namespace
}  // namespace shardfs::fstest
