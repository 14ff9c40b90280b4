#include "fs/util/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace shardfs::util {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shardfs-files-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }
  std::string dir_;
};

TEST_F(FilesTest, AtomicWriteCreatesWithModeAndReplaces) {
  std::string p = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomic(p, AsBytes("one"), 0600).ok());
  struct stat st {};
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(WriteFileAtomic(p, AsBytes("two"), 0600).ok());
  auto r = ReadFile(p, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(AsStringView(*r), "two");
}

TEST_F(FilesTest, RefuseOverwriteKeepsOldContents) {
  std::string p = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomic(p, AsBytes("keep"), 0644).ok());
  auto s = WriteFileAtomic(p, AsBytes("lost"), 0644, Overwrite::kRefuse);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::kExists);
  EXPECT_EQ(AsStringView(*ReadFile(p, 100)), "keep");
  // No temp file is left behind.
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir_)) (void)e, ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(FilesTest, ReadErrorsNameThePath) {
  auto r = ReadFile(dir_ + "/missing", 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::kNotFound);
  EXPECT_NE(r.error().message.find(dir_ + "/missing"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/big", Bytes(100, 1), 0600).ok());
  EXPECT_EQ(ReadFile(dir_ + "/big", 99).code(), Errc::kInvalid);
}

TEST_F(FilesTest, MakeDirsNested) {
  std::string p = dir_ + "/a/b/c";
  ASSERT_TRUE(MakeDirs(p, 0700).ok());
  EXPECT_TRUE(PathExists(p));
  ASSERT_TRUE(MakeDirs(p, 0700).ok());  // idempotent
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/file", AsBytes("x"), 0600).ok());
  EXPECT_EQ(MakeDirs(dir_ + "/file", 0700).code(), Errc::kNotDir);
}

// Whole-file writes, through O_DIRECT where the file system takes it (ext4 under /var/tmp) and
// the page cache where it does not or the data is small: the file holds exactly the data,
// whatever was there before, and the descriptor's flags are as they were.
TEST(WriteWholeFileTest, ExactContentOnEveryFileSystemAndSize) {
  for (const std::string base : {"/var/tmp", "/tmp", "/dev/shm"}) {
    if (!PathExists(base)) continue;
    std::string tmpl = base + "/shardfs-wholefile-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << base;
    const std::string path = tmpl + "/f";
    for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{256 * 1024 - 1},
                        size_t{256 * 1024}, size_t{256 * 1024 + 1}, size_t{(4 << 20) + 37}}) {
      Bytes data(size);
      for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>(i * 131 + size);
      // The data starting on a page boundary (written in place) and one byte past it (copied).
      std::unique_ptr<uint8_t, decltype(&std::free)> page_aligned(
          static_cast<uint8_t*>(std::aligned_alloc(4096, (size + 4096) / 4096 * 4096)), &std::free);
      for (size_t shift : {size_t{0}, size_t{1}}) {
        if (size > 0) std::memcpy(page_aligned.get() + shift, data.data(), size);
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        // Something longer was there before: it must be cut off.
        Bytes junk(size + 5000, 0xEE);
        ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
        const int flags = ::fcntl(fd, F_GETFL);
        Status s = WriteWholeFile(fd, ByteSpan(page_aligned.get() + shift, size), path);
        ASSERT_TRUE(s.ok()) << base << " " << size << ": " << s.error().message;
        EXPECT_EQ(::fcntl(fd, F_GETFL), flags);
        ::close(fd);
        auto back = ReadFile(path, 64 << 20);
        ASSERT_TRUE(back.ok());
        EXPECT_TRUE(*back == data) << base << " size " << size << " shift " << shift;
      }
    }
    ASSERT_TRUE(RemoveTree(tmpl).ok());
  }
}

// Pages of the file now in the page cache (mincore on a mapping; mapping faults nothing in).
size_t ResidentPages(int fd, size_t size) {
  if (size == 0) return 0;
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return SIZE_MAX;
  std::vector<unsigned char> vec((size + 4095) / 4096);
  size_t resident = SIZE_MAX;
  if (::mincore(m, size, vec.data()) == 0) {
    resident = 0;
    for (unsigned char v : vec) resident += v & 1;
  }
  ::munmap(m, size);
  return resident;
}

// Streamed writes in pieces of every size: the file holds exactly what was appended, with the
// head patch applied; on ext4 (/var/tmp) large files go around the page cache entirely.
TEST(SequentialFileWriterTest, ExactContentOnEveryFileSystemAndSize) {
  std::mt19937 rng(7);
  for (const std::string base : {"/var/tmp", "/tmp", "/dev/shm"}) {
    if (!PathExists(base)) continue;
    std::string tmpl = base + "/shardfs-seqwriter-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << base;
    const std::string path = tmpl + "/f";
    for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{4097},
                        size_t{256 * 1024 - 1}, size_t{256 * 1024}, size_t{(1 << 20) + 4096},
                        size_t{(1 << 20) + 4097}, size_t{(3 << 20) + 123}}) {
      Bytes data(size);
      for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>(i * 131 + size);
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      ASSERT_GE(fd, 0);
      {
        SequentialFileWriter w(fd, size, path);
        size_t done = 0;
        while (done < size) {
          size_t n = std::min<size_t>(size - done, 1 + rng() % (rng() % 2 ? 100 : 300000));
          ASSERT_TRUE(w.Append(ByteSpan(data.data() + done, n)).ok());
          done += n;
        }
        if (size >= 44) {
          Bytes patch(16, 0xAB);
          std::memcpy(data.data() + 28, patch.data(), 16);
          ASSERT_TRUE(w.PatchHead(28, patch).ok());
        }
        EXPECT_FALSE(w.PatchHead(4090, Bytes(10, 1)).ok());  // not all in the head
        const bool direct = w.direct();
        Status s = w.Finish();
        ASSERT_TRUE(s.ok()) << base << " " << size << ": " << s.error().message;
        EXPECT_EQ(w.size(), size);
        EXPECT_FALSE(w.Append(Bytes(1, 1)).ok());  // finished
        if (base == "/var/tmp" && size >= 256 * 1024) {
          EXPECT_TRUE(direct) << size;
          EXPECT_EQ(ResidentPages(fd, size), 0u) << size;
        }
      }
      ::close(fd);
      auto back = ReadFile(path, 64 << 20);
      ASSERT_TRUE(back.ok());
      EXPECT_TRUE(*back == data) << base << " size " << size;
    }
    ASSERT_TRUE(RemoveTree(tmpl).ok());
  }
}

TEST(PathsTest, ParentAndAbsolute) {
  EXPECT_EQ(ParentDir("/a/b"), "/a");
  EXPECT_EQ(ParentDir("/a"), "/");
  EXPECT_EQ(ParentDir("a"), ".");
  EXPECT_EQ(AbsolutePath("/x/y"), "/x/y");
  EXPECT_EQ(AbsolutePath("y")[0], '/');
}

}  // namespace
}  // namespace shardfs::util
