// flock, POSIX record locks and OFD locks: they work and conflict between processes.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using LockTest = FsTest;

struct flock Range(short type, off_t start, off_t len) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  return fl;
}

// In a child: opens `path` with `flags` and tries a non-blocking fcntl lock.
int TryLockInChild(const std::string& path, int flags, short type, off_t start, off_t len) {
  return RunInChild([&]() -> int {
    int fd = open(path.c_str(), flags);
    if (fd < 0) return errno;
    struct flock fl = Range(type, start, len);
    return Err(fcntl(fd, F_SETLK, &fl));
  });
}

int TryFlockInChild(const std::string& path, int op) {
  return RunInChild([&]() -> int {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) return errno;
    return Err(flock(fd, op | LOCK_NB));
  });
}

TEST_F(LockTest, FlockExclusiveConflictsAndSharedCoexist) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, "x"));
  UniqueFd fd(open(p.c_str(), O_RDONLY));
  ASSERT_SYS_OK(fd.get());
  ASSERT_SYS_OK(flock(fd.get(), LOCK_EX));
  EXPECT_ERRNO(TryFlockInChild(p, LOCK_EX), EWOULDBLOCK);
  EXPECT_ERRNO(TryFlockInChild(p, LOCK_SH), EWOULDBLOCK);
  ASSERT_SYS_OK(flock(fd.get(), LOCK_SH));  // downgrade
  EXPECT_ERRNO(TryFlockInChild(p, LOCK_SH), 0);
  EXPECT_ERRNO(TryFlockInChild(p, LOCK_EX), EWOULDBLOCK);
  ASSERT_SYS_OK(flock(fd.get(), LOCK_UN));
  EXPECT_ERRNO(TryFlockInChild(p, LOCK_EX), 0);
  ASSERT_SYS_OK(flock(fd.get(), LOCK_EX));
  fd.reset();  // closing the last descriptor releases the lock
  EXPECT_ERRNO(TryFlockInChild(p, LOCK_EX), 0);
}

TEST_F(LockTest, FcntlWriteLockConflictsOnOverlapOnly) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, std::string(300, 'x')));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  struct flock fl = Range(F_WRLCK, 0, 100);
  ASSERT_SYS_OK(fcntl(fd.get(), F_SETLK, &fl));
  EXPECT_ERRNO(TryLockInChild(p, O_RDWR, F_WRLCK, 50, 10), EAGAIN, EACCES);
  EXPECT_ERRNO(TryLockInChild(p, O_RDONLY, F_RDLCK, 99, 1), EAGAIN, EACCES);
  EXPECT_ERRNO(TryLockInChild(p, O_RDWR, F_WRLCK, 100, 100), 0);
  EXPECT_ERRNO(TryLockInChild(p, O_RDWR, F_WRLCK, 200, 0), 0) << "len 0 means to EOF and beyond";

  // F_GETLK from another process reports the holder.
  pid_t me = getpid();
  EXPECT_ERRNO(RunInChild([&]() -> int {
                 int cfd = open(p.c_str(), O_RDWR);
                 struct flock q = Range(F_WRLCK, 10, 5);
                 if (fcntl(cfd, F_GETLK, &q) != 0) return errno;
                 bool ok = q.l_type == F_WRLCK && q.l_pid == me && q.l_start == 0 && q.l_len == 100;
                 return ok ? 0 : EPROTO;
               }),
               0);
  fl.l_type = F_UNLCK;
  ASSERT_SYS_OK(fcntl(fd.get(), F_SETLK, &fl));
  EXPECT_ERRNO(TryLockInChild(p, O_RDWR, F_WRLCK, 50, 10), 0);
}

TEST_F(LockTest, FcntlReadLocksAreShared) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, "data"));
  UniqueFd fd(open(p.c_str(), O_RDONLY));
  ASSERT_SYS_OK(fd.get());
  struct flock fl = Range(F_RDLCK, 0, 0);
  ASSERT_SYS_OK(fcntl(fd.get(), F_SETLK, &fl));
  EXPECT_ERRNO(TryLockInChild(p, O_RDONLY, F_RDLCK, 0, 0), 0);
  EXPECT_ERRNO(TryLockInChild(p, O_RDWR, F_WRLCK, 2, 1), EAGAIN, EACCES);
  struct flock w = Range(F_WRLCK, 0, 1);
  EXPECT_SYS_ERRNO(fcntl(fd.get(), F_SETLK, &w), EBADF) << "write lock needs a writable fd";
}

TEST_F(LockTest, ClosingAnyDescriptorDropsProcessLocks) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, "data"));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  struct flock fl = Range(F_WRLCK, 0, 0);
  ASSERT_SYS_OK(fcntl(fd.get(), F_SETLK, &fl));
  EXPECT_ERRNO(TryLockInChild(p, O_RDWR, F_WRLCK, 0, 1), EAGAIN, EACCES);
  UniqueFd(open(p.c_str(), O_RDONLY)).reset();  // classic POSIX lock semantics
  EXPECT_ERRNO(TryLockInChild(p, O_RDWR, F_WRLCK, 0, 1), 0);
}

TEST_F(LockTest, BlockingLockWaitsForRelease) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, "data"));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  struct flock fl = Range(F_WRLCK, 0, 0);
  ASSERT_SYS_OK(fcntl(fd.get(), F_SETLK, &fl));
  int ready[2];
  ASSERT_SYS_OK(pipe(ready));
  Child waiter([&]() -> int {
    close(ready[0]);
    int cfd = open(p.c_str(), O_RDWR);
    if (cfd < 0) return errno;
    if (write(ready[1], "r", 1) != 1) return EIO;
    timespec t0{}, t1{};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct flock w = Range(F_WRLCK, 0, 0);
    if (fcntl(cfd, F_SETLKW, &w) != 0) return errno;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    return ms >= 100 ? 0 : ETIME;  // it must have waited for the parent
  });
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  timespec pause{0, 300 * 1000 * 1000};
  nanosleep(&pause, nullptr);
  fl.l_type = F_UNLCK;
  ASSERT_SYS_OK(fcntl(fd.get(), F_SETLK, &fl));
  EXPECT_ERRNO(waiter.Wait(), 0);
}

TEST_F(LockTest, OfdLocksConflictBetweenDescriptorsOfOneProcess) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, "data"));
  UniqueFd a(open(p.c_str(), O_RDWR));
  UniqueFd b(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(a.get());
  ASSERT_SYS_OK(b.get());
  struct flock fl = Range(F_WRLCK, 0, 10);
  ASSERT_SYS_OK(fcntl(a.get(), F_OFD_SETLK, &fl));
  struct flock fl2 = Range(F_WRLCK, 5, 10);
  EXPECT_SYS_ERRNO(fcntl(b.get(), F_OFD_SETLK, &fl2), EAGAIN);
  EXPECT_ERRNO(TryLockInChild(p, O_RDWR, F_WRLCK, 0, 1), EAGAIN, EACCES);
  a.reset();
  EXPECT_SYS_OK(fcntl(b.get(), F_OFD_SETLK, &fl2));
}

}  // namespace
}  // namespace shardfs::fstest
