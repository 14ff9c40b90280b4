// fstest_concurrent: the integrity exerciser's round under concurrent buffered readers. One
// process changes a file with the calls that bypass or cut through the page cache — O_DIRECT
// writes (asynchronous, io_submit, and synchronous), punched holes, copy_file_range into it —
// while other processes keep reading the same file through ordinary buffered descriptors. After
// each call has returned, the file is read through a fresh descriptor and through one held open
// since the start, and compared with an in-memory model: a stale page left in the kernel's cache
// shows as a difference. Prints the seed first; on a difference, the seed, round, call and first
// differing offset. Usage: see Usage() or tests/fstest/CMakeLists.txt.
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/falloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/fstest/random.h"

namespace {

using shardfs::fstest::Rng;

constexpr size_t kAlign = 4096;

std::vector<pid_t> g_readers;  // killed on every exit, failures included

void StopReaders() {
  for (pid_t pid : g_readers) kill(pid, SIGKILL);
  for (pid_t pid : g_readers) waitpid(pid, nullptr, 0);
  g_readers.clear();
}

struct Options {
  std::string dir;
  uint64_t seed = 0;
  bool seed_given = false;
  double seconds = 20;
  int readers = 2;
  size_t size = 640 << 10;
};

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "fstest_concurrent: %s: %s\n", what.c_str(), strerror(errno));
  StopReaders();
  exit(1);
}

// A buffer aligned for O_DIRECT.
struct Aligned {
  explicit Aligned(size_t n) : size(n) {
    if (posix_memalign(&p, kAlign, std::max(n, kAlign)) != 0) Die("posix_memalign");
  }
  ~Aligned() { free(p); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  char* data() { return static_cast<char*>(p); }
  void* p = nullptr;
  size_t size;
};

void FillRandom(Rng& rng, char* out, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng.Next();
    memcpy(out + i, &v, std::min<size_t>(8, n - i));
  }
}

void WriteAll(int fd, const char* data, size_t n, off_t off) {
  for (size_t done = 0; done < n;) {
    ssize_t w = pwrite(fd, data + done, n - done, off + static_cast<off_t>(done));
    if (w <= 0) Die("pwrite");
    done += static_cast<size_t>(w);
  }
}

std::string ReadAll(int fd, size_t max) {
  std::string out(max + 4096, '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0) Die("pread");
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

// Keeps reading the file through buffered descriptors, fresh and long-lived, until killed.
[[noreturn]] void Reader(const std::string& path, size_t size, int index) {
  g_readers.clear();  // the parent's
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) _exit(0);
  int held = open(path.c_str(), O_RDONLY);
  if (held < 0) _exit(1);
  std::vector<char> buf(64 << 10);
  for (uint64_t round = 0;; ++round) {
    int fd = round % 2 == 0 ? open(path.c_str(), O_RDONLY) : held;
    if (fd < 0) _exit(1);
    // Whole-file passes and small reads at random places, so pages come and go.
    off_t off = (round % 3 == 0) ? 0 : static_cast<off_t>((round * 7919 + index * 4099) % size);
    for (; off < static_cast<off_t>(size); off += static_cast<off_t>(buf.size())) {
      if (pread(fd, buf.data(), buf.size(), off) < 0) _exit(1);
      if (round % 3 != 0) break;
    }
    if (fd != held) close(fd);
  }
}

class Round {
 public:
  explicit Round(const Options& o) : o_(o), rng_(o.seed) {}
  int Run();

 private:
  void Fail(const std::string& what, const std::string& got, size_t at);
  void Verify(const char* after);
  void DirectWrite(bool async);
  void Punch();
  void Copy();

  const Options& o_;
  Rng rng_;
  std::string path_, src_path_;
  std::string model_, src_model_;
  int fd_ = -1;      // buffered, read-write: punch holes, hold pages
  int dfd_ = -1;     // O_DIRECT
  int src_fd_ = -1;  // copy_file_range source
  aio_context_t aio_ = 0;
  uint64_t round_ = 0;
  std::string last_;
};

void Round::Fail(const std::string& what, const std::string& got, size_t at) {
  auto hex = [](const std::string& s, size_t from) {
    std::string out;
    char b[4];
    for (size_t i = from; i < s.size() && i < from + 16; ++i) {
      snprintf(b, sizeof b, "%02x ", static_cast<unsigned char>(s[i]));
      out += b;
    }
    return out.empty() ? std::string("(nothing)") : out;
  };
  fprintf(stderr,
          "\nfstest_concurrent: FAILURE in round %" PRIu64 " (seed %" PRIu64
          "): %s\n  after: %s\n  first difference at offset %zu (read %zu bytes, model %zu)\n"
          "  read:  %s\n  model: %s\nreproduce: fstest_concurrent --dir %s --seed %" PRIu64 "\n",
          round_, o_.seed, what.c_str(), last_.c_str(), at, got.size(), model_.size(),
          hex(got, at).c_str(), hex(model_, at).c_str(), o_.dir.c_str(), o_.seed);
  StopReaders();
  exit(1);
}

void Round::Verify(const char* how) {
  int fresh = open(path_.c_str(), O_RDONLY);
  if (fresh < 0) Die("open " + path_);
  for (int fd : {fresh, fd_}) {
    std::string got = ReadAll(fd, model_.size());
    if (got != model_) {
      size_t n = std::min(got.size(), model_.size());
      size_t at =
          std::mismatch(got.begin(), got.begin() + static_cast<ptrdiff_t>(n), model_.begin())
              .first -
          got.begin();
      Fail(std::string("a buffered read through ") +
               (fd == fresh ? "a fresh descriptor" : "a descriptor held open") + " after " + how +
               " returned other bytes",
           got, at);
    }
  }
  close(fresh);
}

void Round::DirectWrite(bool async) {
  // Whole-file rewrites (as a database or a VM image does) and aligned pieces.
  size_t off = 0, len = model_.size();
  if (rng_.Below(2) == 0) {
    off = rng_.Below(model_.size() / kAlign) * kAlign;
    len = (1 + rng_.Below((model_.size() - off) / kAlign)) * kAlign;
  }
  Aligned buf(len);
  FillRandom(rng_, buf.data(), len);
  last_ = std::string(async ? "io_submit" : "pwrite") + " O_DIRECT off=" + std::to_string(off) +
          " len=" + std::to_string(len);
  if (async) {
    iocb cb{};
    cb.aio_fildes = static_cast<uint32_t>(dfd_);
    cb.aio_lio_opcode = IOCB_CMD_PWRITE;
    cb.aio_buf = reinterpret_cast<uint64_t>(buf.data());
    cb.aio_nbytes = len;
    cb.aio_offset = static_cast<int64_t>(off);
    iocb* list[1] = {&cb};
    if (syscall(SYS_io_submit, aio_, 1, list) != 1) Die("io_submit");
    io_event ev{};
    long got = 0;
    while ((got = syscall(SYS_io_getevents, aio_, 1, 1, &ev, nullptr)) == 0 ||
           (got < 0 && errno == EINTR)) {
    }
    if (got != 1) Die("io_getevents");
    if (ev.res != static_cast<int64_t>(len)) {
      errno = ev.res < 0 ? static_cast<int>(-ev.res) : EIO;
      Die("asynchronous O_DIRECT write of " + std::to_string(len) + " bytes");
    }
  } else {
    WriteAll(dfd_, buf.data(), len, static_cast<off_t>(off));
  }
  memcpy(model_.data() + off, buf.data(), len);
  Verify(last_.c_str());
}

void Round::Punch() {
  size_t off = rng_.Below(model_.size());
  size_t len = 1 + rng_.Below(std::min<size_t>(model_.size() - off, 256 << 10));
  last_ = "punch hole off=" + std::to_string(off) + " len=" + std::to_string(len);
  if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off),
                static_cast<off_t>(len)) != 0) {
    Die(last_);
  }
  std::fill_n(model_.begin() + static_cast<ptrdiff_t>(off), len, '\0');
  Verify(last_.c_str());
}

void Round::Copy() {
  size_t len = 1 + rng_.Below(256 << 10);
  size_t from = rng_.Below(src_model_.size() - len);
  size_t to = rng_.Below(model_.size() - len);
  last_ = "copy_file_range from=" + std::to_string(from) + " to=" + std::to_string(to) +
          " len=" + std::to_string(len);
  for (size_t done = 0; done < len;) {
    loff_t in = static_cast<loff_t>(from + done), out = static_cast<loff_t>(to + done);
    ssize_t n = copy_file_range(src_fd_, &in, fd_, &out, len - done, 0);
    if (n <= 0) Die(last_);
    done += static_cast<size_t>(n);
  }
  memcpy(model_.data() + to, src_model_.data() + from, len);
  Verify(last_.c_str());
}

int Round::Run() {
  path_ = o_.dir + "/concurrent.data";
  src_path_ = o_.dir + "/concurrent.src";
  model_.assign(o_.size, '\0');
  FillRandom(rng_, model_.data(), model_.size());
  src_model_.assign(1 << 20, '\0');
  FillRandom(rng_, src_model_.data(), src_model_.size());
  fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  src_fd_ = open(src_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd_ < 0 || src_fd_ < 0) Die("create " + path_);
  WriteAll(fd_, model_.data(), model_.size(), 0);
  WriteAll(src_fd_, src_model_.data(), src_model_.size(), 0);
  if (fsync(fd_) != 0 || fsync(src_fd_) != 0) Die("fsync");
  dfd_ = open(path_.c_str(), O_RDWR | O_DIRECT);
  if (dfd_ < 0) Die("open O_DIRECT " + path_);
  if (syscall(SYS_io_setup, 8, &aio_) != 0) Die("io_setup");

  for (int i = 0; i < o_.readers; ++i) {
    pid_t pid = fork();
    if (pid < 0) Die("fork");
    if (pid == 0) Reader(path_, o_.size, i);
    g_readers.push_back(pid);
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(o_.seconds);
  uint64_t counts[4] = {0, 0, 0, 0};
  for (round_ = 1; std::chrono::steady_clock::now() < deadline; ++round_) {
    const size_t kind = rng_.Below(10);
    if (kind < 4) {
      DirectWrite(true), ++counts[0];
    } else if (kind < 6) {
      DirectWrite(false), ++counts[1];
    } else if (kind < 8) {
      Punch(), ++counts[2];
    } else {
      Copy(), ++counts[3];
    }
  }
  // A reader that died on its own (an error reading) fails the round too.
  for (pid_t pid : g_readers) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      errno = EIO;
      Die("a buffered reader stopped with status " + std::to_string(status));
    }
  }
  StopReaders();
  syscall(SYS_io_destroy, aio_);
  close(dfd_);
  close(fd_);
  close(src_fd_);
  unlink(path_.c_str());
  unlink(src_path_.c_str());
  printf("fstest_concurrent: ok, seed %" PRIu64 ", %" PRIu64
         " rounds with %d buffered readers: %" PRIu64 " io_submit and %" PRIu64
         " pwrite O_DIRECT writes, %" PRIu64 " punched holes, %" PRIu64
         " copy_file_range, each checked through a fresh and a held descriptor\n",
         o_.seed, round_ - 1, o_.readers, counts[0], counts[1], counts[2], counts[3]);
  return 0;
}

void Usage() {
  fprintf(stderr,
          "usage: fstest_concurrent --dir DIR [--seed N] [--seconds S] [--readers N]\n"
          "  --dir      directory on the filesystem under test (files concurrent.*)\n"
          "  --seed     random seed (default: random; always printed)\n"
          "  --seconds  how long to run (default 20)\n"
          "  --readers  buffered reader processes (default 2)\n");
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    const char* value = argv[i + 1];
    char* end = nullptr;
    if (arg == "--dir") {
      o->dir = value;
      continue;
    }
    errno = 0;
    if (arg == "--seed") {
      o->seed = strtoull(value, &end, 10) & static_cast<uint64_t>(INT64_MAX);
      o->seed_given = true;
    } else if (arg == "--seconds") {
      o->seconds = strtod(value, &end);
    } else if (arg == "--readers") {
      o->readers = static_cast<int>(strtol(value, &end, 10));
    } else {
      fprintf(stderr, "fstest_concurrent: unknown option %s\n", arg.c_str());
      return false;
    }
    if (errno != 0 || end == value || *end != '\0') {
      fprintf(stderr, "fstest_concurrent: bad value for %s: %s\n", arg.c_str(), value);
      return false;
    }
  }
  if (argc % 2 == 0 || o->dir.empty() || o->seconds <= 0 || o->readers < 0) {
    fprintf(stderr, "fstest_concurrent: --dir is required; --seconds > 0, --readers >= 0\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    Usage();
    return 2;
  }
  if (!o.seed_given) o.seed = shardfs::fstest::FreshSeed();
  printf("fstest_concurrent: seed %" PRIu64 " (rerun with --seed %" PRIu64
         "), dir %s, %.0f s, %d readers\n",
         o.seed, o.seed, o.dir.c_str(), o.seconds, o.readers);
  fflush(stdout);
  return Round(o).Run();
}
