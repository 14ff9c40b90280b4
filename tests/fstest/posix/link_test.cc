// Hard links and link counts of files and directories.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using LinkTest = FsTest;

// linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; following /proc/self/fd/N does not.
std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

TEST_F(LinkTest, HardLinksShareInodeDataAndCountNames) {
  ASSERT_TRUE(WriteFile(Path("a"), "shared"));
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  ASSERT_SYS_OK(link(Path("a").c_str(), Path("b").c_str()));
  ASSERT_SYS_OK(link(Path("a").c_str(), Path("d/c").c_str()));
  struct stat a = Stat(Path("a"));
  EXPECT_EQ(a.st_nlink, 3u);
  EXPECT_EQ(Stat(Path("b")).st_ino, a.st_ino);
  EXPECT_EQ(Stat(Path("d/c")).st_ino, a.st_ino);
  EXPECT_EQ(Stat(Path("d/c")).st_nlink, 3u);

  ASSERT_TRUE(WriteFile(Path("b"), "changed through b"));
  EXPECT_EQ(ReadFile(Path("a")), "changed through b");
  ASSERT_SYS_OK(chmod(Path("d/c").c_str(), 0600));
  EXPECT_EQ(Stat(Path("a")).st_mode & 0777, 0600u);

  ASSERT_SYS_OK(unlink(Path("a").c_str()));
  EXPECT_EQ(Stat(Path("b")).st_nlink, 2u);
  ASSERT_SYS_OK(unlink(Path("d/c").c_str()));
  EXPECT_EQ(Stat(Path("b")).st_nlink, 1u);
  EXPECT_EQ(ReadFile(Path("b")), "changed through b");
}

TEST_F(LinkTest, LinkChangesCtimeOfTheFile) {
  ASSERT_TRUE(WriteFile(Path("a"), "x"));
  struct stat before = Stat(Path("a"));
  SleepForTimestamps();
  ASSERT_SYS_OK(link(Path("a").c_str(), Path("b").c_str()));
  struct stat after = Stat(Path("a"));
  EXPECT_TRUE(after.st_ctim.tv_sec > before.st_ctim.tv_sec ||
              (after.st_ctim.tv_sec == before.st_ctim.tv_sec &&
               after.st_ctim.tv_nsec > before.st_ctim.tv_nsec));
}

TEST_F(LinkTest, LinkErrors) {
  ASSERT_TRUE(WriteFile(Path("a"), "x"));
  ASSERT_TRUE(WriteFile(Path("b"), "y"));
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  EXPECT_SYS_ERRNO(link(Path("a").c_str(), Path("b").c_str()), EEXIST);
  EXPECT_SYS_ERRNO(link(Path("a").c_str(), Path("d").c_str()), EEXIST);
  EXPECT_SYS_ERRNO(link(Path("d").c_str(), Path("d2").c_str()), EPERM);
  EXPECT_SYS_ERRNO(link(Path("missing").c_str(), Path("c").c_str()), ENOENT);
  EXPECT_SYS_ERRNO(link(Path("a").c_str(), Path("nodir/c").c_str()), ENOENT);
  EXPECT_SYS_ERRNO(link(Path("a").c_str(), Path("b/c").c_str()), ENOTDIR);
  EXPECT_EQ(ReadFile(Path("b")), "y");
  EXPECT_EQ(Stat(Path("a")).st_nlink, 1u);
  EXPECT_EQ(Stat(Path("d")).st_nlink, 2u);
}

TEST_F(LinkTest, LinkatLinksSymlinkItselfUnlessAskedToFollow) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  ASSERT_SYS_OK(symlink("f", Path("l").c_str()));
  ASSERT_SYS_OK(linkat(AT_FDCWD, Path("l").c_str(), AT_FDCWD, Path("l2").c_str(), 0));
  EXPECT_TRUE(S_ISLNK(LStat(Path("l2")).st_mode));
  EXPECT_EQ(LStat(Path("l2")).st_ino, LStat(Path("l")).st_ino);
  EXPECT_EQ(LStat(Path("l")).st_nlink, 2u);
  ASSERT_SYS_OK(
      linkat(AT_FDCWD, Path("l").c_str(), AT_FDCWD, Path("f2").c_str(), AT_SYMLINK_FOLLOW));
  EXPECT_TRUE(S_ISREG(LStat(Path("f2")).st_mode));
  EXPECT_EQ(LStat(Path("f2")).st_ino, Stat(Path("f")).st_ino);
}

TEST_F(LinkTest, LinkOfOpenUnlinkedFileFailsWithEnoent) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  UniqueFd fd(open(Path("f").c_str(), O_RDONLY));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(unlink(Path("f").c_str()));
  EXPECT_SYS_ERRNO(
      linkat(AT_FDCWD, FdPath(fd.get()).c_str(), AT_FDCWD, Path("g").c_str(), AT_SYMLINK_FOLLOW),
      ENOENT);
  EXPECT_FALSE(Exists(Path("g")));
}

TEST_F(LinkTest, LinkOfOpenDescriptorGivesFileANewName) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  UniqueFd fd(open(Path("f").c_str(), O_RDONLY));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(
      linkat(AT_FDCWD, FdPath(fd.get()).c_str(), AT_FDCWD, Path("g").c_str(), AT_SYMLINK_FOLLOW));
  EXPECT_EQ(Stat(Path("g")).st_ino, Stat(Path("f")).st_ino);
  EXPECT_EQ(Stat(Path("f")).st_nlink, 2u);
}

TEST_F(LinkTest, TmpfileCanBeLinkedIntoTheTree) {
  UniqueFd fd(open(dir_.c_str(), O_TMPFILE | O_RDWR, 0600));
  if (!fd.ok() && errno == EOPNOTSUPP) GTEST_SKIP() << "O_TMPFILE not supported here";
  ASSERT_SYS_OK(fd.get());
  struct stat st {};
  ASSERT_SYS_OK(fstat(fd.get(), &st));
  EXPECT_EQ(st.st_nlink, 0u);
  ASSERT_TRUE(PWriteAll(fd.get(), "tmp", 0));
  ASSERT_SYS_OK(linkat(AT_FDCWD, FdPath(fd.get()).c_str(), AT_FDCWD, Path("named").c_str(),
                       AT_SYMLINK_FOLLOW));
  EXPECT_EQ(ReadFile(Path("named")), "tmp");
  EXPECT_EQ(Stat(Path("named")).st_nlink, 1u);
}

// Not required by POSIX, but kept by every Linux disk filesystem and relied on by find(1).
TEST_F(LinkTest, DirectoryLinkCountIsTwoPlusSubdirectories) {
  std::string d = Path("d");
  ASSERT_SYS_OK(mkdir(d.c_str(), 0755));
  EXPECT_EQ(Stat(d).st_nlink, 2u);
  ASSERT_SYS_OK(mkdir((d + "/s1").c_str(), 0755));
  ASSERT_SYS_OK(mkdir((d + "/s2").c_str(), 0755));
  ASSERT_TRUE(WriteFile(d + "/file", "x"));
  EXPECT_EQ(Stat(d).st_nlink, 4u) << "files do not count";
  ASSERT_SYS_OK(rmdir((d + "/s1").c_str()));
  EXPECT_EQ(Stat(d).st_nlink, 3u);
}

}  // namespace
}  // namespace shardfs::fstest
