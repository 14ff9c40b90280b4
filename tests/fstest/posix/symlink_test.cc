// symlink, readlink, following rules, ELOOP and O_NOFOLLOW.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using SymlinkTest = FsTest;

std::string ReadLink(const std::string& path) {
  char buf[8192];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) return "<error: " + ErrnoName(errno) + ">";
  return std::string(buf, n);
}

TEST_F(SymlinkTest, SymlinkStoresTargetVerbatim) {
  for (std::string target : {"f", "../x/./y//z", "/absolute/path", "with space\t\x01 and \xff"}) {
    std::string l = Path("l");
    ASSERT_SYS_OK(symlink(target.c_str(), l.c_str()));
    EXPECT_EQ(ReadLink(l), target);
    struct stat st = LStat(l);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    EXPECT_EQ(st.st_size, static_cast<off_t>(target.size()));
    ASSERT_SYS_OK(unlink(l.c_str()));
  }
}

TEST_F(SymlinkTest, LongTargetsRoundTripAndOverlongFail) {
  std::string target(4095, 'x');
  for (size_t i = 100; i < target.size(); i += 100) target[i] = '/';
  ASSERT_SYS_OK(symlink(target.c_str(), Path("l").c_str()));
  EXPECT_EQ(ReadLink(Path("l")), target);
  EXPECT_EQ(LStat(Path("l")).st_size, 4095);
  std::string too_long(4096, 'y');
  EXPECT_SYS_ERRNO(symlink(too_long.c_str(), Path("l2").c_str()), ENAMETOOLONG);
  EXPECT_SYS_ERRNO(symlink("", Path("l3").c_str()), ENOENT);
}

TEST_F(SymlinkTest, StatFollowsAndLstatDoesNot) {
  ASSERT_TRUE(WriteFile(Path("f"), "12345"));
  ASSERT_SYS_OK(symlink("f", Path("l").c_str()));
  struct stat st = Stat(Path("l"));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 5);
  EXPECT_EQ(st.st_ino, Stat(Path("f")).st_ino);
  EXPECT_TRUE(S_ISLNK(LStat(Path("l")).st_mode));
  EXPECT_EQ(ReadFile(Path("l")), "12345");
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  ASSERT_TRUE(WriteFile(Path("d/in"), "inside"));
  ASSERT_SYS_OK(symlink("d", Path("dl").c_str()));
  EXPECT_EQ(ReadFile(Path("dl/in")), "inside") << "a symlink in the middle of a path is followed";
  ASSERT_SYS_OK(symlink(Path("d").c_str(), Path("abs").c_str()));
  EXPECT_EQ(ReadFile(Path("abs/in")), "inside");
}

TEST_F(SymlinkTest, DanglingSymlinkExistsButDoesNotResolve) {
  ASSERT_SYS_OK(symlink("missing", Path("l").c_str()));
  struct stat st {};
  EXPECT_SYS_ERRNO(stat(Path("l").c_str(), &st), ENOENT);
  EXPECT_SYS_OK(lstat(Path("l").c_str(), &st));
  EXPECT_SYS_ERRNO(open(Path("l").c_str(), O_RDONLY), ENOENT);
  EXPECT_SYS_ERRNO(symlink("other", Path("l").c_str()), EEXIST);
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  EXPECT_SYS_ERRNO(symlink("other", Path("f").c_str()), EEXIST);
  EXPECT_EQ(ReadLink(Path("l")), "missing");
}

TEST_F(SymlinkTest, ReadlinkOnNonSymlinkFailsWithEinval) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  char buf[64];
  EXPECT_SYS_ERRNO(readlink(Path("f").c_str(), buf, sizeof buf), EINVAL);
  EXPECT_SYS_ERRNO(readlink(dir_.c_str(), buf, sizeof buf), EINVAL);
  EXPECT_SYS_ERRNO(readlink(Path("missing").c_str(), buf, sizeof buf), ENOENT);
}

TEST_F(SymlinkTest, ReadlinkTruncatesToBufferWithoutNul) {
  ASSERT_SYS_OK(symlink("abcdefghij", Path("l").c_str()));
  char buf[8];
  memset(buf, '#', sizeof buf);
  ASSERT_EQ(readlink(Path("l").c_str(), buf, 4), 4);
  EXPECT_EQ(std::string(buf, 8), "abcd####");
}

TEST_F(SymlinkTest, SymlinkLoopsFailWithEloop) {
  ASSERT_SYS_OK(symlink("b", Path("a").c_str()));
  ASSERT_SYS_OK(symlink("a", Path("b").c_str()));
  ASSERT_SYS_OK(symlink("self", Path("self").c_str()));
  struct stat st {};
  EXPECT_SYS_ERRNO(stat(Path("a").c_str(), &st), ELOOP);
  EXPECT_SYS_ERRNO(open(Path("self").c_str(), O_RDONLY), ELOOP);
  EXPECT_SYS_ERRNO(open(Path("a").c_str(), O_CREAT | O_WRONLY, 0644), ELOOP);
  EXPECT_SYS_ERRNO(stat(Path("self/x").c_str(), &st), ELOOP);
  EXPECT_SYS_OK(lstat(Path("a").c_str(), &st));
}

TEST_F(SymlinkTest, LongChainsResolveUntilTheKernelLimit) {
  ASSERT_TRUE(WriteFile(Path("target"), "end"));
  std::string prev = "target";
  for (int i = 0; i < 60; ++i) {
    std::string name = "c" + std::to_string(i);
    ASSERT_SYS_OK(symlink(prev.c_str(), Path(name).c_str()));
    prev = name;
  }
  // POSIX guarantees at least 8 (_POSIX_SYMLOOP_MAX); Linux follows 40.
  EXPECT_EQ(ReadFile(Path("c7")), "end");
  EXPECT_EQ(ReadFile(Path("c30")), "end");
  struct stat st {};
  EXPECT_SYS_ERRNO(stat(Path("c59").c_str(), &st), ELOOP);
}

TEST_F(SymlinkTest, NoFollowRefusesSymlinkAsLastComponent) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  ASSERT_SYS_OK(symlink("f", Path("l").c_str()));
  EXPECT_SYS_ERRNO(open(Path("l").c_str(), O_RDONLY | O_NOFOLLOW), ELOOP);
  EXPECT_SYS_ERRNO(open(Path("l").c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW, 0644), ELOOP);
  UniqueFd f(open(Path("f").c_str(), O_RDONLY | O_NOFOLLOW));
  EXPECT_SYS_OK(f.get());
  UniqueFd path_fd(open(Path("l").c_str(), O_PATH | O_NOFOLLOW));
  ASSERT_SYS_OK(path_fd.get());
  struct stat st {};
  ASSERT_SYS_OK(fstat(path_fd.get(), &st));
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  // Only the last component is affected.
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  ASSERT_TRUE(WriteFile(Path("d/g"), "y"));
  ASSERT_SYS_OK(symlink("d", Path("dl").c_str()));
  UniqueFd g(open(Path("dl/g").c_str(), O_RDONLY | O_NOFOLLOW));
  EXPECT_SYS_OK(g.get());
}

TEST_F(SymlinkTest, SymlinkOwnTimesAndOwnerAreIndependentOfTarget) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  ASSERT_SYS_OK(symlink("f", Path("l").c_str()));
  timespec times[2] = {{1000000000, 111}, {1100000000, 222}};
  ASSERT_SYS_OK(utimensat(AT_FDCWD, Path("l").c_str(), times, AT_SYMLINK_NOFOLLOW));
  struct stat l = LStat(Path("l"));
  EXPECT_EQ(l.st_mtim.tv_sec, 1100000000);
  EXPECT_EQ(l.st_mtim.tv_nsec, 222);
  EXPECT_NE(Stat(Path("f")).st_mtim.tv_sec, 1100000000);
}

}  // namespace
}  // namespace shardfs::fstest
