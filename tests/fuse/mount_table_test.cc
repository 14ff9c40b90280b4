#include "fs/fuse/mount_table.h"

#include <gtest/gtest.h>

namespace shardfs::fuse {
namespace {

constexpr const char* kMountInfo =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "30 22 0:26 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
    "garbage line\n"
    "41 22 0:45 / /mnt/my\\040drive rw,nosuid,nodev,relatime shared:20 master:3 - fuse.shardfs "
    "shardfs:photos rw,user_id=1000,group_id=1000,default_permissions\n"
    "42 41 0:46 / /mnt/my\\040drive rw,nosuid,nodev,relatime - fuse.shardfs shardfs:other "
    "rw,user_id=0,group_id=0,default_permissions,allow_other\n"
    "43 22 0:47 / /tmp rw - tmpfs tmpfs\n";

TEST(MountTable, ParsesFieldsAfterOptionalOnes) {
  auto mounts = ParseMountInfo(kMountInfo);
  ASSERT_EQ(mounts.size(), 5u);
  EXPECT_EQ(mounts[0].mount_point, "/");
  EXPECT_EQ(mounts[0].fs_type, "ext4");
  EXPECT_EQ(mounts[0].major, 8u);
  EXPECT_EQ(mounts[0].minor, 1u);
  const MountEntry& fuse = mounts[2];
  EXPECT_EQ(fuse.mount_point, "/mnt/my drive");
  EXPECT_EQ(fuse.fs_type, "fuse.shardfs");
  EXPECT_EQ(fuse.source, "shardfs:photos");
  EXPECT_EQ(fuse.major, 0u);
  EXPECT_EQ(fuse.minor, 45u);
  EXPECT_EQ(MountOwner(fuse), 1000u);
  EXPECT_EQ(MountOwner(mounts[3]), 0u);
  EXPECT_EQ(MountOwner(mounts[0]), std::nullopt);
  EXPECT_EQ(mounts[4].super_options, "");
}

TEST(MountTable, FindsTheMountOnTop) {
  auto mounts = ParseMountInfo(kMountInfo);
  const MountEntry* m = FindMountAt(mounts, "/mnt/my drive");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->source, "shardfs:other");
  EXPECT_EQ(FindMountAt(mounts, "/mnt"), nullptr);
  EXPECT_EQ(FindMountAt(mounts, "/mnt/my drive/"), nullptr);  // callers normalize
}

TEST(MountTable, ReadsTheRealTable) {
  auto mounts = ReadMountTable();
  ASSERT_TRUE(mounts.ok()) << mounts.error().message;
  EXPECT_NE(FindMountAt(*mounts, "/"), nullptr);
}

TEST(MountTable, NormalizePath) {
  EXPECT_EQ(NormalizePath("/"), "/");
  EXPECT_EQ(NormalizePath("/a/b/"), "/a/b");
  EXPECT_EQ(NormalizePath("//a//./b/../c"), "/a/c");
  EXPECT_EQ(NormalizePath("/.."), "/");
  EXPECT_EQ(NormalizePath("/a/.."), "/");
}

}  // namespace
}  // namespace shardfs::fuse
