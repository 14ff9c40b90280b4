// opendir/readdir: completeness, d_type/d_ino, stability under concurrent changes, seekdir.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using ReaddirTest = FsTest;

// Owns a DIR*.
class Dir {
 public:
  explicit Dir(const std::string& path) : d_(opendir(path.c_str())), err_(errno) {}
  ~Dir() {
    if (d_) closedir(d_);
  }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  DIR* get() const { return d_; }
  int err() const { return err_; }

 private:
  DIR* d_;
  int err_;
};

// name -> number of times readdir returned it; records a failure on a readdir error.
std::map<std::string, int> CountEntries(const std::string& path) {
  std::map<std::string, int> seen;
  Dir d(path);
  if (!d.get()) {
    ADD_FAILURE() << "opendir " << path << ": " << ErrnoName(d.err());
    return seen;
  }
  for (;;) {
    errno = 0;
    dirent* e = readdir(d.get());
    if (!e) {
      if (errno != 0) ADD_FAILURE() << "readdir: " << ErrnoName(errno);
      return seen;
    }
    ++seen[e->d_name];
  }
}

std::string LongName(int i) { return "entry-" + std::to_string(i) + "-" + std::string(90, 'n'); }

// Every name in `must` was seen exactly once, nothing was seen twice, and (if `exact`) nothing
// outside `must` was seen. Lists at most a few offenders of each kind.
::testing::AssertionResult SeenExactlyOnce(const std::map<std::string, int>& seen,
                                           const std::set<std::string>& must, bool exact) {
  std::vector<std::string> missing, repeated, unexpected;
  for (const auto& n : must) {
    if (!seen.count(n)) missing.push_back(n);
  }
  for (const auto& [n, count] : seen) {
    if (count > 1) repeated.push_back(n + " (x" + std::to_string(count) + ")");
    if (exact && !must.count(n)) unexpected.push_back(n);
  }
  if (missing.empty() && repeated.empty() && unexpected.empty()) {
    return ::testing::AssertionSuccess();
  }
  auto show = [](const char* what, const std::vector<std::string>& v) {
    std::string out = std::string("\n  ") + what + ": " + std::to_string(v.size());
    for (size_t i = 0; i < v.size() && i < 5; ++i) out += (i ? ", " : " e.g. ") + v[i];
    return out;
  };
  return ::testing::AssertionFailure()
         << "readdir returned " << seen.size() << " distinct names; " << must.size()
         << " expected exactly once" << show("missing", missing) << show("repeated", repeated)
         << show("unexpected", unexpected);
}

std::set<std::string> StableNames(int count) {
  std::set<std::string> names;
  for (int i = 0; i < count; ++i) names.insert(LongName(i));
  return names;
}

TEST_F(ReaddirTest, EmptyDirectoryHasOnlyDotEntries) {
  EXPECT_EQ(CountEntries(dir_), (std::map<std::string, int>{{".", 1}, {"..", 1}}));
}

TEST_F(ReaddirTest, EveryEntryExactlyOnceInALargeDirectory) {
  constexpr int kCount = 2000;  // many getdents batches
  std::set<std::string> want{".", ".."};
  for (int i = 0; i < kCount; ++i) {
    std::string n = i % 2 ? LongName(i) : "s" + std::to_string(i);
    ASSERT_SYS_OK(mknod(Path(n).c_str(), S_IFREG | 0644, 0)) << n;
    want.insert(n);
  }
  EXPECT_TRUE(SeenExactlyOnce(CountEntries(dir_), want, true));
}

TEST_F(ReaddirTest, TypesAndInodeNumbersMatchStat) {
  ASSERT_TRUE(WriteFile(Path("file"), "x"));
  ASSERT_SYS_OK(mkdir(Path("dir").c_str(), 0755));
  ASSERT_SYS_OK(symlink("file", Path("link").c_str()));
  ASSERT_SYS_OK(mkfifo(Path("fifo").c_str(), 0644));
  ASSERT_SYS_OK(mknod(Path("sock").c_str(), S_IFSOCK | 0644, 0));
  const std::map<std::string, unsigned char> want{
      {"file", DT_REG}, {"dir", DT_DIR}, {"link", DT_LNK}, {"fifo", DT_FIFO}, {"sock", DT_SOCK}};
  Dir d(dir_);
  ASSERT_NE(d.get(), nullptr) << ErrnoName(d.err());
  int found = 0;
  while (dirent* e = readdir(d.get())) {
    std::string n = e->d_name;
    if (n == "." || n == "..") {
      EXPECT_EQ(e->d_type, DT_DIR) << n;
      continue;
    }
    ASSERT_TRUE(want.count(n)) << "unexpected " << n;
    EXPECT_EQ(e->d_type, want.at(n)) << n;
    EXPECT_EQ(e->d_ino, LStat(Path(n)).st_ino) << n;
    ++found;
  }
  EXPECT_EQ(found, 5);
}

TEST_F(ReaddirTest, RemovedAndAddedEntriesShowUpAfterRewind) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(WriteFile(Path("f" + std::to_string(i)), "x"));
  Dir d(dir_);
  ASSERT_NE(d.get(), nullptr) << ErrnoName(d.err());
  int before = 0;
  while (readdir(d.get())) ++before;
  EXPECT_EQ(before, 12);
  ASSERT_SYS_OK(unlink(Path("f3").c_str()));
  ASSERT_TRUE(WriteFile(Path("new"), "x"));
  rewinddir(d.get());
  std::set<std::string> names;
  while (dirent* e = readdir(d.get())) names.insert(e->d_name);
  EXPECT_EQ(names.size(), 12u);
  EXPECT_FALSE(names.count("f3"));
  EXPECT_TRUE(names.count("new"));
}

// POSIX leaves entries added or removed during a scan unspecified, but every entry that exists
// throughout must be returned exactly once. Changes here happen between readdir calls.
TEST_F(ReaddirTest, StableEntriesExactlyOnceWhileOthersChange) {
  constexpr int kStable = 1000;
  for (int i = 0; i < kStable; ++i) {
    ASSERT_SYS_OK(mknod(Path(LongName(i)).c_str(), S_IFREG | 0644, 0));
  }
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(WriteFile(Path("churn-old-" + std::to_string(i)), ""));
  Dir d(dir_);
  ASSERT_NE(d.get(), nullptr) << ErrnoName(d.err());
  std::map<std::string, int> seen;
  int step = 0;
  for (;;) {
    errno = 0;
    dirent* e = readdir(d.get());
    if (!e) {
      ASSERT_EQ(errno, 0) << ErrnoName(errno);
      break;
    }
    ++seen[e->d_name];
    if (step < 300) {
      ASSERT_SYS_OK(unlink(Path("churn-old-" + std::to_string(step)).c_str()));
      ASSERT_TRUE(WriteFile(Path("churn-new-" + std::to_string(step)), ""));
    }
    ++step;
  }
  EXPECT_TRUE(SeenExactlyOnce(seen, StableNames(kStable), false));
}

// The same with a second process changing the directory while full scans run.
TEST_F(ReaddirTest, StableEntriesExactlyOnceUnderConcurrentChurn) {
  constexpr int kStable = 800;
  for (int i = 0; i < kStable; ++i) {
    ASSERT_SYS_OK(mknod(Path(LongName(i)).c_str(), S_IFREG | 0644, 0));
  }
  int stop[2];  // the churner runs until the parent closes stop[1]
  ASSERT_SYS_OK(pipe2(stop, O_NONBLOCK));
  UniqueFd stop_writer(stop[1]);
  std::string d = dir_;
  Child churn([d, stop]() -> int {
    close(stop[1]);
    char c;
    for (int i = 0; read(stop[0], &c, 1) < 0 && errno == EAGAIN; ++i) {
      std::string n = d + "/churn-" + std::to_string(i % 500);
      if (i % 1000 < 500) {
        int fd = open(n.c_str(), O_CREAT | O_WRONLY, 0644);
        if (fd < 0) return errno;
        close(fd);
      } else if (unlink(n.c_str()) != 0) {
        return errno;
      }
    }
    return 0;
  });
  close(stop[0]);
  const std::set<std::string> stable = StableNames(kStable);
  for (int pass = 0; pass < 20; ++pass) {
    ASSERT_TRUE(SeenExactlyOnce(CountEntries(dir_), stable, false)) << "pass " << pass;
  }
  stop_writer.reset();
  EXPECT_ERRNO(churn.Wait(), 0);
}

TEST_F(ReaddirTest, SeekdirReturnsToTelldirPositions) {
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(WriteFile(Path(LongName(i)), ""));
  Dir d(dir_);
  ASSERT_NE(d.get(), nullptr) << ErrnoName(d.err());
  std::vector<std::pair<long, std::string>> order;
  for (;;) {
    long pos = telldir(d.get());
    dirent* e = readdir(d.get());
    if (!e) break;
    order.emplace_back(pos, e->d_name);
  }
  ASSERT_EQ(order.size(), 502u);
  for (size_t i : {size_t{0}, size_t{1}, size_t{250}, size_t{499}, size_t{501}, size_t{17}}) {
    seekdir(d.get(), order[i].first);
    dirent* e = readdir(d.get());
    ASSERT_NE(e, nullptr) << "after seekdir to entry " << i;
    EXPECT_EQ(e->d_name, order[i].second) << "after seekdir to entry " << i;
    if (i + 1 < order.size()) {
      e = readdir(d.get());
      ASSERT_NE(e, nullptr);
      EXPECT_EQ(e->d_name, order[i + 1].second) << "entry after " << i;
    }
  }
  seekdir(d.get(), order.back().first);
  ASSERT_NE(readdir(d.get()), nullptr);
  EXPECT_EQ(readdir(d.get()), nullptr) << "end of directory after the last entry";
}

TEST_F(ReaddirTest, OpendirErrors) {
  ASSERT_TRUE(WriteFile(Path("f"), "x"));
  Dir file(Path("f"));
  EXPECT_EQ(file.get(), nullptr);
  EXPECT_ERRNO(file.err(), ENOTDIR);
  Dir missing(Path("missing"));
  EXPECT_EQ(missing.get(), nullptr);
  EXPECT_ERRNO(missing.err(), ENOENT);
}

}  // namespace
}  // namespace shardfs::fstest
