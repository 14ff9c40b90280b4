// The FUSE adapter through a real mount, over FakeFilesystem: what applications see (errno,
// xattr sizes, rename flags, readdir) and what the core sees (open flags, lookup counts,
// Shutdown). Needs root and /dev/fuse; skipped otherwise. Every test unmounts what it mounted.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "fs/fuse/fuse_session.h"
#include "fs/fuse/uring_transport.h"
#include "tests/fakes/fake_filesystem.h"

namespace shardfs::fuse {
namespace {

class MountedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || ::access("/dev/fuse", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "needs root and /dev/fuse";
    }
    char tmpl[] = "/tmp/shardfs-fuse-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    mountpoint_ = tmpl;
    MountOptions options;
    Adjust(options);
    auto session = FuseSession::Mount(fs_, options, "shardfs:test", mountpoint_);
    ASSERT_TRUE(session.ok()) << session.error().message;
    session_ = std::move(session).value();
    loop_ = std::thread([this] { run_status_ = session_->Run(); });
  }

  void TearDown() override {
    if (loop_.joinable()) {
      EXPECT_EQ(::umount2(mountpoint_.c_str(), 0), 0) << std::strerror(errno);
      loop_.join();
      EXPECT_TRUE(run_status_.ok());
      EXPECT_EQ(fs_.shutdown_calls(), 1);
    }
    session_.reset();
    if (!mountpoint_.empty()) ::rmdir(mountpoint_.c_str());
  }

  virtual void Adjust(MountOptions&) {}

  std::string Path(const std::string& name) const { return mountpoint_ + "/" + name; }

  void WriteFile(const std::string& name, const std::string& data) {
    int fd = ::open(Path(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(::close(fd), 0);
  }

  std::string ReadFile(const std::string& name) {
    int fd = ::open(Path(name).c_str(), O_RDONLY);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
  }

  // Files of every size up to several MiB, so that requests and replies fill ring payloads.
  void WriteAndReadBack() {
    for (size_t size : {size_t{0}, size_t{1}, size_t{4096}, size_t{70000}, size_t{1} << 20,
                        (size_t{3} << 20) + 17}) {
      std::string data(size, '\0');
      for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (i * 7 + size) % 26);
      const std::string name = "sized" + std::to_string(size);
      WriteFile(name, data);
      EXPECT_EQ(ReadFile(name), data) << name;
    }
  }

  static int ErrnoOf(int rc) { return rc == 0 ? 0 : errno; }

  testing::FakeFilesystem fs_;
  std::string mountpoint_;
  std::unique_ptr<FuseSession> session_;
  std::thread loop_;
  util::Status run_status_;
};

TEST_F(MountedTest, FilesRoundTrip) {
  struct stat st {};
  ASSERT_EQ(::stat(mountpoint_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  WriteFile("hello.txt", "hello, world\n");
  ASSERT_EQ(::stat(Path("hello.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 13);
  EXPECT_EQ(ReadFile("hello.txt"), "hello, world\n");
  ASSERT_EQ(::truncate(Path("hello.txt").c_str(), 5), 0);
  EXPECT_EQ(ReadFile("hello.txt"), "hello");
  ASSERT_EQ(::unlink(Path("hello.txt").c_str()), 0);
  EXPECT_EQ(ErrnoOf(::stat(Path("hello.txt").c_str(), &st)), ENOENT);
}

bool KernelOffersUring() {
  std::ifstream in("/sys/module/fuse/parameters/enable_uring");
  char c = 0;
  return (in >> c) && c == 'Y';
}

TEST_F(MountedTest, RequestsComeThroughIoUringWhenTheKernelOffersIt) {
  if (!KernelOffersUring()) GTEST_SKIP() << "the fuse module's enable_uring is off";
  // The rings register after INIT; until every CPU's queue has an entry, /dev/fuse serves.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (internal::UringTransport::CurrentStats().entries <
             internal::UringTransport::kEntriesPerQueue * std::thread::hardware_concurrency() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const uint64_t before = internal::UringTransport::CurrentStats().served;
  WriteAndReadBack();
  struct stat st {};
  EXPECT_EQ(ErrnoOf(::stat(Path("missing").c_str(), &st)), ENOENT);  // errors travel too
  EXPECT_GT(internal::UringTransport::CurrentStats().entries, 0u);
  EXPECT_GE(internal::UringTransport::CurrentStats().served, before + 24);
}

class DevFuseMountedTest : public MountedTest {
  void Adjust(MountOptions& options) override { options.io_uring = false; }
};

TEST_F(DevFuseMountedTest, NoIoUringKeepsEveryRequestOnDevFuse) {
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // past INIT
  const uint64_t before = internal::UringTransport::CurrentStats().served;
  WriteAndReadBack();
  EXPECT_EQ(internal::UringTransport::CurrentStats().entries, 0u);
  EXPECT_EQ(internal::UringTransport::CurrentStats().served, before);
}

TEST_F(MountedTest, NegativeEntriesDoNotHideNewFiles) {
  struct stat st {};
  EXPECT_EQ(ErrnoOf(::stat(Path("later").c_str(), &st)), ENOENT);
  EXPECT_EQ(ErrnoOf(::stat(Path("later").c_str(), &st)), ENOENT);  // from the kernel's cache
  WriteFile("later", "x");
  EXPECT_EQ(::stat(Path("later").c_str(), &st), 0);
}

TEST_F(MountedTest, WriteOnlyOpensReachTheCoreReadWrite) {
  WriteFile("w", "data");
  int fd = ::open(Path("w").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_EQ(fs_.last_open_flags() & O_ACCMODE, O_RDWR);
  EXPECT_EQ(fs_.last_open_flags() & O_APPEND, 0);
}

TEST_F(MountedTest, DirectoryErrorsAndRenameFlags) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  WriteFile("d/f", "1");
  WriteFile("g", "2");
  EXPECT_EQ(ErrnoOf(::mkdir(Path("d").c_str(), 0755)), EEXIST);
  EXPECT_EQ(ErrnoOf(::rmdir(Path("d").c_str())), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf(::renameat2(AT_FDCWD, Path("g").c_str(), AT_FDCWD, Path("d/f").c_str(),
                                RENAME_NOREPLACE)),
            EEXIST);
  ASSERT_EQ(
      ::renameat2(AT_FDCWD, Path("g").c_str(), AT_FDCWD, Path("d/f").c_str(), RENAME_EXCHANGE), 0);
  EXPECT_EQ(ReadFile("g"), "1");
  EXPECT_EQ(ReadFile("d/f"), "2");
  EXPECT_EQ(ErrnoOf(::renameat2(AT_FDCWD, Path("g").c_str(), AT_FDCWD, Path("h").c_str(),
                                RENAME_WHITEOUT)),
            EINVAL);
  ASSERT_EQ(::rename(Path("g").c_str(), Path("h").c_str()), 0);
  EXPECT_EQ(ReadFile("h"), "1");
}

TEST_F(MountedTest, SymlinksAndHardLinks) {
  ASSERT_EQ(::symlink("some/target", Path("s").c_str()), 0);
  char buf[64] = {};
  ASSERT_EQ(::readlink(Path("s").c_str(), buf, sizeof buf), 11);
  EXPECT_STREQ(buf, "some/target");
  WriteFile("a", "linked");
  ASSERT_EQ(::link(Path("a").c_str(), Path("b").c_str()), 0);
  EXPECT_EQ(ReadFile("b"), "linked");
}

TEST_F(MountedTest, Xattrs) {
  WriteFile("x", "");
  const std::string p = Path("x");
  ASSERT_EQ(::setxattr(p.c_str(), "user.k", "value", 5, 0), 0);
  EXPECT_EQ(ErrnoOf(::setxattr(p.c_str(), "user.k", "v", 1, XATTR_CREATE)), EEXIST);
  EXPECT_EQ(ErrnoOf(::setxattr(p.c_str(), "user.none", "v", 1, XATTR_REPLACE)), ENODATA);
  EXPECT_EQ(::getxattr(p.c_str(), "user.k", nullptr, 0), 5);
  char buf[16];
  EXPECT_EQ(::getxattr(p.c_str(), "user.k", buf, 2), -1);
  EXPECT_EQ(errno, ERANGE);
  ASSERT_EQ(::getxattr(p.c_str(), "user.k", buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf, 5), "value");
  ASSERT_EQ(::setxattr(p.c_str(), "user.j", "", 0, 0), 0);
  EXPECT_EQ(::listxattr(p.c_str(), nullptr, 0), 14);
  EXPECT_EQ(::listxattr(p.c_str(), buf, 3), -1);
  EXPECT_EQ(errno, ERANGE);
  ASSERT_EQ(::listxattr(p.c_str(), buf, sizeof buf), 14);
  EXPECT_EQ(std::string(buf, 14), std::string("user.j\0user.k\0", 14));
  ASSERT_EQ(::removexattr(p.c_str(), "user.k"), 0);
  EXPECT_EQ(::getxattr(p.c_str(), "user.k", buf, sizeof buf), -1);
  EXPECT_EQ(errno, ENODATA);
}

// The kernel asks for security.capability before a write(2) only until it knows the file has
// none (FUSE_HANDLE_KILLPRIV_V2): before, every write(2) cost a GETXATTR round trip.
void WriteManyTimes(const std::string& path, int writes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const std::string block(4096, 'w');
  for (int i = 0; i < writes; ++i) {
    ASSERT_EQ(::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i) * 8192), 4096);
  }
  ASSERT_EQ(::close(fd), 0);
}

TEST_F(MountedTest, WritesAskForSecurityCapabilityOncePerFile) {
  WriteManyTimes(Path("w"), 50);
  WriteManyTimes(Path("w"), 50);
  EXPECT_LE(fs_.getxattr_calls(), 1);
  WriteManyTimes(Path("v"), 50);
  EXPECT_LE(fs_.getxattr_calls(), 2);
}

TEST_F(DevFuseMountedTest, WritesAskForSecurityCapabilityOncePerFile) {
  WriteManyTimes(Path("w"), 50);
  WriteManyTimes(Path("w"), 50);
  EXPECT_LE(fs_.getxattr_calls(), 1);
}

// Runs fn in a child process as uid/gid 65534 (no CAP_FSETID); its exit code: 0 or an errno.
template <typename Fn>
int AsNobody(Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(100);
    }
    ::_exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 101;
}

// Mounted with allow_other, so that other users may use it.
class SharedMountedTest : public MountedTest {
  void Adjust(MountOptions& options) override { options.allow_other = true; }
};

// With HANDLE_KILLPRIV_V2 the kernel leaves clearing set-id bits to the filesystem and says
// when in the request: a write and an O_TRUNC open by a caller without CAP_FSETID.
TEST_F(SharedMountedTest, UnprivilegedWritesAndTruncatingOpensClearSetIdBits) {
  WriteFile("suid", "data");
  const std::string p = Path("suid");
  ASSERT_EQ(::chmod(p.c_str(), 06777), 0);
  ASSERT_EQ(fs_.kill_setid_calls(), 0);
  EXPECT_EQ(AsNobody([&] {
              int fd = ::open(p.c_str(), O_WRONLY);
              if (fd < 0) return errno;
              if (::write(fd, "W", 1) != 1) return errno;
              return ::close(fd) == 0 ? 0 : errno;
            }),
            0);
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0777u);
  EXPECT_GE(fs_.kill_setid_calls(), 1);
  EXPECT_EQ(ReadFile("suid"), "Wata");

  ASSERT_EQ(::chmod(p.c_str(), 04777), 0);
  EXPECT_EQ(AsNobody([&] {
              int fd = ::open(p.c_str(), O_WRONLY | O_TRUNC);
              if (fd < 0) return errno;
              return ::close(fd) == 0 ? 0 : errno;
            }),
            0);
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0777u);
  EXPECT_EQ(st.st_size, 0);

  // Root (CAP_FSETID) keeps them.
  ASSERT_EQ(::chmod(p.c_str(), 06777), 0);
  const int kills = fs_.kill_setid_calls();
  WriteFile("suid", "root");
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 06777u);
  EXPECT_EQ(fs_.kill_setid_calls(), kills);
}

TEST_F(MountedTest, CoreErrorsBecomeErrno) {
  WriteFile("corrupt", "will not come back");
  // Drop the pages the write left in the kernel's cache, so the read reaches the core.
  int fd = ::open(Path("corrupt").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  char buf[64];
  EXPECT_EQ(::pread(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_EQ(ErrnoOf(::fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 10)), EOPNOTSUPP);
  ::close(fd);
  EXPECT_EQ(ErrnoOf(::mknod(Path("fifo").c_str(), S_IFIFO | 0644, 0)), EOPNOTSUPP);
}

TEST_F(MountedTest, Statfs) {
  struct statvfs sv {};
  ASSERT_EQ(::statvfs(mountpoint_.c_str(), &sv), 0);
  EXPECT_EQ(sv.f_bsize, 4096u);
  EXPECT_EQ(sv.f_blocks, (uint64_t{1} << 30) / 4096);
  EXPECT_EQ(sv.f_bavail, (uint64_t{1} << 28) / 4096);
  EXPECT_EQ(sv.f_files, 1000u);
  EXPECT_EQ(sv.f_ffree, 900u);
}

// Many entries, so readdirplus fills several buffers and refuses entries that do not fit: the
// lookups the core counted must be exactly those the kernel forgets once it drops its caches.
TEST_F(MountedTest, ReaddirplusLookupsBalance) {
  ASSERT_EQ(::mkdir(Path("many").c_str(), 0755), 0);
  std::set<std::string> made;
  for (int i = 0; i < 300; ++i) {
    std::string name = "file-with-a-fairly-long-name-" + std::to_string(i);
    int fd = ::open(Path("many/" + name).c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
    made.insert(name);
  }
  for (int pass = 0; pass < 2; ++pass) {
    std::set<std::string> seen;
    DIR* dir = ::opendir(Path("many").c_str());
    ASSERT_NE(dir, nullptr);
    while (dirent* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") {
        EXPECT_TRUE(seen.insert(name).second) << name;
      }
    }
    ::closedir(dir);
    EXPECT_EQ(seen, made);
  }
  EXPECT_GT(fs_.OutstandingLookups(), 0u);
  ::sync();
  int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "2", 1), 1);
  ::close(fd);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (fs_.OutstandingLookups() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(fs_.OutstandingLookups(), 0u);
}

}  // namespace
}  // namespace shardfs::fuse
