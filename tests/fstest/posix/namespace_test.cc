// mkdir, rmdir, unlink, mknod, lookup errors (ENOENT, ENOTDIR, EEXIST, ENAMETOOLONG).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using NamespaceTest = FsTest;
using DeviceNodeTest = FsRootTest;

TEST_F(NamespaceTest, MkdirCreatesEmptyDirectoryWithDotEntries) {
  std::string d = Path("d");
  ASSERT_SYS_OK(mkdir(d.c_str(), 0751));
  struct stat st = Stat(d);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0751u);
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(Stat(d + "/.").st_ino, st.st_ino);
  EXPECT_EQ(Stat(d + "/..").st_ino, Stat(dir_).st_ino);
  EXPECT_EQ(Stat(d + "/").st_ino, st.st_ino);
}

TEST_F(NamespaceTest, MkdirOverExistingNameFailsWithEexist) {
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  EXPECT_SYS_ERRNO(mkdir(Path("d").c_str(), 0755), EEXIST);
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  EXPECT_SYS_ERRNO(mkdir(Path("f").c_str(), 0755), EEXIST);
  ASSERT_SYS_OK(symlink("nowhere", Path("l").c_str()));
  EXPECT_SYS_ERRNO(mkdir(Path("l").c_str(), 0755), EEXIST);
  EXPECT_FALSE(Exists(Path("nowhere")));
  EXPECT_SYS_ERRNO(mkdir(Path("missing/d").c_str(), 0755), ENOENT);
  EXPECT_SYS_ERRNO(mkdir(Path("f/d").c_str(), 0755), ENOTDIR);
}

TEST_F(NamespaceTest, RmdirRemovesOnlyEmptyDirectories) {
  std::string d = Path("d");
  ASSERT_SYS_OK(mkdir(d.c_str(), 0755));
  ASSERT_TRUE(WriteFile(d + "/f", "x"));
  EXPECT_SYS_ERRNO(rmdir(d.c_str()), ENOTEMPTY, EEXIST);
  ASSERT_SYS_OK(unlink((d + "/f").c_str()));
  ASSERT_SYS_OK(mkdir((d + "/sub").c_str(), 0755));
  EXPECT_SYS_ERRNO(rmdir(d.c_str()), ENOTEMPTY, EEXIST);
  ASSERT_SYS_OK(rmdir((d + "/sub").c_str()));
  EXPECT_SYS_OK(rmdir(d.c_str()));
  EXPECT_FALSE(Exists(d));
  EXPECT_SYS_ERRNO(rmdir(d.c_str()), ENOENT);
}

TEST_F(NamespaceTest, RmdirAndUnlinkRejectWrongTypes) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  EXPECT_SYS_ERRNO(rmdir(Path("f").c_str()), ENOTDIR);
  EXPECT_SYS_ERRNO(unlink(Path("d").c_str()), EISDIR);  // Linux; POSIX also allows EPERM
  EXPECT_SYS_ERRNO(rmdir((Path("d") + "/.").c_str()), EINVAL);
  EXPECT_SYS_ERRNO(rmdir((Path("d") + "/..").c_str()), ENOTEMPTY, EEXIST);
  ASSERT_SYS_OK(symlink("d", Path("l").c_str()));
  EXPECT_SYS_ERRNO(rmdir(Path("l").c_str()), ENOTDIR);
  EXPECT_SYS_OK(unlink(Path("l").c_str())) << "unlink removes the symlink, not its target";
  EXPECT_TRUE(Exists(Path("d")));
  EXPECT_SYS_ERRNO(unlink(Path("missing").c_str()), ENOENT);
}

TEST_F(NamespaceTest, UnlinkRemovesNameAndData) {
  ASSERT_TRUE(WriteFile(Path("f"), Pattern(70000, 1)));
  ASSERT_SYS_OK(unlink(Path("f").c_str()));
  EXPECT_SYS_ERRNO(open(Path("f").c_str(), O_RDONLY), ENOENT);
  ASSERT_TRUE(WriteFile(Path("f"), "new"));
  EXPECT_EQ(ReadFile(Path("f")), "new") << "a new file under an old name starts empty";
}

TEST_F(NamespaceTest, LookupErrorsOnMissingAndNonDirectoryComponents) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  struct stat st {};
  EXPECT_SYS_ERRNO(stat(Path("missing").c_str(), &st), ENOENT);
  EXPECT_SYS_ERRNO(stat(Path("missing/x").c_str(), &st), ENOENT);
  EXPECT_SYS_ERRNO(stat(Path("f/x").c_str(), &st), ENOTDIR);
  EXPECT_SYS_ERRNO(stat(Path("f/").c_str(), &st), ENOTDIR);
  EXPECT_SYS_ERRNO(stat(Path("f/.").c_str(), &st), ENOTDIR);
  EXPECT_SYS_ERRNO(open(Path("f/").c_str(), O_RDONLY), ENOTDIR);
  EXPECT_SYS_ERRNO(access(Path("missing").c_str(), F_OK), ENOENT);
  EXPECT_SYS_ERRNO(stat("", &st), ENOENT);
}

TEST_F(NamespaceTest, NamesUpTo255BytesWorkAnd256FailWithEnametoolong) {
  std::string n255(255, 'a');
  std::string n256(256, 'b');
  ASSERT_TRUE(WriteFile(Path(n255), "ok"));
  EXPECT_EQ(ReadFile(Path(n255)), "ok");
  ASSERT_SYS_OK(mkdir(Path(std::string(255, 'd')).c_str(), 0755));
  EXPECT_SYS_ERRNO(open(Path(n256).c_str(), O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
  EXPECT_SYS_ERRNO(open(Path(n256).c_str(), O_RDONLY), ENAMETOOLONG);
  EXPECT_SYS_ERRNO(mkdir(Path(n256).c_str(), 0755), ENAMETOOLONG);
  EXPECT_SYS_ERRNO(symlink("x", Path(n256).c_str()), ENAMETOOLONG);
  EXPECT_SYS_ERRNO(link(Path(n255).c_str(), Path(n256).c_str()), ENAMETOOLONG);
  EXPECT_SYS_ERRNO(rename(Path(n255).c_str(), Path(n256).c_str()), ENAMETOOLONG);
  EXPECT_SYS_ERRNO(mknod(Path(n256).c_str(), S_IFIFO | 0644, 0), ENAMETOOLONG);
  EXPECT_TRUE(Exists(Path(n255)));
  struct stat st {};
  std::string long_path = dir_;
  while (long_path.size() <= 4096) long_path += "/" + std::string(200, 'p');
  EXPECT_SYS_ERRNO(stat(long_path.c_str(), &st), ENAMETOOLONG);
}

TEST_F(NamespaceTest, MknodMakesRegularFilesFifosAndSockets) {
  ASSERT_SYS_OK(mknod(Path("reg").c_str(), S_IFREG | 0640, 0));
  struct stat st = LStat(Path("reg"));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_size, 0);

  ASSERT_SYS_OK(mkfifo(Path("fifo").c_str(), 0620));
  st = LStat(Path("fifo"));
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);

  ASSERT_SYS_OK(mknod(Path("sock").c_str(), S_IFSOCK | 0600, 0));
  EXPECT_TRUE(S_ISSOCK(LStat(Path("sock")).st_mode));

  EXPECT_SYS_ERRNO(mknod(Path("fifo").c_str(), S_IFIFO | 0600, 0), EEXIST);
  EXPECT_SYS_ERRNO(mknod(Path("nodir/x").c_str(), S_IFIFO | 0600, 0), ENOENT);
}

TEST_F(NamespaceTest, FifoPassesDataThroughTheKernel) {
  ASSERT_SYS_OK(mkfifo(Path("fifo").c_str(), 0600));
  UniqueFd fd(open(Path("fifo").c_str(), O_RDWR));  // O_RDWR: Linux opens without blocking
  ASSERT_SYS_OK(fd.get());
  ASSERT_EQ(write(fd.get(), "ping", 4), 4);
  char buf[8] = {};
  ASSERT_EQ(read(fd.get(), buf, sizeof buf), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  EXPECT_EQ(LStat(Path("fifo")).st_size, 0);
}

TEST_F(NamespaceTest, UnixSocketCanBeBoundAndConnected) {
  UniqueFd dirfd(open(dir_.c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_SYS_OK(dirfd.get());
  // Bind through /proc/self/fd so the path fits sun_path whatever SHARDFS_FSTEST_DIR is.
  std::string path = "/proc/self/fd/" + std::to_string(dirfd.get()) + "/sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd server(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_SYS_OK(server.get());
  ASSERT_SYS_OK(bind(server.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr));
  ASSERT_SYS_OK(listen(server.get(), 1));
  EXPECT_TRUE(S_ISSOCK(LStat(Path("sock")).st_mode));
  UniqueFd client(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_SYS_OK(client.get());
  ASSERT_SYS_OK(connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr));
  UniqueFd conn(accept(server.get(), nullptr, nullptr));
  ASSERT_SYS_OK(conn.get());
  ASSERT_EQ(write(client.get(), "hi", 2), 2);
  char buf[4] = {};
  ASSERT_EQ(read(conn.get(), buf, sizeof buf), 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
  EXPECT_SYS_ERRNO(bind(UniqueFd(socket(AF_UNIX, SOCK_STREAM, 0)).get(),
                        reinterpret_cast<sockaddr*>(&addr), sizeof addr),
                   EADDRINUSE);
}

TEST_F(DeviceNodeTest, MknodMakesCharAndBlockDevicesAsRoot) {
  ASSERT_SYS_OK(mknod(Path("chr").c_str(), S_IFCHR | 0600, makedev(1, 3)));
  struct stat st = LStat(Path("chr"));
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 1u);
  EXPECT_EQ(minor(st.st_rdev), 3u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  ASSERT_SYS_OK(mknod(Path("blk").c_str(), S_IFBLK | 0640, makedev(259, 70000)));
  st = LStat(Path("blk"));
  EXPECT_TRUE(S_ISBLK(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 259u);
  EXPECT_EQ(minor(st.st_rdev), 70000u);
  ASSERT_SYS_OK(unlink(Path("blk").c_str()));
  EXPECT_FALSE(Exists(Path("blk")));
}

TEST_F(DeviceNodeTest, UnprivilegedMknodOfDeviceFailsWithEperm) {
  ASSERT_SYS_OK(chmod(dir_.c_str(), 0777));
  std::string p = Path("chr");
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(mknod(p.c_str(), S_IFCHR | 0600, makedev(1, 3))); }),
               EPERM);
  EXPECT_FALSE(Exists(p));
  EXPECT_ERRNO(RunAs(kUser, [&] { return Err(mkfifo(Path("fifo").c_str(), 0600)); }), 0);
  EXPECT_EQ(LStat(Path("fifo")).st_uid, kUser.uid);
}

}  // namespace
}  // namespace shardfs::fstest
