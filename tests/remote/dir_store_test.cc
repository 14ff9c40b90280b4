// DirStore beyond the shared contract: layout, durability across reopen, temp files, escapes,
// open errors and a full disk.
#include "fs/remote/dir_store.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fs/util/files.h"
#include "tests/temp_dir.h"

namespace shardfs::remote {
namespace {

namespace fs = std::filesystem;
using util::Bytes;
using util::Errc;

Bytes Str(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Every regular file under root, relative to it.
std::vector<std::string> FilesUnder(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class DirStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    auto opened = DirStore::Open(root_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }
  void PutOk(std::string_view name, const Bytes& data) {
    auto s = store_->Put(name, data);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }

  testutil::TempDir tmp_;
  std::string root_ = tmp_.path() + "/store";
  std::unique_ptr<DirStore> store_;
};

TEST_F(DirStoreTest, CreatesPrivateDirectory) {
  struct stat st {};
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(store_->Describe(), "dir:" + root_);

  auto nested = DirStore::Open(tmp_.path() + "/a/b/c/");
  ASSERT_TRUE(nested.ok()) << nested.error().message;
  EXPECT_EQ((*nested)->dir(), tmp_.path() + "/a/b/c");
}

TEST_F(DirStoreTest, FansOutByFirstTwoCharacters) {
  PutOk("abcdef", Str("1"));
  PutOk("z", Str("2"));
  PutOk("ab", Str("3"));
  EXPECT_EQ(store_->ObjectPath("abcdef"), root_ + "/objects/ab/abcdef");
  EXPECT_EQ(FilesUnder(root_),
            (std::vector<std::string>{"objects/ab/ab", "objects/ab/abcdef", "objects/z/z"}));
}

TEST_F(DirStoreTest, SurvivesReopen) {
  PutOk("kept", Str("still here"));
  PutOk("replaced", Str("old"));
  PutOk("replaced", Str("new!"));
  PutOk("deleted", Str("gone"));
  ASSERT_TRUE(store_->Delete("deleted").ok());
  Reopen();
  EXPECT_EQ(*store_->Get("kept"), Str("still here"));
  EXPECT_EQ(*store_->Get("replaced"), Str("new!"));
  EXPECT_EQ(store_->Get("deleted").code(), Errc::kNotFound);
  EXPECT_EQ(*store_->List(""), (std::vector<std::string>{"kept", "replaced"}));
  auto usage = store_->Usage();  // walked from disk
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->objects, 2u);
  EXPECT_EQ(usage->used_bytes, 14u);
}

TEST_F(DirStoreTest, UsageIsWalkedOnceThenTracked) {
  PutOk("before-1", Bytes(100));
  PutOk("before-2", Bytes(50));
  auto u = store_->Usage();
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->objects, 2u);
  EXPECT_EQ(u->used_bytes, 150u);
  EXPECT_GE(u->capacity_bytes, u->used_bytes);
  PutOk("before-1", Bytes(10));
  PutOk("after", Bytes(7));
  ASSERT_TRUE(store_->Delete("before-2").ok());
  u = store_->Usage();
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->objects, 2u);
  EXPECT_EQ(u->used_bytes, 17u);
}

TEST_F(DirStoreTest, LeavesNoTempFiles) {
  for (int i = 0; i < 20; ++i) PutOk("obj" + std::to_string(i % 5), Bytes(1000 + i, 'x'));
  for (const std::string& f : FilesUnder(root_)) {
    EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;
  }
  EXPECT_EQ(FilesUnder(root_).size(), 5u);
}

TEST_F(DirStoreTest, IgnoresTempAndStrayFiles) {
  PutOk("abc", Str("real"));
  // What a crash in the middle of a Put leaves, and things that are not objects.
  std::ofstream(root_ + "/objects/ab/.tmp-abd-Xy12zz") << "half written";
  std::ofstream(root_ + "/objects/ab/Stray") << "not an object name";
  std::ofstream(root_ + "/objects/README") << "not in a fan-out directory";
  ASSERT_EQ(::mkdir((root_ + "/objects/ab/subdir").c_str(), 0700), 0);
  EXPECT_EQ(*store_->List(""), std::vector<std::string>{"abc"});
  EXPECT_EQ(*store_->List("ab"), std::vector<std::string>{"abc"});
  auto u = store_->Usage();
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->objects, 1u);
  EXPECT_EQ(u->used_bytes, 4u);
}

TEST_F(DirStoreTest, PutFileKeepsTheFileItself) {
  const std::string src = tmp_.path() + "/block";
  const Bytes content(300000, 0x42);
  ASSERT_TRUE(util::WriteFileAtomic(src, content, 0600).ok());
  ASSERT_TRUE(store_->Usage().ok());  // counted from here on
  for (int i = 0; i < 2; ++i) {       // the second time, as a retry would
    auto s = store_->PutFile("linked", src, content.size());
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(src.c_str(), &a), 0);
  ASSERT_EQ(::stat(store_->ObjectPath("linked").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(b.st_nlink, 2u);  // no temp link left behind by the retry either
  EXPECT_EQ(FilesUnder(root_), std::vector<std::string>{"objects/li/linked"});
  auto u = store_->Usage();
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->objects, 1u);
  EXPECT_EQ(u->used_bytes, content.size());

  // The object outlives the file it came from, and a Put replaces it like any other.
  ASSERT_EQ(::unlink(src.c_str()), 0);
  EXPECT_EQ(*store_->Get("linked"), content);
  PutOk("linked", Str("replaced"));
  EXPECT_EQ(*store_->Get("linked"), Str("replaced"));
  EXPECT_EQ(store_->Usage()->used_bytes, 8u);
}

TEST_F(DirStoreTest, PutFileRefusesWhatItCannotKeep) {
  const std::string src = tmp_.path() + "/block";
  ASSERT_TRUE(util::WriteFileAtomic(src, Str("twelve bytes"), 0600).ok());
  auto wrong_size = store_->PutFile("wrong", src, 13);
  EXPECT_EQ(wrong_size.code(), Errc::kCorrupt);
  EXPECT_NE(wrong_size.error().message.find(src), std::string::npos) << wrong_size.error().message;
  auto gone = store_->PutFile("gone", tmp_.path() + "/missing", 12);
  EXPECT_EQ(gone.code(), Errc::kNotFound);
  EXPECT_EQ(store_->PutFile("../escaped", src, 12).code(), Errc::kInvalid);
  EXPECT_EQ(FilesUnder(root_), std::vector<std::string>{});  // nothing stored, no temp link
  struct stat st {};
  ASSERT_EQ(::stat(src.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
}

TEST_F(DirStoreTest, NamesCannotEscape) {
  for (const char* name : {"../escaped", "../../escaped", "ab/../../escaped", "/tmp/escaped", "..",
                           ".", ".tmp-x-123456"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(store_->Put(name, Str("x")).code(), Errc::kInvalid);
    EXPECT_EQ(store_->Get(name).code(), Errc::kInvalid);
    EXPECT_EQ(store_->Delete(name).code(), Errc::kInvalid);
  }
  EXPECT_FALSE(util::PathExists(tmp_.path() + "/escaped"));
  EXPECT_FALSE(util::PathExists(root_ + "/escaped"));
  EXPECT_EQ(FilesUnder(tmp_.path()), std::vector<std::string>{});
  // A prefix is only ever compared, never used as a path.
  EXPECT_TRUE(store_->List("../").ok());
  EXPECT_TRUE(store_->List("..").ok());
}

TEST_F(DirStoreTest, OpenErrorsNameThePath) {
  const std::string file = tmp_.path() + "/a-file";
  std::ofstream(file) << "x";
  auto on_file = DirStore::Open(file);
  ASSERT_FALSE(on_file.ok());
  EXPECT_EQ(on_file.code(), Errc::kNotDir);
  EXPECT_NE(on_file.error().message.find(file), std::string::npos) << on_file.error().message;

  auto under_file = DirStore::Open(file + "/sub");
  ASSERT_FALSE(under_file.ok());
  EXPECT_EQ(under_file.code(), Errc::kNotDir);

  EXPECT_EQ(DirStore::Open("").code(), Errc::kInvalid);

  if (::geteuid() == 0) return;  // root may write anywhere
  const std::string locked = tmp_.path() + "/locked";
  ASSERT_EQ(::mkdir(locked.c_str(), 0500), 0);
  auto denied = DirStore::Open(locked);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.code(), Errc::kPermission);
  EXPECT_NE(denied.error().message.find(locked), std::string::npos) << denied.error().message;
  auto denied_below = DirStore::Open(locked + "/store");
  ASSERT_FALSE(denied_below.ok());
  EXPECT_EQ(denied_below.code(), Errc::kPermission);
}

// A store on a 1 MiB tmpfs, to fill it for real.
class DirStoreFullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a 1 MiB tmpfs";
    mount_ = tmp_.path() + "/tiny";
    ASSERT_EQ(::mkdir(mount_.c_str(), 0700), 0);
    if (::mount("tmpfs", mount_.c_str(), "tmpfs", 0, "size=1m,mode=0700") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(errno)
                   << "); run as root with CAP_SYS_ADMIN to test a full disk";
    }
    mounted_ = true;
    auto opened = DirStore::Open(mount_ + "/store");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }
  void TearDown() override {
    store_.reset();
    if (mounted_) {
      EXPECT_EQ(::umount(mount_.c_str()), 0) << std::strerror(errno);
    }
  }

  testutil::TempDir tmp_;
  std::string mount_;
  bool mounted_ = false;
  std::unique_ptr<DirStore> store_;
};

TEST_F(DirStoreFullDiskTest, FullDiskIsNoSpaceAndKeepsEarlierObjects) {
  const Bytes chunk(100 << 10, 0x5a);
  int stored = 0;
  util::Status last;
  for (int i = 0; i < 40 && last.ok(); ++i) {
    last = store_->Put("obj-" + std::to_string(i), chunk);
    if (last.ok()) ++stored;
  }
  ASSERT_FALSE(last.ok()) << "a 1 MiB tmpfs took 4 MiB";
  EXPECT_EQ(last.code(), Errc::kNoSpace) << last.error().message;
  EXPECT_NE(last.error().message.find(store_->Describe()), std::string::npos)
      << last.error().message;
  EXPECT_GE(stored, 5);

  const std::string failed = "obj-" + std::to_string(stored);
  EXPECT_EQ(store_->Get(failed).code(), Errc::kNotFound);
  for (int i = 0; i < stored; ++i) {
    auto got = store_->Get("obj-" + std::to_string(i));
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, chunk);
  }
  EXPECT_EQ(FilesUnder(mount_ + "/store").size(), static_cast<size_t>(stored));  // no temp left
  auto u = store_->Usage();
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->objects, static_cast<uint64_t>(stored));

  // Space freed is space usable again.
  ASSERT_TRUE(store_->Delete("obj-0").ok());
  ASSERT_TRUE(store_->Delete("obj-1").ok());
  EXPECT_TRUE(store_->Put(failed, chunk).ok());
}

TEST_F(DirStoreFullDiskTest, PutFileFromAnotherFileSystemIsCrossDevice) {
  const std::string src = tmp_.path() + "/block";  // not on the tmpfs
  ASSERT_TRUE(util::WriteFileAtomic(src, Str("elsewhere"), 0600).ok());
  auto s = store_->PutFile("obj", src, 9);
  EXPECT_EQ(s.code(), Errc::kCrossDevice) << (s.ok() ? "linked" : s.error().message);
  EXPECT_EQ(FilesUnder(mount_ + "/store"), std::vector<std::string>{});
  EXPECT_TRUE(store_->Put("obj", Str("elsewhere")).ok());  // what the caller does instead
}

}  // namespace
}  // namespace shardfs::remote
