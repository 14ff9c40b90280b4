#include "tests/fstest/posix/fs_helpers.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace shardfs::fstest {

std::string ErrnoName(int err) {
  if (err == 0) return "0 (success)";
  const char* name = strerrorname_np(err);
  std::string out = name ? name : "E?" + std::to_string(err);
  return out + " (" + strerror(err) + ")";
}

namespace {

std::string ErrnoList(const Errnos& want) {
  std::string out;
  for (int e : want) {
    if (!out.empty()) out += " or ";
    const char* name = strerrorname_np(e);
    out += e == 0 ? "success" : (name ? name : std::to_string(e));
  }
  return out;
}

bool Contains(const Errnos& want, int e) {
  return std::find(want.begin(), want.end(), e) != want.end();
}

}  // namespace

::testing::AssertionResult CheckSysOk(const char* expr, long long result, int err) {
  if (result != -1) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expr << " failed: " << ErrnoName(err);
}

::testing::AssertionResult CheckSysErrno(const char* expr, long long result, int err,
                                         const Errnos& want) {
  if (result != -1) {
    return ::testing::AssertionFailure()
           << expr << " succeeded (returned " << result << "), expected " << ErrnoList(want);
  }
  if (Contains(want, err)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << expr << " failed with " << ErrnoName(err) << ", expected " << ErrnoList(want);
}

::testing::AssertionResult ErrnoFormat(const char*, const char*, const char*, int got,
                                       const char* expr, const Errnos& want) {
  if (Contains(want, got)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << expr << " gave " << ErrnoName(got) << ", expected " << ErrnoList(want);
}

Child::Child(const std::function<int()>& fn) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << ErrnoName(errno);
    return;
  }
  fflush(nullptr);
  pid_ = fork();
  if (pid_ < 0) {
    ADD_FAILURE() << "fork: " << ErrnoName(errno);
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid_ == 0) {
    close(fds[0]);
    alarm(30);
    int result = fn();
    if (write(fds[1], &result, sizeof result) != sizeof result) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  pipe_ = fds[0];
}

Child::~Child() {
  if (pid_ > 0) {  // not waited for: the test already failed; end the child quietly
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    close(pipe_);
  }
}

int Child::Wait() {
  if (pid_ <= 0) return -1;
  int result = 0;
  ssize_t n = read(pipe_, &result, sizeof result);
  close(pipe_);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (n != static_cast<ssize_t>(sizeof result)) {
    ADD_FAILURE() << "child reported nothing; "
                  << (WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                          : "exit status " + std::to_string(WEXITSTATUS(status)));
    return -1;
  }
  return result;
}

int RunInChild(const std::function<int()>& fn) { return Child(fn).Wait(); }

int RunAs(const Cred& cred, const std::function<int()>& fn) {
  return RunInChild([&]() -> int {
    if (setgroups(cred.groups.size(), cred.groups.data()) != 0 ||
        setresgid(cred.gid, cred.gid, cred.gid) != 0 ||
        setresuid(cred.uid, cred.uid, cred.uid) != 0) {
      fprintf(stderr, "RunAs(%u): cannot switch ids: %s\n", cred.uid, ErrnoName(errno).c_str());
      _exit(4);
    }
    return fn();
  });
}

bool IsRoot() { return geteuid() == 0; }

std::string Pattern(size_t size, unsigned seed) {
  std::string out(size, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>((x & 0x7f) | 1);  // never zero
  }
  return out;
}

::testing::AssertionResult WriteFile(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode));
  if (!fd.ok())
    return ::testing::AssertionFailure() << "create " << path << ": " << ErrnoName(errno);
  return PWriteAll(fd.get(), data, 0);
}

std::string ReadFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY));
  if (!fd.ok()) {
    ADD_FAILURE() << "open " << path << ": " << ErrnoName(errno);
    return "<error: open " + path + " " + ErrnoName(errno) + ">";
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      ADD_FAILURE() << "read " << path << ": " << ErrnoName(errno);
      return "<error: read>";
    }
    if (n == 0) return out;
    out.append(buf, n);
  }
}

std::string PRead(int fd, size_t size, off_t offset) {
  std::string out(size, '\0');
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, out.data() + done, size - done, offset + done);
    if (n < 0) {
      ADD_FAILURE() << "pread(" << size << " at " << offset << "): " << ErrnoName(errno);
      return "<error: pread>";
    }
    if (n == 0) break;
    done += n;
  }
  out.resize(done);
  return out;
}

::testing::AssertionResult PWriteAll(int fd, std::string_view data, off_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd, data.data() + done, data.size() - done, offset + done);
    if (n <= 0) {
      return ::testing::AssertionFailure() << "pwrite(" << data.size() << " at " << offset
                                           << "): " << (n < 0 ? ErrnoName(errno) : "wrote 0");
    }
    done += n;
  }
  return ::testing::AssertionSuccess();
}

struct stat Stat(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    ADD_FAILURE() << "stat " << path << ": " << ErrnoName(errno);
    st = {};
  }
  return st;
}

struct stat LStat(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    ADD_FAILURE() << "lstat " << path << ": " << ErrnoName(errno);
    st = {};
  }
  return st;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

bool IsAllZero(std::string_view data) {
  for (char c : data) {
    if (c != 0) return false;
  }
  return true;
}

void RemoveTree(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    ADD_FAILURE() << "cleanup: lstat " << path << ": " << ErrnoName(errno);
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlink(path.c_str()) != 0) {
      ADD_FAILURE() << "cleanup: unlink " << path << ": " << ErrnoName(errno);
    }
    return;
  }
  if ((st.st_mode & 0700) != 0700) chmod(path.c_str(), 0700);
  std::vector<std::string> names;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
  } else {
    ADD_FAILURE() << "cleanup: opendir " << path << ": " << ErrnoName(errno);
  }
  for (const auto& n : names) RemoveTree(path + "/" + n);
  if (rmdir(path.c_str()) != 0) {
    ADD_FAILURE() << "cleanup: rmdir " << path << ": " << ErrnoName(errno);
  }
}

std::string TestRoot() {
  const char* dir = getenv("SHARDFS_FSTEST_DIR");
  return dir ? dir : "";
}

long TestFsType() {
  struct statfs sfs {};
  if (statfs(TestRoot().c_str(), &sfs) != 0) return 0;
  return static_cast<long>(sfs.f_type);
}

void FsTest::SetUp() {
  std::string root = TestRoot();
  ASSERT_FALSE(root.empty()) << "SHARDFS_FSTEST_DIR is not set: point it at a directory on the "
                                "filesystem under test (e.g. a fresh directory in a shardfs mount)";
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  dir_ = root + "/" + name + "." + std::to_string(getpid()) + "." + std::to_string(counter++);
  ASSERT_SYS_OK(mkdir(dir_.c_str(), 0755)) << " (is SHARDFS_FSTEST_DIR=" << root << " writable?)";
  ASSERT_SYS_OK(chmod(dir_.c_str(), 0755));
}

void FsTest::TearDown() {
  if (!dir_.empty() && Exists(dir_)) RemoveTree(dir_);
}

void FsRootTest::SetUp() {
  if (!IsRoot()) GTEST_SKIP() << "needs root (device nodes, chown, switching to test uids)";
  FsTest::SetUp();
}

void FsUserTest::SetUp() {
  FsRootTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  ASSERT_ERRNO(RunAs(kUser, [&] { return Err(access(dir_.c_str(), X_OK)); }), 0)
      << "uid " << kUser.uid << " cannot reach " << dir_
      << ": make every directory on the path to SHARDFS_FSTEST_DIR searchable by others "
         "(chmod o+x), and mount with -o allow_other";
}

void SleepForTimestamps() {
  timespec ts{0, 30 * 1000 * 1000};
  nanosleep(&ts, nullptr);
}

namespace {

// Prints what is being tested and sets umask 0 so created modes are exactly the modes asked.
class FsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    umask(0);
    std::string root = TestRoot();
    struct statfs sfs {};
    if (root.empty() || statfs(root.c_str(), &sfs) != 0) {
      fprintf(stderr, "fstest_posix: SHARDFS_FSTEST_DIR=%s is not usable\n", root.c_str());
      return;
    }
    fprintf(stderr, "fstest_posix: testing %s (f_type 0x%lx), running as uid %u\n", root.c_str(),
            static_cast<unsigned long>(sfs.f_type), geteuid());
  }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new FsEnvironment);

}  // namespace

}  // namespace shardfs::fstest
