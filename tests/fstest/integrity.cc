// fstest_integrity: a randomized data-integrity exerciser. Applies the same random operations
// (pwrite incl. far past EOF, pread, ftruncate, O_APPEND writes, mmap writes and reads,
// fallocate, punched holes, fsync, reopen) to files in --dir (the filesystem under test) and to
// shadow copies in --shadow (a normal local filesystem), and compares them byte for byte.
// The op sequence depends only on the seed (the shadow's sizes drive every choice), so a seed
// printed with a failure reproduces it. Usage: see Usage() or tests/fstest/CMakeLists.txt.
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/fstest/random.h"

namespace {

using shardfs::fstest::Rng;

struct Options {
  std::string dir;
  std::string shadow;
  uint64_t seed = 0;
  bool seed_given = false;
  long ops = 10000;
  int files = 4;
  off_t max_size = 16 << 20;
  off_t block = 64 << 10;
  long verify_every = 1000;
  bool verify_only = false;
  bool keep = false;
  bool fallocate = true;
};

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name ? name : "E?") + " (" + strerror(err) + ")";
}

struct File {
  std::string name;
  std::string path;         // under test
  std::string shadow_path;  // reference copy
  int fd = -1;
  int sfd = -1;
  off_t size = 0;  // expected size (the shadow's)
};

sigjmp_buf g_sigbus_jump;
volatile sig_atomic_t g_in_mapping = 0;

void OnSigbus(int) {
  if (g_in_mapping) siglongjmp(g_sigbus_jump, 1);
  signal(SIGBUS, SIG_DFL);
  raise(SIGBUS);
}

class Exerciser {
 public:
  explicit Exerciser(const Options& o) : o_(o), rng_(o.seed) {}

  int Run();
  int VerifyOnly();

 private:
  [[noreturn]] void Fail(const std::string& why);
  void Log(const std::string& what);
  void Check(bool ok, const std::string& what, const std::string& where) {
    if (!ok) Fail(what + " on the " + where + " file failed: " + ErrnoText(errno));
  }
  void PWrite(int fd, const char* data, size_t len, off_t off, const char* where);
  std::string PRead(int fd, size_t len, off_t off, const char* where);
  void CompareBytes(const std::string& got, const std::string& want, off_t base,
                    const std::string& how);
  void CompareFile(const std::string& path, const std::string& shadow_path, off_t want_size);
  void Open(File& f, int extra_flags);
  void Fill(size_t len);

  off_t PickOffset(const File& f, off_t len);
  off_t PickLength();
  void DoWrite(File& f);
  void DoRead(File& f);
  void DoTruncate(File& f);
  void DoAppend(File& f);
  void DoMmapWrite(File& f);
  void DoMmapRead(File& f);
  void DoFallocate(File& f);
  void DoPunch(File& f);
  void DoOne(File& f);
  void Touched(off_t off, off_t len) {
    touched_off_ = off;
    touched_len_ = len;
  }
  void ReadBack(File& f);

  const Options& o_;
  Rng rng_;
  std::vector<File> files_;
  std::deque<std::string> log_;
  std::vector<char> buf_;
  long op_ = 0;
  std::string current_;  // the file the current op works on
  uint64_t verified_bytes_ = 0;
  off_t touched_off_ = -1;  // the range the last op changed, for ReadBack
  off_t touched_len_ = 0;
};

void Exerciser::Fail(const std::string& why) {
  if (o_.verify_only) {
    fprintf(stderr, "\nfstest_integrity: VERIFY FAILURE, file %s\n  %s\n", current_.c_str(),
            why.c_str());
    exit(1);
  }
  fprintf(stderr, "\nfstest_integrity: FAILURE at op %ld (seed %" PRIu64 ", file %s)\n  %s\n", op_,
          o_.seed, current_.c_str(), why.c_str());
  fprintf(stderr, "last %zu ops:\n", log_.size());
  for (const auto& l : log_) fprintf(stderr, "  %s\n", l.c_str());
  fprintf(stderr,
          "reproduce: fstest_integrity --dir %s --shadow %s --seed %" PRIu64
          " --ops %ld --files %d --max-size %lld --block-size %lld --verify-every %ld%s\n"
          "(the files are left in place)\n",
          o_.dir.c_str(), o_.shadow.c_str(), o_.seed, o_.ops, o_.files,
          static_cast<long long>(o_.max_size), static_cast<long long>(o_.block), o_.verify_every,
          o_.fallocate ? "" : " --no-fallocate");
  exit(1);
}

void Exerciser::Log(const std::string& what) {
  log_.push_back("op " + std::to_string(op_) + " " + current_ + ": " + what);
  if (log_.size() > 20) log_.pop_front();
}

void Exerciser::PWrite(int fd, const char* data, size_t len, off_t off, const char* where) {
  for (size_t done = 0; done < len;) {
    ssize_t n = pwrite(fd, data + done, len - done, off + done);
    if (n <= 0) {
      Fail("pwrite(" + std::to_string(len) + " at " + std::to_string(off) + ") on the " + where +
           " file: " + (n < 0 ? ErrnoText(errno) : "wrote 0 bytes"));
    }
    done += n;
  }
}

std::string Exerciser::PRead(int fd, size_t len, off_t off, const char* where) {
  std::string out(len, '\0');
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, out.data() + done, len - done, off + done);
    if (n < 0) {
      Fail("pread(" + std::to_string(len) + " at " + std::to_string(off) + ") on the " + where +
           " file: " + ErrnoText(errno));
    }
    if (n == 0) break;
    done += n;
  }
  out.resize(done);
  return out;
}

std::string Hex(const std::string& s, size_t from) {
  std::string out;
  char b[4];
  for (size_t i = from; i < s.size() && i < from + 16; ++i) {
    snprintf(b, sizeof b, "%02x ", static_cast<unsigned char>(s[i]));
    out += b;
  }
  return out.empty() ? "(nothing)" : out;
}

void Exerciser::CompareBytes(const std::string& got, const std::string& want, off_t base,
                             const std::string& how) {
  size_t n = std::min(got.size(), want.size());
  size_t i = std::mismatch(got.begin(), got.begin() + n, want.begin()).first - got.begin();
  if (i == n && got.size() == want.size()) return;
  Fail(how + ": first difference at file offset " + std::to_string(base + i) + " (tested " +
       std::to_string(got.size()) + " bytes, shadow " + std::to_string(want.size()) +
       " bytes from offset " + std::to_string(base) + ")\n  tested: " + Hex(got, i) +
       "\n  shadow: " + Hex(want, i));
}

void Exerciser::CompareFile(const std::string& path, const std::string& shadow_path,
                            off_t want_size) {
  int fd = open(path.c_str(), O_RDONLY);
  Check(fd >= 0, "open " + path, "tested");
  int sfd = open(shadow_path.c_str(), O_RDONLY);
  Check(sfd >= 0, "open " + shadow_path, "shadow");
  struct stat st {
  }, sst{};
  Check(fstat(fd, &st) == 0, "fstat", "tested");
  Check(fstat(sfd, &sst) == 0, "fstat", "shadow");
  if (want_size >= 0 && sst.st_size != want_size) {
    Fail("internal: shadow size " + std::to_string(sst.st_size) + " != model " +
         std::to_string(want_size));
  }
  if (st.st_size != sst.st_size) {
    Fail("size of " + path + " is " + std::to_string(st.st_size) + ", shadow has " +
         std::to_string(sst.st_size));
  }
  constexpr size_t kChunk = 1 << 20;
  for (off_t off = 0; off < sst.st_size; off += kChunk) {
    CompareBytes(PRead(fd, kChunk, off, "tested"), PRead(sfd, kChunk, off, "shadow"), off,
                 "full compare of " + path);
  }
  verified_bytes_ += sst.st_size;
  close(fd);
  close(sfd);
}

void Exerciser::Open(File& f, int extra_flags) {
  f.fd = open(f.path.c_str(), O_RDWR | O_CREAT | extra_flags, 0644);
  Check(f.fd >= 0, "open " + f.path, "tested");
  f.sfd = open(f.shadow_path.c_str(), O_RDWR | O_CREAT | extra_flags, 0644);
  Check(f.sfd >= 0, "open " + f.shadow_path, "shadow");
}

// Random bytes (mostly), a run of one byte, or zeros (which must still be stored as data).
void Exerciser::Fill(size_t len) {
  buf_.resize(len);
  int kind = static_cast<int>(rng_.In(0, 9));
  if (kind == 0) {
    std::fill(buf_.begin(), buf_.end(), 0);
  } else if (kind == 1) {
    std::fill(buf_.begin(), buf_.end(), static_cast<char>(rng_.In(1, 255)));
  } else {
    Rng data(rng_.Next());
    for (size_t i = 0; i < len; i += 8) {
      uint64_t v = data.Next();
      memcpy(buf_.data() + i, &v, std::min<size_t>(8, len - i));
    }
  }
}

off_t Exerciser::PickLength() {
  const int64_t kind = rng_.In(0, 9);
  return rng_.In(1, kind < 4 ? 4096 : kind < 7 ? o_.block : 3 * o_.block);
}

// Inside the file, at block boundaries +-16, at EOF, past EOF (leaving a hole) or anywhere.
off_t Exerciser::PickOffset(const File& f, off_t len) {
  const int64_t kind = rng_.In(0, 9);
  off_t off = 0;
  if (kind < 3) {
    off = rng_.In(0, f.size);
  } else if (kind < 5) {
    off = rng_.In(0, f.size / o_.block + 1) * o_.block + rng_.In(-16, 16);
  } else if (kind < 7) {
    off = f.size;
  } else if (kind < 9) {
    off = f.size + rng_.In(1, 4 * o_.block);
  } else {
    off = rng_.In(0, o_.max_size);
  }
  return std::clamp<off_t>(off, 0, std::max<off_t>(0, o_.max_size - len));
}

void Exerciser::DoWrite(File& f) {
  off_t len = std::min(PickLength(), o_.max_size);
  off_t off = PickOffset(f, len);
  Fill(len);
  Log("pwrite off=" + std::to_string(off) + " len=" + std::to_string(len) + " (size " +
      std::to_string(f.size) + ")");
  PWrite(f.fd, buf_.data(), len, off, "tested");
  PWrite(f.sfd, buf_.data(), len, off, "shadow");
  f.size = std::max(f.size, off + len);
  Touched(off, len);
}

void Exerciser::DoRead(File& f) {
  off_t off = rng_.In(0, f.size + o_.block);
  off_t len = PickLength();
  Log("pread off=" + std::to_string(off) + " len=" + std::to_string(len));
  CompareBytes(PRead(f.fd, len, off, "tested"), PRead(f.sfd, len, off, "shadow"), off, "pread");
}

void Exerciser::DoTruncate(File& f) {
  const int64_t kind = rng_.In(0, 3);
  off_t to = 0;
  if (kind == 0) {
    to = rng_.In(0, f.size);  // down
  } else if (kind == 1) {
    to = rng_.In(f.size, o_.max_size);  // up
  } else if (kind == 2) {
    to = rng_.In(0, o_.max_size / o_.block) * o_.block + rng_.In(-1, 1);  // at a block boundary
    to = std::clamp<off_t>(to, 0, o_.max_size);
  } else {
    to = rng_.In(0, std::min<off_t>(f.size, 4096));  // nearly empty
  }
  Log("ftruncate " + std::to_string(f.size) + " -> " + std::to_string(to));
  Check(ftruncate(f.fd, to) == 0, "ftruncate(" + std::to_string(to) + ")", "tested");
  Check(ftruncate(f.sfd, to) == 0, "ftruncate", "shadow");
  Touched(std::min(f.size, to), std::min<off_t>(std::abs(f.size - to), o_.block));
  f.size = to;
}

void Exerciser::DoAppend(File& f) {
  off_t len = std::min<off_t>(rng_.In(1, o_.block), o_.max_size - f.size);
  if (len <= 0) return DoTruncate(f);
  Fill(len);
  Log("append len=" + std::to_string(len) + " at " + std::to_string(f.size));
  int fd = open(f.path.c_str(), O_WRONLY | O_APPEND);
  Check(fd >= 0, "open O_APPEND", "tested");
  int sfd = open(f.shadow_path.c_str(), O_WRONLY | O_APPEND);
  Check(sfd >= 0, "open O_APPEND", "shadow");
  for (int d : {fd, sfd}) {
    ssize_t n = write(d, buf_.data(), len);
    if (n != len) {
      Fail(std::string("append write on the ") + (d == fd ? "tested" : "shadow") +
           " file: " + (n < 0 ? ErrnoText(errno) : "short write of " + std::to_string(n)));
    }
    Check(close(d) == 0, "close after append", d == fd ? "tested" : "shadow");
  }
  Touched(f.size, len);
  f.size += len;
}

void Exerciser::DoMmapWrite(File& f) {
  if (f.size == 0) return DoWrite(f);
  off_t off = rng_.In(0, f.size - 1);
  off_t len = std::min<off_t>(PickLength(), f.size - off);
  Fill(len);
  Log("mmap write off=" + std::to_string(off) + " len=" + std::to_string(len));
  const off_t page = sysconf(_SC_PAGESIZE);
  off_t start = off / page * page;
  size_t map_len = off + len - start;
  void* m = mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, start);
  Check(m != MAP_FAILED, "mmap", "tested");
  g_in_mapping = 1;
  if (sigsetjmp(g_sigbus_jump, 1) != 0) Fail("SIGBUS writing through the mapping");
  memcpy(static_cast<char*>(m) + (off - start), buf_.data(), len);
  g_in_mapping = 0;
  Check(msync(m, map_len, MS_SYNC) == 0, "msync", "tested");
  Check(munmap(m, map_len) == 0, "munmap", "tested");
  PWrite(f.sfd, buf_.data(), len, off, "shadow");
  Touched(off, len);
}

void Exerciser::DoMmapRead(File& f) {
  if (f.size == 0) return DoRead(f);
  off_t off = rng_.In(0, f.size - 1);
  off_t len = std::min<off_t>(PickLength(), f.size - off);
  Log("mmap read off=" + std::to_string(off) + " len=" + std::to_string(len));
  const off_t page = sysconf(_SC_PAGESIZE);
  off_t start = off / page * page;
  size_t map_len = off + len - start;
  void* m = mmap(nullptr, map_len, PROT_READ, MAP_SHARED, f.fd, start);
  Check(m != MAP_FAILED, "mmap", "tested");
  std::string got(len, '\0');
  g_in_mapping = 1;
  if (sigsetjmp(g_sigbus_jump, 1) != 0) Fail("SIGBUS reading through the mapping");
  memcpy(got.data(), static_cast<char*>(m) + (off - start), len);
  g_in_mapping = 0;
  Check(munmap(m, map_len) == 0, "munmap", "tested");
  CompareBytes(got, PRead(f.sfd, len, off, "shadow"), off, "mmap read");
}

// The shadow emulates fallocate with plain calls, so it needs no fallocate support itself.
void Exerciser::DoFallocate(File& f) {
  if (!o_.fallocate) return DoWrite(f);
  off_t len = std::min(PickLength(), o_.max_size);
  off_t off = PickOffset(f, len);
  Log("fallocate off=" + std::to_string(off) + " len=" + std::to_string(len));
  Check(fallocate(f.fd, 0, off, len) == 0, "fallocate", "tested");
  if (off + len > f.size) {
    Check(ftruncate(f.sfd, off + len) == 0, "ftruncate", "shadow");
    f.size = off + len;
  }
}

void Exerciser::DoPunch(File& f) {
  if (!o_.fallocate) return DoTruncate(f);
  off_t off = rng_.In(0, f.size + o_.block);
  if (rng_.Percent(40)) off = off / o_.block * o_.block;
  off_t len = PickLength();
  Log("punch hole off=" + std::to_string(off) + " len=" + std::to_string(len));
  Check(fallocate(f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0,
        "fallocate(PUNCH_HOLE|KEEP_SIZE)", "tested");
  if (off < f.size) {
    std::vector<char> zeros(std::min(off + len, f.size) - off, 0);
    PWrite(f.sfd, zeros.data(), zeros.size(), off, "shadow");
  }
  Touched(off, len);
}

// Reads back the range the last op changed, with a margin, and compares.
void Exerciser::ReadBack(File& f) {
  off_t from = std::max<off_t>(0, touched_off_ - 4096);
  size_t len = touched_off_ + touched_len_ + 4096 - from;
  Log("read back off=" + std::to_string(from) + " len=" + std::to_string(len));
  CompareBytes(PRead(f.fd, len, from, "tested"), PRead(f.sfd, len, from, "shadow"), from,
               "read back after the last op");
}

void Exerciser::DoOne(File& f) {
  const int64_t dice = rng_.In(0, 999);  // per mille
  if (dice < 300) return DoWrite(f);
  if (dice < 480) return DoRead(f);
  if (dice < 560) return DoTruncate(f);
  if (dice < 640) return DoAppend(f);
  if (dice < 720) return DoMmapWrite(f);
  if (dice < 790) return DoMmapRead(f);
  if (dice < 840) return DoFallocate(f);
  if (dice < 900) return DoPunch(f);
  if (dice < 940) {
    bool data_only = rng_.Percent(50);
    Log(data_only ? "fdatasync" : "fsync");
    Check((data_only ? fdatasync(f.fd) : fsync(f.fd)) == 0, "fsync", "tested");
    return;
  }
  if (dice < 995) {
    bool trunc = rng_.Percent(10);
    Log(trunc ? "reopen O_TRUNC" : "close and reopen");
    Check(close(f.fd) == 0, "close", "tested");
    close(f.sfd);
    Open(f, trunc ? O_TRUNC : 0);
    if (trunc) f.size = 0;
    return;
  }
  Log("full compare");
  CompareFile(f.path, f.shadow_path, f.size);
}

int Exerciser::Run() {
  signal(SIGBUS, OnSigbus);
  for (int i = 0; i < o_.files; ++i) {
    File f;
    f.name = "integrity." + std::to_string(i);
    f.path = o_.dir + "/" + f.name;
    f.shadow_path = o_.shadow + "/" + f.name;
    current_ = f.name;
    Open(f, O_TRUNC);
    files_.push_back(f);
  }
  auto start = std::chrono::steady_clock::now();
  for (op_ = 1; op_ <= o_.ops; ++op_) {
    File& f = files_[rng_.In(0, o_.files - 1)];
    current_ = f.name;
    touched_off_ = -1;
    DoOne(f);
    struct stat st {};
    Check(fstat(f.fd, &st) == 0, "fstat", "tested");
    if (st.st_size != f.size) {
      Fail("fstat size " + std::to_string(st.st_size) + ", expected " + std::to_string(f.size));
    }
    if (touched_off_ >= 0 && rng_.Percent(30)) ReadBack(f);
    if (op_ % o_.verify_every == 0) {
      for (File& v : files_) {
        current_ = v.name;
        CompareFile(v.path, v.shadow_path, v.size);
      }
    }
  }
  op_ = o_.ops;
  for (File& f : files_) {
    current_ = f.name;
    Log("final close and compare");
    Check(close(f.fd) == 0, "close", "tested");
    close(f.sfd);
    CompareFile(f.path, f.shadow_path, f.size);
    if (!o_.keep) {
      Check(unlink(f.path.c_str()) == 0, "unlink", "tested");
      unlink(f.shadow_path.c_str());
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  printf(
      "fstest_integrity: ok, seed %" PRIu64 ", %ld ops on %d files, %.1f MiB compared, %.1f s%s\n",
      o_.seed, o_.ops, o_.files, verified_bytes_ / 1048576.0, secs, o_.keep ? " (files kept)" : "");
  return 0;
}

int Exerciser::VerifyOnly() {
  DIR* d = opendir(o_.shadow.c_str());
  if (!d) Fail("opendir " + o_.shadow + ": " + ErrnoText(errno));
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    if (strncmp(e->d_name, "integrity.", 10) == 0) names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  if (names.empty()) Fail("no integrity.* files in " + o_.shadow + " (was --keep used?)");
  for (const auto& n : names) {
    current_ = n;
    CompareFile(o_.dir + "/" + n, o_.shadow + "/" + n, -1);
  }
  printf("fstest_integrity: verify-only ok, %zu files, %.1f MiB compared\n", names.size(),
         verified_bytes_ / 1048576.0);
  return 0;
}

void Usage() {
  fprintf(stderr,
          "usage: fstest_integrity --dir DIR --shadow DIR [--seed N] [--ops N] [--files N]\n"
          "         [--max-size BYTES] [--block-size BYTES] [--verify-every N] [--keep]\n"
          "         [--no-fallocate] [--verify-only]\n"
          "  --dir           directory on the filesystem under test (files integrity.N)\n"
          "  --shadow        directory on a normal local filesystem for the shadow copies\n"
          "  --seed          random seed (default: random; always printed)\n"
          "  --ops           number of operations (default 10000)\n"
          "  --files         number of files (default 4)\n"
          "  --max-size      largest file size, K/M/G suffixes allowed (default 16M)\n"
          "  --block-size    the filesystem's block size; writes are 1 byte..3 blocks (64K)\n"
          "  --verify-every  full compare of all files every N ops (default 1000)\n"
          "  --keep          leave the files in place (to --verify-only after a remount)\n"
          "  --no-fallocate  for filesystems without fallocate (not for shardfs)\n"
          "  --verify-only   only compare the files in --dir with their shadows\n");
}

bool ParseNumber(const char* s, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s) return false;
  if (const char* unit = strchr("KMG", toupper(*end)); *end != '\0' && unit) {
    v <<= 10 * (unit - "KMG" + 1);
    ++end;
  }
  if (*end != '\0' || v > static_cast<unsigned long long>(INT64_MAX)) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  int64_t seed = -1, ops = o->ops, files = o->files, max_size = o->max_size, block = o->block,
          verify_every = o->verify_every;
  const std::pair<const char*, bool*> flags[] = {
      {"--keep", &o->keep}, {"--verify-only", &o->verify_only}, {"--no-fallocate", nullptr}};
  const std::pair<const char*, int64_t*> numbers[] = {
      {"--seed", &seed},         {"--ops", &ops},          {"--files", &files},
      {"--max-size", &max_size}, {"--block-size", &block}, {"--verify-every", &verify_every}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    auto flag = std::find_if(std::begin(flags), std::end(flags),
                             [&](const auto& fl) { return arg == fl.first; });
    if (flag != std::end(flags) && !value) {
      *(flag->second ? flag->second : &o->fallocate) = flag->second != nullptr;
      continue;
    }
    if (!value && i + 1 < argc && arg.rfind("--", 0) == 0) value = argv[++i];
    if (!value) {
      fprintf(stderr, "fstest_integrity: unknown option or missing value: %s\n", arg.c_str());
      return false;
    }
    if (arg == "--dir" || arg == "--shadow") {
      (arg == "--dir" ? o->dir : o->shadow) = *value;
      continue;
    }
    auto number = std::find_if(std::begin(numbers), std::end(numbers),
                               [&](const auto& n) { return arg == n.first; });
    if (number == std::end(numbers) || !ParseNumber(value->c_str(), number->second)) {
      fprintf(stderr, "fstest_integrity: bad option %s=%s\n", arg.c_str(), value->c_str());
      return false;
    }
  }
  o->seed_given = seed >= 0;
  o->seed = o->seed_given ? static_cast<uint64_t>(seed) : 0;
  o->ops = ops;
  o->files = static_cast<int>(files);
  o->max_size = max_size;
  o->block = block;
  o->verify_every = verify_every;
  if (o->dir.empty() || o->shadow.empty()) {
    fprintf(stderr, "fstest_integrity: --dir and --shadow are required\n");
    return false;
  }
  if (o->files < 1 || o->ops < 0 || o->block < 1 || o->max_size < 1 || o->verify_every < 1) {
    fprintf(stderr, "fstest_integrity: --files, --block-size, --max-size, --verify-every > 0\n");
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
  if (o.verify_only) {
    printf("fstest_integrity: verify only, dir %s, shadow %s\n", o.dir.c_str(), o.shadow.c_str());
  } else {
    printf("fstest_integrity: seed %" PRIu64 " (rerun with --seed %" PRIu64
           "), dir %s, shadow %s, %ld ops, %d files, max size %lld, block %lld\n",
           o.seed, o.seed, o.dir.c_str(), o.shadow.c_str(), o.ops, o.files,
           static_cast<long long>(o.max_size), static_cast<long long>(o.block));
  }
  fflush(stdout);
  Exerciser e(o);
  return o.verify_only ? e.VerifyOnly() : e.Run();
}
