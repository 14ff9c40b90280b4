#include "cli/drive/drive_paths.h"

#include <gtest/gtest.h>

namespace shardfs::drive {
namespace {

TEST(DrivePathsTest, ConfigDirPrecedence) {
  PathEnv env{"/env/cfg", "/xdg/cfg", "/xdg/cache", "/home/ana"};
  EXPECT_EQ(*ResolveConfigDir({std::string("/flag"), true}, env), "/flag");
  EXPECT_EQ(*ResolveConfigDir({std::nullopt, true}, env), "/etc/shardfs");
  EXPECT_EQ(*ResolveConfigDir({}, env), "/env/cfg");
  env.shardfs_config_dir.clear();
  EXPECT_EQ(*ResolveConfigDir({}, env), "/xdg/cfg/shardfs");
  env.xdg_config_home.clear();
  EXPECT_EQ(*ResolveConfigDir({}, env), "/home/ana/.config/shardfs");
  env.home.clear();
  auto r = ResolveConfigDir({}, env);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--config-dir"), std::string::npos);
}

TEST(DrivePathsTest, CacheDirDefaults) {
  PathEnv env{"", "", "/xdg/cache", "/home/ana"};
  EXPECT_EQ(*DefaultCacheDir("d", true, env), "/var/cache/shardfs/d");
  EXPECT_EQ(*DefaultCacheDir("d", false, env), "/xdg/cache/shardfs/d");
  env.xdg_cache_home.clear();
  EXPECT_EQ(*DefaultCacheDir("d", false, env), "/home/ana/.cache/shardfs/d");
}

TEST(DrivePathsTest, Layout) {
  DrivePaths p = DrivePaths::For("/c", "photos");
  EXPECT_EQ(p.drive_dir, "/c/drives/photos");
  EXPECT_EQ(p.config_file, "/c/drives/photos/config.json");
  EXPECT_EQ(p.keyfile, "/c/drives/photos/keyfile");
}

}  // namespace
}  // namespace shardfs::drive
