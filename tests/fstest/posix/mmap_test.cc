// mmap: shared writes reach the file, file writes reach the mapping, private stays private.
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tests/fstest/posix/fs_helpers.h"

namespace shardfs::fstest {
namespace {

using MmapTest = FsTest;

// Unmaps on destruction.
class Mapping {
 public:
  Mapping(size_t len, int prot, int flags, int fd, off_t off)
      : len_(len), addr_(mmap(nullptr, len, prot, flags, fd, off)), err_(errno) {}
  ~Mapping() {
    if (ok()) munmap(addr_, len_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  bool ok() const { return addr_ != MAP_FAILED; }
  int err() const { return err_; }
  char* data() const { return static_cast<char*>(addr_); }

 private:
  size_t len_;
  void* addr_;
  int err_;
};

TEST_F(MmapTest, SharedWriteIsVisibleThroughReadAfterMsync) {
  const size_t size = 3 * 65536 + 123;
  const std::string data = Pattern(size, 1);
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, data));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  Mapping m(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_TRUE(m.ok()) << ErrnoName(m.err());
  EXPECT_EQ(memcmp(m.data(), data.data(), size), 0) << "mapping shows file contents";
  const std::string patch = Pattern(70000, 2);
  memcpy(m.data() + 60000, patch.data(), patch.size());
  m.data()[size - 1] = 'Q';
  ASSERT_SYS_OK(msync(m.data(), size, MS_SYNC));
  std::string want = data;
  want.replace(60000, patch.size(), patch);
  want[size - 1] = 'Q';
  UniqueFd other(open(p.c_str(), O_RDONLY));
  ASSERT_SYS_OK(other.get());
  EXPECT_TRUE(PRead(other.get(), size + 10, 0) == want);
  EXPECT_EQ(Stat(p).st_size, static_cast<off_t>(size)) << "mmap writes never change the size";
}

TEST_F(MmapTest, SharedWriteSurvivesUnmapAndClose) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, std::string(8192, 'a')));
  {
    UniqueFd fd(open(p.c_str(), O_RDWR));
    ASSERT_SYS_OK(fd.get());
    Mapping m(8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_TRUE(m.ok()) << ErrnoName(m.err());
    memcpy(m.data() + 4090, "boundary", 8);
  }
  std::string want(8192, 'a');
  want.replace(4090, 8, "boundary");
  EXPECT_TRUE(ReadFile(p) == want);
}

TEST_F(MmapTest, WriteThroughDescriptorIsVisibleInMapping) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, std::string(10000, 'x')));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  Mapping m(10000, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_TRUE(m.ok()) << ErrnoName(m.err());
  EXPECT_EQ(m.data()[5000], 'x');
  ASSERT_TRUE(PWriteAll(fd.get(), "fresh", 5000));
  EXPECT_EQ(std::string(m.data() + 5000, 5), "fresh");
}

TEST_F(MmapTest, MappingAtOffsetAndGrownFile) {
  const long page = sysconf(_SC_PAGESIZE);
  std::string p = Path("f");
  const std::string data = Pattern(4 * page, 3);
  ASSERT_TRUE(WriteFile(p, data));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  Mapping at(page, PROT_READ, MAP_SHARED, fd.get(), 2 * page);
  ASSERT_TRUE(at.ok()) << ErrnoName(at.err());
  EXPECT_EQ(memcmp(at.data(), data.data() + 2 * page, page), 0);
  Mapping bad(page, PROT_READ, MAP_SHARED, fd.get(), 100);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.err(), EINVAL) << "offsets must be page aligned";

  // Grow with ftruncate, then write the new part through a mapping.
  ASSERT_SYS_OK(ftruncate(fd.get(), 6 * page));
  Mapping m(6 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_TRUE(m.ok()) << ErrnoName(m.err());
  EXPECT_EQ(m.data()[5 * page], 0);
  memcpy(m.data() + 5 * page + 1, "grown", 5);
  ASSERT_SYS_OK(msync(m.data(), 6 * page, MS_SYNC));
  EXPECT_EQ(PRead(fd.get(), 7, 5 * page), std::string("\0grown\0", 7));
}

TEST_F(MmapTest, PrivateWritesStayPrivate) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, "original"));
  UniqueFd fd(open(p.c_str(), O_RDONLY));
  ASSERT_SYS_OK(fd.get());
  Mapping m(8, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  ASSERT_TRUE(m.ok()) << ErrnoName(m.err());
  memcpy(m.data(), "modified", 8);
  EXPECT_EQ(ReadFile(p), "original");
}

TEST_F(MmapTest, ProtectionMustMatchOpenMode) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, "data"));
  UniqueFd ro(open(p.c_str(), O_RDONLY));
  ASSERT_SYS_OK(ro.get());
  Mapping w(4, PROT_READ | PROT_WRITE, MAP_SHARED, ro.get(), 0);
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(w.err(), EACCES);
  UniqueFd wo(open(p.c_str(), O_WRONLY));
  ASSERT_SYS_OK(wo.get());
  Mapping r(4, PROT_READ, MAP_SHARED, wo.get(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.err(), EACCES);
}

TEST_F(MmapTest, MmapWriteUpdatesMtime) {
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, std::string(4096, 'a')));
  const timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_SYS_OK(utimensat(AT_FDCWD, p.c_str(), old, 0));
  UniqueFd fd(open(p.c_str(), O_RDWR));
  ASSERT_SYS_OK(fd.get());
  {
    Mapping m(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_TRUE(m.ok()) << ErrnoName(m.err());
    m.data()[0] = 'b';
    ASSERT_SYS_OK(msync(m.data(), 4096, MS_SYNC));
  }
  fd.reset();
  EXPECT_GT(Stat(p).st_mtime, 1000000000);
  EXPECT_EQ(ReadFile(p)[0], 'b');
}

sigjmp_buf g_sigbus_jump;

// Touching a page wholly past EOF raises SIGBUS (checked in a child).
TEST_F(MmapTest, AccessPastEndOfFileRaisesSigbus) {
  const long page = sysconf(_SC_PAGESIZE);
  std::string p = Path("f");
  ASSERT_TRUE(WriteFile(p, "tiny"));
  int got = RunInChild([&]() -> int {
    int fd = open(p.c_str(), O_RDONLY);
    if (fd < 0) return errno;
    void* a = mmap(nullptr, 3 * page, PROT_READ, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED) return errno;
    volatile char* c = static_cast<char*>(a);
    if (c[3] != 'y' || c[100] != 0) return EIO;  // the rest of the last page reads as zeros
    signal(SIGBUS, [](int) { siglongjmp(g_sigbus_jump, 1); });
    if (sigsetjmp(g_sigbus_jump, 1) != 0) return 0;
    (void)c[2 * page];
    return ENXIO;  // no SIGBUS
  });
  EXPECT_ERRNO(got, 0);
}

}  // namespace
}  // namespace shardfs::fstest
