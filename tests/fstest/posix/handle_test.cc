// File handles (name_to_handle_at, open_by_handle_at), as NFS export, fanotify tools and some
// backup programs use them: a handle stays valid for as long as its inode lives, also once the
// kernel has forgotten the inode, and fails with ESTALE once the inode is gone.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using FileHandleTest = FsRootTest;  // open_by_handle_at needs CAP_DAC_READ_SEARCH

struct Handle {
  std::unique_ptr<char[]> storage{new char[sizeof(file_handle) + MAX_HANDLE_SZ]};
  file_handle* get() { return reinterpret_cast<file_handle*>(storage.get()); }
};

::testing::AssertionResult HandleOf(const std::string& path, Handle& h) {
  h.get()->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (name_to_handle_at(AT_FDCWD, path.c_str(), h.get(), &mount_id, 0) != 0) {
    return ::testing::AssertionFailure()
           << "name_to_handle_at(" << path << "): " << ErrnoName(errno);
  }
  return ::testing::AssertionSuccess();
}

// Makes the kernel forget every unused inode (it sends FORGET for each), so that opening a
// handle has to ask the filesystem for the inode again.
void ForgetInodes() {
  sync();
  std::ofstream("/proc/sys/vm/drop_caches") << "2\n";
}

int OpenByHandle(Handle& h, int flags) {
  UniqueFd mount(open(TestRoot().c_str(), O_RDONLY | O_DIRECTORY));
  if (!mount.ok()) return -1;
  return open_by_handle_at(mount.get(), h.get(), flags);
}

TEST_F(FileHandleTest, HandlesOfLiveInodesOpenAfterTheKernelForgotThem) {
  const std::string data = Pattern(10000, 3);
  ASSERT_TRUE(WriteFile(Path("f"), data));
  ASSERT_SYS_OK(mkdir(Path("d").c_str(), 0755));
  ASSERT_TRUE(WriteFile(Path("d/g"), "inner"));
  Handle file, dir, inner;
  ASSERT_TRUE(HandleOf(Path("f"), file));
  ASSERT_TRUE(HandleOf(Path("d"), dir));
  ASSERT_TRUE(HandleOf(Path("d/g"), inner));
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "inodes cached" : "inodes forgotten by the kernel");
    if (round == 1) ForgetInodes();
    UniqueFd f(OpenByHandle(file, O_RDONLY));
    ASSERT_SYS_OK(f.get());
    EXPECT_TRUE(PRead(f.get(), 20000, 0) == data);
    UniqueFd d(OpenByHandle(dir, O_RDONLY | O_DIRECTORY));
    ASSERT_SYS_OK(d.get());
    struct stat st {};
    ASSERT_SYS_OK(fstatat(d.get(), "g", &st, 0));
    EXPECT_EQ(st.st_size, 5);
    UniqueFd g(OpenByHandle(inner, O_RDWR));
    ASSERT_SYS_OK(g.get());
    EXPECT_EQ(PRead(g.get(), 100, 0), "inner");
  }
}

TEST_F(FileHandleTest, HandleOfADeletedFileIsStale) {
  ASSERT_TRUE(WriteFile(Path("f"), "gone soon"));
  Handle h;
  ASSERT_TRUE(HandleOf(Path("f"), h));
  ASSERT_SYS_OK(unlink(Path("f").c_str()));
  ForgetInodes();
  EXPECT_SYS_ERRNO(OpenByHandle(h, O_RDONLY), ESTALE);
}

}  // namespace
}  // namespace shardfs::fstest
