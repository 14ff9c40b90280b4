// rename and renameat2: replacement rules, directory moves, NOREPLACE, EXCHANGE, EXDEV.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using RenameTest = FsTest;

int Rename2(const std::string& from, const std::string& to, unsigned flags) {
  return renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags);
}

TEST_F(RenameTest, PlainRenameMovesNameAndKeepsInode) {
  ASSERT_TRUE(WriteFile(Path("a"), "content"));
  ino_t ino = Stat(Path("a")).st_ino;
  ASSERT_SYS_OK(rename(Path("a").c_str(), Path("b").c_str()));
  EXPECT_FALSE(Exists(Path("a")));
  EXPECT_EQ(Stat(Path("b")).st_ino, ino);
  EXPECT_EQ(ReadFile(Path("b")), "content");
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  ASSERT_SYS_OK(rename(Path("b").c_str(), Path("d/c").c_str()));
  EXPECT_EQ(ReadFile(Path("d/c")), "content");
  EXPECT_SYS_ERRNO(rename(Path("missing").c_str(), Path("x").c_str()), ENOENT);
  EXPECT_SYS_ERRNO(rename(Path("d/c").c_str(), Path("nodir/c").c_str()), ENOENT);
}

TEST_F(RenameTest, RenameOverExistingFileReplacesIt) {
  ASSERT_TRUE(WriteFile(Path("a"), "new"));
  ASSERT_TRUE(WriteFile(Path("b"), "old"));
  UniqueFd old_fd(open(Path("b").c_str(), O_RDONLY));
  ASSERT_SYS_OK(old_fd.get());
  ASSERT_SYS_OK(rename(Path("a").c_str(), Path("b").c_str()));
  EXPECT_FALSE(Exists(Path("a")));
  EXPECT_EQ(ReadFile(Path("b")), "new");
  struct stat st {};
  ASSERT_SYS_OK(fstat(old_fd.get(), &st));
  EXPECT_EQ(st.st_nlink, 0u) << "the replaced file lost its only name";
  EXPECT_EQ(PRead(old_fd.get(), 10, 0), "old") << "and is still readable while open";
}

TEST_F(RenameTest, RenameBetweenHardLinksOfOneFileIsANoOp) {
  ASSERT_TRUE(WriteFile(Path("a"), "x"));
  ASSERT_SYS_OK(link(Path("a").c_str(), Path("b").c_str()));
  ASSERT_SYS_OK(rename(Path("a").c_str(), Path("b").c_str()));
  EXPECT_TRUE(Exists(Path("a")));
  EXPECT_TRUE(Exists(Path("b")));
  EXPECT_EQ(Stat(Path("b")).st_nlink, 2u);
  ASSERT_SYS_OK(rename(Path("a").c_str(), Path("a").c_str()));
  EXPECT_EQ(ReadFile(Path("a")), "x");
}

TEST_F(RenameTest, DirectoryOverEmptyDirectoryReplacesIt) {
  ASSERT_SYS_OK(mkdir(Path("src").c_str(), 0755));
  ASSERT_TRUE(WriteFile(Path("src/f"), "x"));
  ASSERT_SYS_OK(mkdir(Path("dst").c_str(), 0700));
  ino_t ino = Stat(Path("src")).st_ino;
  ASSERT_SYS_OK(rename(Path("src").c_str(), Path("dst").c_str()));
  EXPECT_FALSE(Exists(Path("src")));
  EXPECT_EQ(Stat(Path("dst")).st_ino, ino);
  EXPECT_EQ(ReadFile(Path("dst/f")), "x");
  EXPECT_EQ(Stat(dir_).st_nlink, 3u) << "parent: ., its own entry, and dst/..";
}

TEST_F(RenameTest, DirectoryOverNonEmptyDirectoryFails) {
  ASSERT_SYS_OK(mkdir(Path("src").c_str(), 0755));
  ASSERT_SYS_OK(mkdir(Path("dst").c_str(), 0755));
  ASSERT_TRUE(WriteFile(Path("dst/keep"), "k"));
  EXPECT_SYS_ERRNO(rename(Path("src").c_str(), Path("dst").c_str()), ENOTEMPTY, EEXIST);
  EXPECT_TRUE(Exists(Path("src")));
  EXPECT_EQ(ReadFile(Path("dst/keep")), "k");
}

TEST_F(RenameTest, TypeMismatchesFail) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  EXPECT_SYS_ERRNO(rename(Path("f").c_str(), Path("d").c_str()), EISDIR);
  EXPECT_SYS_ERRNO(rename(Path("d").c_str(), Path("f").c_str()), ENOTDIR);
  EXPECT_TRUE(S_ISREG(Stat(Path("f")).st_mode));
  EXPECT_TRUE(S_ISDIR(Stat(Path("d")).st_mode));
  EXPECT_SYS_ERRNO(rename(Path("f").c_str(), Path("f/x").c_str()), ENOTDIR);
  EXPECT_SYS_ERRNO(rename(Path("f/").c_str(), Path("g").c_str()), ENOTDIR);
}

TEST_F(RenameTest, DirectoryIntoItsOwnSubtreeFailsWithEinval) {
  ASSERT_SYS_OK(mkdir(Path("a").c_str(), 0755));
  ASSERT_SYS_OK(mkdir(Path("a/b").c_str(), 0755));
  EXPECT_SYS_ERRNO(rename(Path("a").c_str(), Path("a/b/c").c_str()), EINVAL);
  EXPECT_SYS_ERRNO(rename(Path("a").c_str(), Path("a/c").c_str()), EINVAL);
  EXPECT_SYS_ERRNO(rename((Path("a") + "/.").c_str(), Path("x").c_str()), EINVAL, EBUSY);
  EXPECT_TRUE(S_ISDIR(Stat(Path("a/b")).st_mode));
}

TEST_F(RenameTest, MovingDirectoryUpdatesDotDotAndLinkCounts) {
  ASSERT_SYS_OK(mkdir(Path("p1").c_str(), 0755));
  ASSERT_SYS_OK(mkdir(Path("p2").c_str(), 0755));
  ASSERT_SYS_OK(mkdir(Path("p1/child").c_str(), 0755));
  ASSERT_TRUE(WriteFile(Path("p1/child/f"), "x"));
  EXPECT_EQ(Stat(Path("p1")).st_nlink, 3u);
  EXPECT_EQ(Stat(Path("p2")).st_nlink, 2u);
  ASSERT_SYS_OK(rename(Path("p1/child").c_str(), Path("p2/moved").c_str()));
  EXPECT_EQ(Stat(Path("p2/moved/..")).st_ino, Stat(Path("p2")).st_ino);
  EXPECT_EQ(Stat(Path("p1")).st_nlink, 2u);
  EXPECT_EQ(Stat(Path("p2")).st_nlink, 3u);
  EXPECT_EQ(ReadFile(Path("p2/moved/f")), "x");
  EXPECT_SYS_OK(rmdir(Path("p1").c_str())) << "p1 must be empty now";
}

TEST_F(RenameTest, RenameUpdatesParentTimestamps) {
  ASSERT_SYS_OK(mkdir(Path("p1").c_str(), 0755));
  ASSERT_SYS_OK(mkdir(Path("p2").c_str(), 0755));
  ASSERT_TRUE(WriteFile(Path("p1/f"), "x"));
  timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_SYS_OK(utimensat(AT_FDCWD, Path("p1").c_str(), old, 0));
  ASSERT_SYS_OK(utimensat(AT_FDCWD, Path("p2").c_str(), old, 0));
  ASSERT_SYS_OK(rename(Path("p1/f").c_str(), Path("p2/f").c_str()));
  EXPECT_GT(Stat(Path("p1")).st_mtime, 1000000000);
  EXPECT_GT(Stat(Path("p2")).st_mtime, 1000000000);
}

TEST_F(RenameTest, NoReplaceFailsOnExistingTarget) {
  ASSERT_TRUE(WriteFile(Path("a"), "a"));
  ASSERT_TRUE(WriteFile(Path("b"), "b"));
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  EXPECT_SYS_ERRNO(Rename2(Path("a"), Path("b"), RENAME_NOREPLACE), EEXIST);
  EXPECT_SYS_ERRNO(Rename2(Path("a"), Path("d"), RENAME_NOREPLACE), EEXIST);
  EXPECT_EQ(ReadFile(Path("a")), "a");
  EXPECT_EQ(ReadFile(Path("b")), "b");
  ASSERT_SYS_OK(Rename2(Path("a"), Path("c"), RENAME_NOREPLACE));
  EXPECT_FALSE(Exists(Path("a")));
  EXPECT_EQ(ReadFile(Path("c")), "a");
}

TEST_F(RenameTest, ExchangeSwapsTwoFiles) {
  ASSERT_TRUE(WriteFile(Path("a"), "AAA"));
  ASSERT_TRUE(WriteFile(Path("b"), "B"));
  ino_t ia = Stat(Path("a")).st_ino;
  ino_t ib = Stat(Path("b")).st_ino;
  ASSERT_SYS_OK(Rename2(Path("a"), Path("b"), RENAME_EXCHANGE));
  EXPECT_EQ(ReadFile(Path("a")), "B");
  EXPECT_EQ(ReadFile(Path("b")), "AAA");
  EXPECT_EQ(Stat(Path("a")).st_ino, ib);
  EXPECT_EQ(Stat(Path("b")).st_ino, ia);
  EXPECT_SYS_ERRNO(Rename2(Path("a"), Path("missing"), RENAME_EXCHANGE), ENOENT);
  EXPECT_SYS_ERRNO(Rename2(Path("a"), Path("b"), RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
}

TEST_F(RenameTest, ExchangeFileWithDirectoryAcrossParents) {
  ASSERT_SYS_OK(mkdir(Path("p1").c_str(), 0755));
  ASSERT_SYS_OK(mkdir(Path("p2").c_str(), 0755));
  ASSERT_TRUE(WriteFile(Path("p1/f"), "file"));
  ASSERT_SYS_OK(mkdir(Path("p2/d").c_str(), 0755));
  ASSERT_TRUE(WriteFile(Path("p2/d/inner"), "inner"));
  ASSERT_SYS_OK(Rename2(Path("p1/f"), Path("p2/d"), RENAME_EXCHANGE));
  EXPECT_TRUE(S_ISDIR(Stat(Path("p1/f")).st_mode));
  EXPECT_TRUE(S_ISREG(Stat(Path("p2/d")).st_mode));
  EXPECT_EQ(ReadFile(Path("p1/f/inner")), "inner");
  EXPECT_EQ(ReadFile(Path("p2/d")), "file");
  EXPECT_EQ(Stat(Path("p1/f/..")).st_ino, Stat(Path("p1")).st_ino);
  EXPECT_EQ(Stat(Path("p1")).st_nlink, 3u);
  EXPECT_EQ(Stat(Path("p2")).st_nlink, 2u);
}

TEST_F(RenameTest, ExchangeTwoDirectories) {
  ASSERT_SYS_OK(mkdir(Path("x").c_str(), 0755));
  ASSERT_SYS_OK(mkdir(Path("x/d1").c_str(), 0755));
  ASSERT_SYS_OK(mkdir(Path("d2").c_str(), 0700));
  ASSERT_TRUE(WriteFile(Path("x/d1/one"), "1"));
  ASSERT_TRUE(WriteFile(Path("d2/two"), "2"));
  ASSERT_SYS_OK(Rename2(Path("x/d1"), Path("d2"), RENAME_EXCHANGE));
  EXPECT_EQ(ReadFile(Path("x/d1/two")), "2");
  EXPECT_EQ(ReadFile(Path("d2/one")), "1");
  EXPECT_EQ(Stat(Path("x/d1")).st_mode & 0777, 0700u);
  EXPECT_EQ(Stat(Path("x/d1/..")).st_ino, Stat(Path("x")).st_ino);
  EXPECT_EQ(Stat(Path("d2/..")).st_ino, Stat(dir_).st_ino);
  EXPECT_SYS_ERRNO(Rename2(Path("x"), Path("x/d1"), RENAME_EXCHANGE), EINVAL);
}

// rename and link cannot cross filesystems. Needs a second filesystem: SHARDFS_FSTEST_OTHER_DIR,
// else /dev/shm or /tmp, whichever is on a different device than the tested directory.
TEST_F(RenameTest, CrossFilesystemRenameAndLinkFailWithExdev) {
  std::string other;
  const char* env = getenv("SHARDFS_FSTEST_OTHER_DIR");
  for (std::string c :
       {std::string(env ? env : ""), std::string("/dev/shm"), std::string("/tmp")}) {
    struct stat st {};
    if (!c.empty() && stat(c.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
        st.st_dev != Stat(dir_).st_dev) {
      other = c + "/shardfs-fstest-exdev." + std::to_string(getpid());
      break;
    }
  }
  if (other.empty()) GTEST_SKIP() << "no directory on another filesystem to rename to";
  ASSERT_SYS_OK(mkdir(other.c_str(), 0755));
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  ASSERT_TRUE(WriteFile(other + "/g", "y"));
  EXPECT_SYS_ERRNO(rename(Path("f").c_str(), (other + "/f").c_str()), EXDEV);
  EXPECT_SYS_ERRNO(rename((other + "/g").c_str(), Path("g").c_str()), EXDEV);
  EXPECT_SYS_ERRNO(link(Path("f").c_str(), (other + "/f").c_str()), EXDEV);
  EXPECT_TRUE(Exists(Path("f")));
  RemoveTree(other);
}

}  // namespace
}  // namespace shardfs::fstest
