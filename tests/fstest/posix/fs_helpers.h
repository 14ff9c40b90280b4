// Helpers for the POSIX conformance suite (fstest_posix): a fixture that gives every test a fresh
// directory under $SHARDFS_FSTEST_DIR and removes it afterwards, syscall assertions that print
// errno names, RAII descriptors, file helpers, and RunAs()/RunInChild() that run a step in a
// forked child (optionally under another uid/gid) and report its errno back through a pipe.
// Not thread-safe: tests call these from the gtest main thread only.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace shardfs::fstest {

// "ENOENT (No such file or directory)"; 0 prints as "0 (success)".
std::string ErrnoName(int err);

// The errno of a failed syscall result (-1), or 0 on success. Call it directly on the syscall
// (`Err(unlink(p))`) so nothing can clobber errno in between.
inline int Err(long result) { return result == -1 ? errno : 0; }

// The errno values a failed call may report (0 stands for success in ErrnoFormat). No heap
// allocation: it is built next to the syscall whose errno is about to be read.
struct Errnos {
  template <typename... E>
  explicit Errnos(E... e) : list{static_cast<int>(e)...}, size(sizeof...(e)) {
    static_assert(sizeof...(e) >= 1 && sizeof...(e) <= 4, "list 1 to 4 errno values");
  }
  const int* begin() const { return list.data(); }
  const int* end() const { return list.data() + size; }
  std::array<int, 4> list;
  size_t size;
};

::testing::AssertionResult CheckSysOk(const char* expr, long long result, int err);
::testing::AssertionResult CheckSysErrno(const char* expr, long long result, int err,
                                         const Errnos& want);

// gtest predicate formatters behind the macros below. Each reads errno first thing, right after
// the syscall was evaluated as its argument. `text` is the call as written (unexpanded).
template <typename T>
::testing::AssertionResult SysOkFormat(const char*, const char*, T result, const char* text) {
  return CheckSysOk(text, static_cast<long long>(result), errno);
}
template <typename T>
::testing::AssertionResult SysErrnoFormat(const char*, const char*, const char*, T result,
                                          const char* text, const Errnos& want) {
  return CheckSysErrno(text, static_cast<long long>(result), errno, want);
}
::testing::AssertionResult ErrnoFormat(const char*, const char*, const char*, int got,
                                       const char* text, const Errnos& want);

}  // namespace shardfs::fstest

// The syscall `expr` succeeded (did not return -1); prints the errno name otherwise.
#define ASSERT_SYS_OK(expr) ASSERT_PRED_FORMAT2(::shardfs::fstest::SysOkFormat, expr, #expr)
#define EXPECT_SYS_OK(expr) EXPECT_PRED_FORMAT2(::shardfs::fstest::SysOkFormat, expr, #expr)
// The syscall `expr` returned -1 with errno one of the listed values.
#define ASSERT_SYS_ERRNO(expr, ...)                                   \
  ASSERT_PRED_FORMAT3(::shardfs::fstest::SysErrnoFormat, expr, #expr, \
                      ::shardfs::fstest::Errnos(__VA_ARGS__))
#define EXPECT_SYS_ERRNO(expr, ...)                                   \
  EXPECT_PRED_FORMAT3(::shardfs::fstest::SysErrnoFormat, expr, #expr, \
                      ::shardfs::fstest::Errnos(__VA_ARGS__))
// An errno value (0 = success, e.g. from RunAs) is one of the listed values.
#define ASSERT_ERRNO(got, ...)                                   \
  ASSERT_PRED_FORMAT3(::shardfs::fstest::ErrnoFormat, got, #got, \
                      ::shardfs::fstest::Errnos(__VA_ARGS__))
#define EXPECT_ERRNO(got, ...)                                   \
  EXPECT_PRED_FORMAT3(::shardfs::fstest::ErrnoFormat, got, #got, \
                      ::shardfs::fstest::Errnos(__VA_ARGS__))

namespace shardfs::fstest {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Users for permission tests: numeric ids made up for the suite (no passwd entry needed).
struct Cred {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;  // supplementary groups
};
inline constexpr gid_t kUserGid = 61001;
inline constexpr gid_t kUserExtraGid = 61010;  // kUser is a member, kOther is not
inline constexpr gid_t kOtherGid = 61002;
inline constexpr gid_t kForeignGid = 61020;  // nobody's group
inline const Cred kUser{61001, kUserGid, {kUserGid, kUserExtraGid}};
inline const Cred kOther{61002, kOtherGid, {kOtherGid}};

// A forked child running `fn`, which returns an errno value (0 for success). The child is
// killed after 30 s. Wait() returns fn's result; if the child died, it records a test failure
// and returns -1. Destroying an unwaited Child kills and reaps it.
class Child {
 public:
  explicit Child(const std::function<int()>& fn);
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();
  int Wait();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int pipe_ = -1;
};

// Runs `fn` in a forked child and returns its result (see Child).
int RunInChild(const std::function<int()>& fn);
// Same, but the child first drops to `cred` (setgroups, setresgid, setresuid). Needs root.
int RunAs(const Cred& cred, const std::function<int()>& fn);

bool IsRoot();

// Deterministic non-trivial bytes (no long zero runs) so misplaced data is detected.
std::string Pattern(size_t size, unsigned seed);

// Whole-file helpers; failures are reported in the AssertionResult / as a test failure.
::testing::AssertionResult WriteFile(const std::string& path, std::string_view data,
                                     mode_t mode = 0644);
std::string ReadFile(const std::string& path);         // "<error ...>" on failure
std::string PRead(int fd, size_t size, off_t offset);  // short at EOF; "<error ...>" on failure
::testing::AssertionResult PWriteAll(int fd, std::string_view data, off_t offset);
struct stat Stat(const std::string& path);   // zeroed + test failure if stat fails
struct stat LStat(const std::string& path);  // zeroed + test failure if lstat fails
bool Exists(const std::string& path);        // lstat succeeds
bool IsAllZero(std::string_view data);

// Removes a tree (chmod-ing directories first so restrictive modes don't block root).
// Reports every failure as a test failure: a tree that cannot be removed is a filesystem bug.
void RemoveTree(const std::string& path);

// The filesystem under test: $SHARDFS_FSTEST_DIR ("" if unset).
std::string TestRoot();
// statfs f_type of the filesystem under test.
long TestFsType();
inline constexpr long kFuseMagic = 0x65735546;  // FUSE_SUPER_MAGIC

// Each test gets dir_: a fresh, empty directory (mode 0755, owned by the caller) to fill.
class FsTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::string Path(std::string_view name) const { return dir_ + "/" + std::string(name); }

  std::string dir_;
};

// For tests that need root (device nodes, chown): skipped with a reason otherwise.
class FsRootTest : public FsTest {
 protected:
  void SetUp() override;
};

// For permission tests run as kUser/kOther: needs root to switch ids, and the whole path to
// $SHARDFS_FSTEST_DIR must be searchable by others.
class FsUserTest : public FsRootTest {
 protected:
  void SetUp() override;
};

// Sleep long enough for the coarsest kernel timestamp granularity to tick.
void SleepForTimestamps();

}  // namespace shardfs::fstest
