#include "fs/util/files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

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

TEST(PathsTest, ParentAndAbsolute) {
  EXPECT_EQ(ParentDir("/a/b"), "/a");
  EXPECT_EQ(ParentDir("/a"), "/");
  EXPECT_EQ(ParentDir("a"), ".");
  EXPECT_EQ(AbsolutePath("/x/y"), "/x/y");
  EXPECT_EQ(AbsolutePath("y")[0], '/');
}

}  // namespace
}  // namespace shardfs::util
