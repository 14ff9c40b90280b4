// getattr/setattr: chmod, chown (root), utimensat, timestamp updates, statfs, access() as root.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using AttrTest = FsTest;
using ChownTest = FsRootTest;

bool After(const timespec& a, const timespec& b) {
  return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}
bool Same(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}
std::string Show(const timespec& t) {
  return std::to_string(t.tv_sec) + "." + std::to_string(t.tv_nsec);
}

TEST_F(AttrTest, ChmodSetsAllModeBitsAndChangesOnlyCtime) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "x"));
  struct stat before = Stat(f);
  SleepForTimestamps();
  for (mode_t m : {0000u, 0777u, 0400u, 04755u, 02755u, 01644u, 07777u, 0640u}) {
    ASSERT_SYS_OK(chmod(f.c_str(), m));
    EXPECT_EQ(Stat(f).st_mode & 07777, m) << std::oct << m;
  }
  struct stat after = Stat(f);
  EXPECT_TRUE(S_ISREG(after.st_mode)) << "chmod must not touch the file type";
  EXPECT_TRUE(After(after.st_ctim, before.st_ctim)) << Show(after.st_ctim);
  EXPECT_TRUE(Same(after.st_mtim, before.st_mtim)) << Show(after.st_mtim);
  UniqueFd fd(open(f.c_str(), O_RDONLY));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(fchmod(fd.get(), 0604));
  EXPECT_EQ(Stat(f).st_mode & 07777, 0604u);
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  ASSERT_SYS_OK(chmod(Path("d").c_str(), 01777));
  EXPECT_EQ(Stat(Path("d")).st_mode & 07777, 01777u);
  EXPECT_SYS_ERRNO(chmod(Path("missing").c_str(), 0644), ENOENT);
}

TEST_F(AttrTest, UtimensatKeepsNanosecondsAndExtremeDates) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "x"));
  const timespec cases[][2] = {
      {{1000000000, 123456789}, {1500000000, 987654321}},
      {{1, 1}, {2, 999999999}},
      {{-1, 0}, {-86400 * 365, 500}},      // before 1970
      {{4102444800, 1}, {4102444800, 2}},  // 2100, past 2038
  };
  for (const auto& times : cases) {
    ASSERT_SYS_OK(utimensat(AT_FDCWD, f.c_str(), times, 0));
    struct stat st = Stat(f);
    EXPECT_TRUE(Same(st.st_atim, times[0])) << Show(st.st_atim) << " want " << Show(times[0]);
    EXPECT_TRUE(Same(st.st_mtim, times[1])) << Show(st.st_mtim) << " want " << Show(times[1]);
  }
  const timespec bad[2] = {{0, 1000000000}, {0, 0}};
  EXPECT_SYS_ERRNO(utimensat(AT_FDCWD, f.c_str(), bad, 0), EINVAL);
}

TEST_F(AttrTest, UtimeOmitAndUtimeNow) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "x"));
  const timespec set[2] = {{1000000000, 5}, {1100000000, 6}};
  ASSERT_SYS_OK(utimensat(AT_FDCWD, f.c_str(), set, 0));
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);

  const timespec omit_atime[2] = {{0, UTIME_OMIT}, {1200000000, 7}};
  ASSERT_SYS_OK(utimensat(AT_FDCWD, f.c_str(), omit_atime, 0));
  struct stat st = Stat(f);
  EXPECT_TRUE(Same(st.st_atim, set[0])) << Show(st.st_atim);
  EXPECT_TRUE(Same(st.st_mtim, omit_atime[1])) << Show(st.st_mtim);

  const timespec now_mtime[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  ASSERT_SYS_OK(utimensat(AT_FDCWD, f.c_str(), now_mtime, 0));
  st = Stat(f);
  EXPECT_TRUE(Same(st.st_atim, set[0])) << Show(st.st_atim);
  EXPECT_NEAR(st.st_mtim.tv_sec, now.tv_sec, 5) << "UTIME_NOW sets the current time";

  UniqueFd fd(open(f.c_str(), O_RDONLY));
  ASSERT_SYS_OK(fd.get());
  const timespec now_atime[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ASSERT_SYS_OK(futimens(fd.get(), now_atime));
  struct stat st2 = Stat(f);
  EXPECT_NEAR(st2.st_atim.tv_sec, now.tv_sec, 5);
  EXPECT_TRUE(Same(st2.st_mtim, st.st_mtim));

  ASSERT_SYS_OK(utimensat(AT_FDCWD, f.c_str(), set, 0));
  ASSERT_SYS_OK(utimensat(AT_FDCWD, f.c_str(), nullptr, 0));
  st = Stat(f);
  EXPECT_NEAR(st.st_atim.tv_sec, now.tv_sec, 5) << "NULL times means now";
  EXPECT_NEAR(st.st_mtim.tv_sec, now.tv_sec, 5);
}

TEST_F(AttrTest, WriteAndTruncateUpdateMtimeAndCtime) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "data"));
  const timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_SYS_OK(utimensat(AT_FDCWD, f.c_str(), old, 0));
  struct stat before = Stat(f);
  SleepForTimestamps();
  UniqueFd fd(open(f.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  ASSERT_EQ(pwrite(fd.get(), "x", 1, 2), 1);
  fd.reset();  // attributes must be right after close even with write-back caching
  struct stat st = Stat(f);
  EXPECT_GT(st.st_mtim.tv_sec, 1000000000);
  EXPECT_TRUE(After(st.st_ctim, before.st_ctim)) << Show(st.st_ctim);

  ASSERT_SYS_OK(utimensat(AT_FDCWD, f.c_str(), old, 0));
  before = Stat(f);
  SleepForTimestamps();
  ASSERT_SYS_OK(truncate(f.c_str(), 1));
  st = Stat(f);
  EXPECT_GT(st.st_mtim.tv_sec, 1000000000);
  EXPECT_TRUE(After(st.st_ctim, before.st_ctim));
}

TEST_F(AttrTest, ReadDoesNotChangeMtimeOrCtime) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "data"));
  struct stat before = Stat(f);
  SleepForTimestamps();
  EXPECT_EQ(ReadFile(f), "data");
  struct stat after = Stat(f);
  EXPECT_TRUE(Same(after.st_mtim, before.st_mtim));
  EXPECT_TRUE(Same(after.st_ctim, before.st_ctim));
}

TEST_F(AttrTest, CreateAndRemoveUpdateParentDirectoryTimes) {
  std::string d = Path("d");
  ASSERT_SYS_OK(mkdir(d.c_str(), 0755));
  const timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  auto check = [&](const char* what, auto op) {
    ASSERT_SYS_OK(utimensat(AT_FDCWD, d.c_str(), old, 0)) << what;
    struct stat before = Stat(d);
    SleepForTimestamps();
    ASSERT_SYS_OK(op()) << what;
    struct stat after = Stat(d);
    EXPECT_GT(after.st_mtim.tv_sec, 1000000000) << what;
    EXPECT_TRUE(After(after.st_ctim, before.st_ctim)) << what;
  };
  check("create", [&] { return close(open((d + "/f").c_str(), O_CREAT | O_WRONLY, 0644)); });
  check("mkdir", [&] { return mkdir((d + "/sub").c_str(), 0755); });
  check("symlink", [&] { return symlink("f", (d + "/l").c_str()); });
  check("link", [&] { return link((d + "/f").c_str(), (d + "/h").c_str()); });
  check("unlink", [&] { return unlink((d + "/h").c_str()); });
  check("rmdir", [&] { return rmdir((d + "/sub").c_str()); });
}

TEST_F(AttrTest, StatReportsSizeBlocksAndBlksize) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, Pattern(1 << 20, 1)));
  UniqueFd fd(open(f.c_str(), O_RDONLY));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(fsync(fd.get()));
  struct stat st = Stat(f);
  EXPECT_EQ(st.st_size, 1 << 20);
  EXPECT_GT(st.st_blksize, 0);
  EXPECT_GE(st.st_blocks * 512, st.st_size) << "a dense file occupies at least its size";
  EXPECT_EQ(st.st_dev, Stat(dir_).st_dev);
  EXPECT_NE(st.st_ino, Stat(dir_).st_ino);
}

TEST_F(AttrTest, StatfsReportsSaneValues) {
  struct statvfs sv {};
  ASSERT_SYS_OK(statvfs(dir_.c_str(), &sv));
  EXPECT_GT(sv.f_bsize, 0u);
  EXPECT_GT(sv.f_frsize, 0u);
  EXPECT_GT(sv.f_blocks, 0u);
  EXPECT_LE(sv.f_bfree, sv.f_blocks);
  EXPECT_LE(sv.f_bavail, sv.f_bfree);
  EXPECT_LE(sv.f_ffree, sv.f_files);
  EXPECT_GE(sv.f_namemax, 255u);
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  struct statvfs sf {};
  ASSERT_SYS_OK(statvfs(Path("f").c_str(), &sf));
  EXPECT_EQ(sf.f_fsid, sv.f_fsid);
  EXPECT_EQ(sf.f_bsize, sv.f_bsize);
  UniqueFd fd(open(Path("f").c_str(), O_RDONLY));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(fstatvfs(fd.get(), &sf));
  EXPECT_EQ(sf.f_blocks, sv.f_blocks);
}

TEST_F(AttrTest, AccessChecksExistenceAndModeBits) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "x", 0644));
  EXPECT_SYS_OK(access(f.c_str(), F_OK));
  EXPECT_SYS_OK(access(f.c_str(), R_OK | W_OK));
  EXPECT_SYS_ERRNO(access(Path("missing").c_str(), F_OK), ENOENT);
  EXPECT_SYS_ERRNO(access(f.c_str(), 0x40), EINVAL);
  if (!IsRoot()) {
    EXPECT_SYS_ERRNO(access(f.c_str(), X_OK), EACCES);
    return;
  }
  // Root bypasses read/write bits, but X_OK on a file needs at least one execute bit.
  ASSERT_SYS_OK(chmod(f.c_str(), 0000));
  EXPECT_SYS_OK(access(f.c_str(), R_OK | W_OK));
  EXPECT_SYS_ERRNO(access(f.c_str(), X_OK), EACCES);
  ASSERT_SYS_OK(chmod(f.c_str(), 0001));
  EXPECT_SYS_OK(access(f.c_str(), X_OK));
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0000));
  EXPECT_SYS_OK(access(Path("d").c_str(), R_OK | W_OK | X_OK));
}

TEST_F(ChownTest, RootChangesOwnerAndGroup) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "x"));
  ASSERT_SYS_OK(chown(f.c_str(), kUser.uid, kOtherGid));
  struct stat st = Stat(f);
  EXPECT_EQ(st.st_uid, kUser.uid);
  EXPECT_EQ(st.st_gid, kOtherGid);
  ASSERT_SYS_OK(chown(f.c_str(), -1, kForeignGid));
  st = Stat(f);
  EXPECT_EQ(st.st_uid, kUser.uid) << "-1 leaves the owner alone";
  EXPECT_EQ(st.st_gid, kForeignGid);
  UniqueFd fd(open(f.c_str(), O_RDONLY));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(fchown(fd.get(), kOther.uid, -1));
  EXPECT_EQ(Stat(f).st_uid, kOther.uid);

  ASSERT_SYS_OK(symlink("f", Path("l").c_str()));
  ASSERT_SYS_OK(lchown(Path("l").c_str(), kUser.uid, kUserGid));
  EXPECT_EQ(LStat(Path("l")).st_uid, kUser.uid);
  EXPECT_EQ(Stat(f).st_uid, kOther.uid) << "lchown changes the link, not its target";
  ASSERT_SYS_OK(chown(Path("l").c_str(), 0, 0));
  EXPECT_EQ(Stat(f).st_uid, 0u) << "chown follows the link";
  EXPECT_EQ(LStat(Path("l")).st_uid, kUser.uid);
}

TEST_F(ChownTest, ChownClearsSetuidAndGroupExecutableSetgid) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "x"));
  ASSERT_SYS_OK(chmod(f.c_str(), 06755));
  ASSERT_SYS_OK(chown(f.c_str(), kUser.uid, kUserGid));
  EXPECT_EQ(Stat(f).st_mode & 07777, 0755u) << "even root's chown clears set-id bits";
  // Without group execute, S_ISGID marks mandatory locking and is kept.
  ASSERT_SYS_OK(chmod(f.c_str(), 02644));
  ASSERT_SYS_OK(chown(f.c_str(), kOther.uid, kOtherGid));
  EXPECT_EQ(Stat(f).st_mode & 07777, 02644u);
  // Directories keep theirs.
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  ASSERT_SYS_OK(chmod(Path("d").c_str(), 02755));
  ASSERT_SYS_OK(chown(Path("d").c_str(), kUser.uid, kUserGid));
  EXPECT_EQ(Stat(Path("d")).st_mode & 07777, 02755u);
}

}  // namespace
}  // namespace shardfs::fstest
