// The Filesystem contract (fs/core/filesystem.h), one typed suite run against every
// implementation: the core (CoreFs over LMDB, a block cache and an in-memory store) and the FUSE
// tests' in-memory FakeFilesystem, so that the fake the adapter is tested with behaves as the
// core does.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/core/core_fs_harness.h"
#include "tests/fakes/fake_filesystem.h"

namespace shardfs::core {
namespace {

using util::Errc;

struct CoreImpl {
  Filesystem& Make() {
    EXPECT_TRUE(h.Mount().ok());
    return h.fs();
  }
  CoreFsHarness h;
};
struct FakeImpl {
  Filesystem& Make() { return fake; }
  fuse::testing::FakeFilesystem fake;
};

template <typename Impl>
class FilesystemContractTest : public ::testing::Test {
 protected:
  void SetUp() override { fs_ = &impl_.Make(); }

  Filesystem& fs() { return *fs_; }
  uint64_t NewFile(uint64_t dir, const std::string& name, const std::string& data = "") {
    auto c = fs().Create(dir, name, 0644, O_RDWR | O_CREAT, RootCaller());
    EXPECT_TRUE(c.ok()) << name << ": " << (c.ok() ? "" : c.error().message);
    if (!c.ok()) return 0;
    if (!data.empty()) {
      EXPECT_TRUE(fs().Write(c->attr.ino, c->fh, 0, util::AsBytes(data)).ok());
    }
    EXPECT_TRUE(fs().Release(c->attr.ino, c->fh).ok());
    return c->attr.ino;
  }
  uint64_t NewDir(uint64_t dir, const std::string& name) {
    auto d = fs().Mkdir(dir, name, 0755, RootCaller());
    EXPECT_TRUE(d.ok()) << name << ": " << (d.ok() ? "" : d.error().message);
    return d.ok() ? d->ino : 0;
  }
  std::string ReadAll(uint64_t ino) {
    auto fh = fs().Open(ino, O_RDONLY);
    if (!fh.ok()) return "<open: " + fh.error().message + ">";
    std::string out(1 << 16, '\0');
    auto n = fs().Read(ino, *fh, 0,
                       util::MutableByteSpan(reinterpret_cast<uint8_t*>(out.data()), out.size()));
    EXPECT_TRUE(fs().Release(ino, *fh).ok());
    if (!n.ok()) return "<read: " + n.error().message + ">";
    out.resize(*n);
    return out;
  }
  // The names of dir, listed `batch` entries per ReadDir call, with `between` run after each.
  std::vector<std::string> List(uint64_t dir, size_t batch = 1000,
                                const std::function<void()>& between = {}) {
    std::vector<std::string> names;
    auto fh = fs().OpenDir(dir);
    EXPECT_TRUE(fh.ok());
    uint64_t offset = 0;
    for (bool more = true; more;) {
      size_t taken = 0;
      more = false;
      EXPECT_TRUE(fs().ReadDir(dir, *fh, offset, false,
                               [&](const DirEntry& e) {
                                 if (taken == batch) {
                                   more = true;
                                   return false;
                                 }
                                 names.push_back(e.name);
                                 offset = e.offset;
                                 ++taken;
                                 return true;
                               })
                      .ok());
      if (more && between) between();
    }
    EXPECT_TRUE(fs().ReleaseDir(dir, *fh).ok());
    return names;
  }

  Impl impl_;
  Filesystem* fs_ = nullptr;
};
using Implementations = ::testing::Types<CoreImpl, FakeImpl>;
TYPED_TEST_SUITE(FilesystemContractTest, Implementations);

TYPED_TEST(FilesystemContractTest, NamesLeadToTheirInodes) {
  Filesystem& fs = this->fs();
  const uint64_t f = this->NewFile(kRootIno, "f", "hello");
  auto found = fs.Lookup(kRootIno, "f");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->ino, f);
  EXPECT_TRUE(S_ISREG(found->mode));
  EXPECT_EQ(found->size, 5u);
  EXPECT_EQ(fs.Lookup(kRootIno, "missing").code(), Errc::kNotFound);
  EXPECT_EQ(fs.Lookup(f, "x").code(), Errc::kNotDir);
  const uint64_t d = this->NewDir(kRootIno, "d");
  EXPECT_EQ(fs.Lookup(d, ".")->ino, d);
  EXPECT_EQ(fs.Lookup(d, "..")->ino, kRootIno);
  EXPECT_EQ(fs.Lookup(kRootIno, "..")->ino, kRootIno);
  EXPECT_EQ(fs.Create(kRootIno, "f", 0644, O_RDWR | O_CREAT | O_EXCL, RootCaller()).code(),
            Errc::kExists);
  EXPECT_EQ(fs.Mkdir(kRootIno, "d", 0755, RootCaller()).code(), Errc::kExists);
  EXPECT_EQ(fs.Mkdir(kRootIno, std::string(kMaxNameLength + 1, 'n'), 0755, RootCaller()).code(),
            Errc::kNameTooLong);
}

TYPED_TEST(FilesystemContractTest, InodeNumbersAreNeverReused) {
  Filesystem& fs = this->fs();
  std::set<uint64_t> seen;
  for (int i = 0; i < 20; ++i) {
    const uint64_t ino = this->NewFile(kRootIno, "f");
    EXPECT_TRUE(seen.insert(ino).second) << "inode " << ino << " handed out twice";
    ASSERT_TRUE(fs.Unlink(kRootIno, "f").ok());
    fs.Forget(ino, 1);
  }
}

TYPED_TEST(FilesystemContractTest, DataReadsBackAndHolesAreZeros) {
  Filesystem& fs = this->fs();
  auto c = fs.Create(kRootIno, "f", 0644, O_RDWR | O_CREAT, RootCaller());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(fs.Write(c->attr.ino, c->fh, 0, util::AsBytes("abc")).ok());
  ASSERT_TRUE(fs.Write(c->attr.ino, c->fh, 10000, util::AsBytes("xyz")).ok());
  ASSERT_TRUE(fs.Release(c->attr.ino, c->fh).ok());
  EXPECT_EQ(fs.GetAttr(c->attr.ino)->size, 10003u);
  EXPECT_EQ(this->ReadAll(c->attr.ino), "abc" + std::string(9997, '\0') + "xyz");
  SetAttr shrink;
  shrink.size = 2;
  ASSERT_TRUE(fs.SetAttributes(c->attr.ino, shrink, RootCaller()).ok());
  SetAttr grow;
  grow.size = 6;
  ASSERT_TRUE(fs.SetAttributes(c->attr.ino, grow, RootCaller()).ok());
  EXPECT_EQ(this->ReadAll(c->attr.ino), std::string("ab\0\0\0\0", 6));
}

TYPED_TEST(FilesystemContractTest, RemovingNamesFollowsTheirKinds) {
  Filesystem& fs = this->fs();
  const uint64_t d = this->NewDir(kRootIno, "d");
  this->NewFile(d, "f");
  EXPECT_EQ(fs.GetAttr(kRootIno)->nlink, 3u) << "a subdirectory's .. links the parent";
  EXPECT_EQ(fs.Rmdir(kRootIno, "d").code(), Errc::kNotEmpty);
  EXPECT_EQ(fs.Unlink(kRootIno, "d").code(), Errc::kIsDir);
  EXPECT_EQ(fs.Rmdir(d, "f").code(), Errc::kNotDir);
  EXPECT_EQ(fs.Unlink(d, "missing").code(), Errc::kNotFound);
  ASSERT_TRUE(fs.Unlink(d, "f").ok());
  ASSERT_TRUE(fs.Rmdir(kRootIno, "d").ok());
  EXPECT_EQ(fs.GetAttr(kRootIno)->nlink, 2u);
  EXPECT_EQ(fs.Lookup(kRootIno, "d").code(), Errc::kNotFound);
}

TYPED_TEST(FilesystemContractTest, RenameMovesReplacesAndExchanges) {
  Filesystem& fs = this->fs();
  const uint64_t a = this->NewDir(kRootIno, "a");
  const uint64_t b = this->NewDir(kRootIno, "b");
  const uint64_t f = this->NewFile(a, "f", "F");
  const uint64_t g = this->NewFile(b, "g", "G");
  EXPECT_EQ(fs.Rename(a, "missing", b, "x", 0).code(), Errc::kNotFound);
  EXPECT_EQ(fs.Rename(a, "f", b, "g", kRenameNoReplace).code(), Errc::kExists);
  ASSERT_TRUE(fs.Rename(a, "f", b, "g", kRenameExchange).ok());
  EXPECT_EQ(fs.Lookup(b, "g")->ino, f);
  EXPECT_EQ(fs.Lookup(a, "f")->ino, g);
  ASSERT_TRUE(fs.Rename(a, "f", b, "g", 0).ok());  // replaces
  EXPECT_EQ(fs.Lookup(b, "g")->ino, g);
  EXPECT_EQ(fs.Lookup(a, "f").code(), Errc::kNotFound);
  EXPECT_EQ(this->ReadAll(g), "G");
  // Directories: a move changes .. and both parents' link counts; kinds must match.
  ASSERT_TRUE(fs.Rename(kRootIno, "a", b, "a2", 0).ok());
  EXPECT_EQ(fs.Lookup(a, "..")->ino, b);
  EXPECT_EQ(fs.GetAttr(kRootIno)->nlink, 3u);
  EXPECT_EQ(fs.GetAttr(b)->nlink, 3u);
  EXPECT_EQ(fs.Rename(b, "g", b, "a2", 0).code(), Errc::kIsDir);
  EXPECT_EQ(fs.Rename(b, "a2", b, "g", 0).code(), Errc::kNotDir);
  EXPECT_EQ(fs.Rename(kRootIno, "b", a, "inside", 0).code(), Errc::kInvalidOp)
      << "a directory moved into itself";
}

TYPED_TEST(FilesystemContractTest, HardLinksShareTheInode) {
  Filesystem& fs = this->fs();
  const uint64_t f = this->NewFile(kRootIno, "f", "data");
  auto linked = fs.Link(f, kRootIno, "g");
  ASSERT_TRUE(linked.ok());
  EXPECT_EQ(linked->ino, f);
  EXPECT_EQ(fs.GetAttr(f)->nlink, 2u);
  EXPECT_EQ(fs.Link(f, kRootIno, "g").code(), Errc::kExists);
  ASSERT_TRUE(fs.Unlink(kRootIno, "f").ok());
  EXPECT_EQ(fs.GetAttr(f)->nlink, 1u);
  EXPECT_EQ(this->ReadAll(fs.Lookup(kRootIno, "g")->ino), "data");
}

TYPED_TEST(FilesystemContractTest, AnUnlinkedFileLivesUntilItsLastUse) {
  Filesystem& fs = this->fs();
  auto c = fs.Create(kRootIno, "f", 0644, O_RDWR | O_CREAT, RootCaller());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(fs.Write(c->attr.ino, c->fh, 0, util::AsBytes("still here")).ok());
  ASSERT_TRUE(fs.Unlink(kRootIno, "f").ok());
  std::string out(32, '\0');
  auto n = fs.Read(c->attr.ino, c->fh, 0,
                   util::MutableByteSpan(reinterpret_cast<uint8_t*>(out.data()), out.size()));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(out.substr(0, *n), "still here");
  EXPECT_EQ(fs.GetAttr(c->attr.ino)->nlink, 0u);
  ASSERT_TRUE(fs.Release(c->attr.ino, c->fh).ok());
  fs.Forget(c->attr.ino, 1);  // the create's lookup reference: nothing uses it now
  EXPECT_EQ(fs.GetAttr(c->attr.ino).code(), Errc::kNotFound);
}

TYPED_TEST(FilesystemContractTest, SymlinksKeepTheirTarget) {
  Filesystem& fs = this->fs();
  auto l = fs.Symlink(kRootIno, "l", "some/where", RootCaller());
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(S_ISLNK(l->mode));
  EXPECT_EQ(*fs.Readlink(l->ino), "some/where");
  EXPECT_EQ(fs.Readlink(this->NewFile(kRootIno, "f")).code(), Errc::kInvalidOp);
}

TYPED_TEST(FilesystemContractTest, XattrFlagsAndErrors) {
  Filesystem& fs = this->fs();
  const uint64_t f = this->NewFile(kRootIno, "f");
  EXPECT_EQ(fs.GetXattr(f, "user.a").code(), Errc::kNoAttribute);
  EXPECT_EQ(fs.SetXattr(f, "user.a", util::AsBytes("1"), kXattrReplace).code(), Errc::kNoAttribute);
  ASSERT_TRUE(fs.SetXattr(f, "user.a", util::AsBytes("1"), kXattrCreate).ok());
  EXPECT_EQ(fs.SetXattr(f, "user.a", util::AsBytes("2"), kXattrCreate).code(), Errc::kExists);
  ASSERT_TRUE(fs.SetXattr(f, "user.a", util::AsBytes("2"), kXattrReplace).ok());
  ASSERT_TRUE(fs.SetXattr(f, "user.b", util::AsBytes(""), 0).ok());
  EXPECT_EQ(*fs.GetXattr(f, "user.a"), util::Bytes{'2'});
  auto names = fs.ListXattr(f);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(std::set<std::string>(names->begin(), names->end()),
            (std::set<std::string>{"user.a", "user.b"}));
  ASSERT_TRUE(fs.RemoveXattr(f, "user.a").ok());
  EXPECT_EQ(fs.RemoveXattr(f, "user.a").code(), Errc::kNoAttribute);
}

// Entries that exist for the whole listing come exactly once, even while others come and go
// between the calls (as `rm -rf` and `ls` of a busy directory need).
TYPED_TEST(FilesystemContractTest, ReadDirReturnsStableEntriesOnceWhileOthersChange) {
  Filesystem& fs = this->fs();
  const uint64_t d = this->NewDir(kRootIno, "d");
  for (int i = 0; i < 40; ++i) this->NewFile(d, "keep" + std::to_string(i));
  for (int i = 0; i < 40; ++i) this->NewFile(d, "churn" + std::to_string(i));
  int round = 0;
  auto names = this->List(d, 7, [&] {
    ASSERT_TRUE(fs.Unlink(d, "churn" + std::to_string(round)).ok());
    this->NewFile(d, "new" + std::to_string(round));
    ++round;
  });
  std::map<std::string, int> count;
  for (const auto& n : names) ++count[n];
  EXPECT_EQ(count["."], 1);
  EXPECT_EQ(count[".."], 1);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(count["keep" + std::to_string(i)], 1) << "keep" << i;
  }
  for (const auto& [name, n] : count) EXPECT_EQ(n, 1) << name << " listed " << n << " times";
}

TYPED_TEST(FilesystemContractTest, CopyFileRangeCopiesBytes) {
  Filesystem& fs = this->fs();
  const uint64_t src = this->NewFile(kRootIno, "src", "0123456789");
  auto dst = fs.Create(kRootIno, "dst", 0644, O_RDWR | O_CREAT, RootCaller());
  ASSERT_TRUE(dst.ok());
  auto in = fs.Open(src, O_RDONLY);
  ASSERT_TRUE(in.ok());
  auto n = fs.CopyFileRange(src, *in, 2, dst->attr.ino, dst->fh, 4, 5);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(*fs.CopyFileRange(src, *in, 8, dst->attr.ino, dst->fh, 0, 100), 2u) << "to EOF";
  ASSERT_TRUE(fs.Release(src, *in).ok());
  ASSERT_TRUE(fs.Release(dst->attr.ino, dst->fh).ok());
  EXPECT_EQ(this->ReadAll(dst->attr.ino), std::string("89\0\0"
                                                      "23456",
                                                      9));
}

TYPED_TEST(FilesystemContractTest, PunchingAHoleZeroesAndKeepsTheSize) {
  Filesystem& fs = this->fs();
  const uint64_t f = this->NewFile(kRootIno, "f", "abcdefghij");
  auto fh = fs.Open(f, O_RDWR);
  ASSERT_TRUE(fh.ok());
  ASSERT_TRUE(fs.Fallocate(f, *fh, kFallocPunchHole | kFallocKeepSize, 2, 3).ok());
  ASSERT_TRUE(fs.Fallocate(f, *fh, 0, 0, 20).ok());
  ASSERT_TRUE(fs.Release(f, *fh).ok());
  EXPECT_EQ(this->ReadAll(f), std::string("ab\0\0\0fghij", 10) + std::string(10, '\0'));
}

}  // namespace
}  // namespace shardfs::core
