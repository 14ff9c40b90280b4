// Permission checks as unprivileged users: mode bits, directory search/write, access(),
// O_TRUNC, utimensat, xattrs, sticky directories.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using PermAccessTest = FsUserTest;
using StickyTest = FsUserTest;

int OpenAs(const Cred& who, const std::string& path, int flags) {
  return RunAs(who, [&] {
    int fd = open(path.c_str(), flags);
    if (fd < 0) return errno;
    close(fd);
    return 0;
  });
}

int AccessAs(const Cred& who, const std::string& path, int mode) {
  return RunAs(who, [&] { return Err(access(path.c_str(), mode)); });
}

TEST_F(PermAccessTest, ModeBitsGovernOpen) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "secret", 0000));
  EXPECT_ERRNO(OpenAs(kUser, f, O_RDONLY), EACCES);
  EXPECT_ERRNO(OpenAs(kUser, f, O_WRONLY), EACCES);
  ASSERT_SYS_OK(chmod(f.c_str(), 0644));
  EXPECT_ERRNO(OpenAs(kUser, f, O_RDONLY), 0);
  EXPECT_ERRNO(OpenAs(kUser, f, O_WRONLY), EACCES);
  EXPECT_ERRNO(OpenAs(kUser, f, O_RDWR), EACCES);
  ASSERT_SYS_OK(chmod(f.c_str(), 0602));
  EXPECT_ERRNO(OpenAs(kUser, f, O_WRONLY), 0);
  EXPECT_ERRNO(OpenAs(kUser, f, O_RDONLY), EACCES);
  EXPECT_EQ(ReadFile(f), "secret");
}

// The owner class applies to the owner even when it grants less than "other"; likewise group.
TEST_F(PermAccessTest, FirstMatchingClassWinsEvenIfOthersMayMore) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "x", 0077));
  ASSERT_SYS_OK(chown(f.c_str(), kUser.uid, kOtherGid));
  EXPECT_ERRNO(OpenAs(kUser, f, O_RDONLY), EACCES);
  EXPECT_ERRNO(OpenAs(kOther, f, O_RDONLY), 0);
  ASSERT_SYS_OK(chown(f.c_str(), 0, kUserExtraGid));
  ASSERT_SYS_OK(chmod(f.c_str(), 0604));
  EXPECT_ERRNO(OpenAs(kUser, f, O_RDONLY), EACCES) << "supplementary group member gets group bits";
  EXPECT_ERRNO(OpenAs(kOther, f, O_RDONLY), 0);
}

TEST_F(PermAccessTest, TruncatingOpenNeedsWritePermission) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "keep me", 0644));
  EXPECT_ERRNO(OpenAs(kUser, f, O_RDONLY | O_TRUNC), EACCES);
  EXPECT_ERRNO(OpenAs(kUser, f, O_WRONLY | O_TRUNC), EACCES);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(truncate(f.c_str(), 0)); }), EACCES);
  EXPECT_EQ(ReadFile(f), "keep me");
  EXPECT_ERRNO(OpenAs(kUser, Path("new"), O_CREAT | O_WRONLY), EACCES) << "dir_ is 0755 root";
}

TEST_F(PermAccessTest, DirectoryWithoutSearchBlocksLookup) {
  std::string d = Path("d");
  ASSERT_SYS_OK(mkdir(d.c_str(), 0777));
  ASSERT_TRUE(WriteFile(d + "/f", "x", 0666));
  ASSERT_SYS_OK(chmod(d.c_str(), 0666));
  EXPECT_ERRNO(RunAs(kUser,
                     [&] {
                       struct stat st {};
                       return Err(stat((d + "/f").c_str(), &st));
                     }),
               EACCES);
  EXPECT_ERRNO(OpenAs(kUser, d + "/f", O_RDONLY), EACCES);
  EXPECT_ERRNO(OpenAs(kUser, d + "/new", O_CREAT | O_WRONLY), EACCES);
  EXPECT_ERRNO(OpenAs(kUser, d, O_RDONLY), 0) << "listing needs only r";
  // Without r but with x: names can be used but not listed.
  ASSERT_SYS_OK(chmod(d.c_str(), 0333));
  EXPECT_ERRNO(OpenAs(kUser, d, O_RDONLY | O_DIRECTORY), EACCES);
  EXPECT_ERRNO(OpenAs(kUser, d + "/f", O_RDONLY), 0);
}

TEST_F(PermAccessTest, DirectoryWithoutWriteBlocksChangesOfEntries) {
  std::string d = Path("d");
  ASSERT_SYS_OK(mkdir(d.c_str(), 0555));
  ASSERT_TRUE(WriteFile(d + "/f", "x", 0666));
  EXPECT_ERRNO(OpenAs(kUser, d + "/new", O_CREAT | O_WRONLY), EACCES);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(unlink((d + "/f").c_str())); }), EACCES);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(mkdir((d + "/sub").c_str(), 0755)); }), EACCES);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(rename((d + "/f").c_str(), (d + "/g").c_str())); }),
               EACCES);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(symlink("f", (d + "/l").c_str())); }), EACCES);
  EXPECT_ERRNO(OpenAs(kUser, d + "/f", O_WRONLY), 0) << "the file itself is writable";
  EXPECT_TRUE(Exists(d + "/f"));
}

// Moving a directory to another parent rewrites its "..", so needs write permission on it.
TEST_F(PermAccessTest, MovingADirectoryNeedsWriteOnIt) {
  ASSERT_SYS_OK(mkdir(Path("p1").c_str(), 0777));
  ASSERT_SYS_OK(mkdir(Path("p2").c_str(), 0777));
  ASSERT_SYS_OK(mkdir(Path("p1/d").c_str(), 0755));  // root's, not writable by kUser
  EXPECT_ERRNO(
      RunAs(kUser, [&] { return Err(rename(Path("p1/d").c_str(), Path("p2/d").c_str())); }),
      EACCES);
  EXPECT_ERRNO(
      RunAs(kUser, [&] { return Err(rename(Path("p1/d").c_str(), Path("p1/e").c_str())); }), 0)
      << "within one parent the directory itself is not written";
}

TEST_F(PermAccessTest, AccessReportsUserPermissions) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "x", 0604));
  EXPECT_ERRNO(AccessAs(kUser, f, F_OK), 0);
  EXPECT_ERRNO(AccessAs(kUser, f, R_OK), 0);
  EXPECT_ERRNO(AccessAs(kUser, f, W_OK), EACCES);
  EXPECT_ERRNO(AccessAs(kUser, f, X_OK), EACCES);
  EXPECT_ERRNO(AccessAs(kUser, f, R_OK | W_OK), EACCES);
  ASSERT_SYS_OK(chmod(f.c_str(), 0003));
  EXPECT_ERRNO(AccessAs(kUser, f, W_OK | X_OK), 0);
  EXPECT_ERRNO(AccessAs(kUser, f, R_OK), EACCES);
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0700));
  EXPECT_ERRNO(AccessAs(kUser, Path("d"), X_OK), EACCES);
  EXPECT_ERRNO(AccessAs(kUser, Path("d") + "/anything", F_OK), EACCES);
}

TEST_F(PermAccessTest, UtimensNowNeedsWriteAndExplicitTimesNeedOwnership) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "x", 0666));
  const timespec set[2] = {{1000000000, 0}, {1000000000, 0}};
  const timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  const timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  ASSERT_SYS_OK(utimensat(AT_FDCWD, f.c_str(), set, 0));
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(utimensat(AT_FDCWD, f.c_str(), nullptr, 0)); }), 0);
  EXPECT_GT(Stat(f).st_mtime, 1000000000);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(utimensat(AT_FDCWD, f.c_str(), now, 0)); }), 0);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(utimensat(AT_FDCWD, f.c_str(), set, 0)); }), EPERM);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(utimensat(AT_FDCWD, f.c_str(), omit, 0)); }), 0);
  EXPECT_NE(Stat(f).st_mtime, 1000000000);

  ASSERT_SYS_OK(chmod(f.c_str(), 0644));
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(utimensat(AT_FDCWD, f.c_str(), nullptr, 0)); }),
               EACCES);
  ASSERT_SYS_OK(chown(f.c_str(), kUser.uid, kUserGid));
  ASSERT_SYS_OK(chmod(f.c_str(), 0444));
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(utimensat(AT_FDCWD, f.c_str(), set, 0)); }), 0)
      << "the owner may set any times";
  EXPECT_EQ(Stat(f).st_mtime, 1000000000);
}

TEST_F(PermAccessTest, UserXattrsFollowFilePermissions) {
  std::string f = Path("f");
  ASSERT_TRUE(WriteFile(f, "x", 0644));
  ASSERT_SYS_OK(setxattr(f.c_str(), "user.a", "v", 1, 0));
  EXPECT_ERRNO(RunAs(kUser,
                     [&] {
                       char buf[8];
                       return Err(getxattr(f.c_str(), "user.a", buf, sizeof buf));
                     }),
               0);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(setxattr(f.c_str(), "user.b", "v", 1, 0)); }), EACCES);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(removexattr(f.c_str(), "user.a")); }), EACCES);
  ASSERT_SYS_OK(chmod(f.c_str(), 0600));
  EXPECT_ERRNO(RunAs(kUser,
                     [&] {
                       char buf[8];
                       return Err(getxattr(f.c_str(), "user.a", buf, sizeof buf));
                     }),
               EACCES);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(setxattr(f.c_str(), "trusted.t", "v", 1, 0)); }),
               EPERM);
}

TEST_F(StickyTest, OnlyOwnersMayRemoveOrRenameInStickyDirectory) {
  std::string d = Path("tmp");
  ASSERT_SYS_OK(mkdir(d.c_str(), 0777));
  ASSERT_SYS_OK(chmod(d.c_str(), 01777));
  std::string theirs = d + "/theirs";
  ASSERT_ERRNO(RunAs(kOther, [&] { return Err(mknod(theirs.c_str(), S_IFREG | 0666, 0)); }), 0);
  ASSERT_ERRNO(RunAs(kUser, [&] { return Err(mknod((d + "/mine").c_str(), S_IFREG | 0666, 0)); }),
               0);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(unlink(theirs.c_str())); }), EPERM, EACCES);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(rename(theirs.c_str(), (d + "/x").c_str())); }), EPERM,
               EACCES);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(rename((d + "/mine").c_str(), theirs.c_str())); }),
               EPERM, EACCES)
      << "nor replace it";
  EXPECT_ERRNO(OpenAs(kUser, theirs, O_WRONLY), 0) << "writing the file is still allowed";
  EXPECT_TRUE(Exists(theirs));
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(unlink((d + "/mine").c_str())); }), 0);
  EXPECT_ERRNO(RunAs(kOther, [&] { return Err(unlink(theirs.c_str())); }), 0);
}

TEST_F(StickyTest, DirectoryOwnerMayRemoveAnyEntry) {
  std::string d = Path("tmp");
  ASSERT_SYS_OK(mkdir(d.c_str(), 0777));
  ASSERT_SYS_OK(chmod(d.c_str(), 01777));
  ASSERT_SYS_OK(chown(d.c_str(), kUser.uid, kUserGid));
  std::string theirs = d + "/theirs";
  ASSERT_ERRNO(RunAs(kOther, [&] { return Err(mknod(theirs.c_str(), S_IFREG | 0644, 0)); }), 0);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(unlink(theirs.c_str())); }), 0);
}

TEST_F(StickyTest, WithoutStickyBitAnyWriterMayRemove) {
  std::string d = Path("shared");
  ASSERT_SYS_OK(mkdir(d.c_str(), 0777));
  std::string theirs = d + "/theirs";
  ASSERT_ERRNO(RunAs(kOther, [&] { return Err(mknod(theirs.c_str(), S_IFREG | 0600, 0)); }), 0);
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(unlink(theirs.c_str())); }), 0);
  EXPECT_FALSE(Exists(theirs));
}

}  // namespace
}  // namespace shardfs::fstest
