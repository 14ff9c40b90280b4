// Where a drive's files live. The config directory is, in order: an explicit --config-dir,
// /etc/shardfs with --system, $SHARDFS_CONFIG_DIR, $XDG_CONFIG_HOME/shardfs, ~/.config/shardfs.
// A drive NAME keeps config.json and keyfile in <config dir>/drives/NAME/. The default cache is
// /var/cache/shardfs/NAME with --system, else $XDG_CACHE_HOME/shardfs/NAME or
// ~/.cache/shardfs/NAME. Pure functions over an explicit environment; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fs/util/result.h"

namespace shardfs::drive {

// The environment variables that decide paths, read once by main.
struct PathEnv {
  std::string shardfs_config_dir;
  std::string xdg_config_home;
  std::string xdg_cache_home;
  std::string home;
  static PathEnv FromProcess();
};

struct DriveLocation {
  std::optional<std::string> config_dir;  // --config-dir
  bool system = false;                    // --system
};

util::Result<std::string> ResolveConfigDir(const DriveLocation& where, const PathEnv& env);
util::Result<std::string> DefaultCacheDir(const std::string& drive, bool system,
                                          const PathEnv& env);

struct DrivePaths {
  std::string config_dir;
  std::string drives_dir;  // <config_dir>/drives
  std::string drive_dir;   // <drives_dir>/<name>
  std::string config_file;
  std::string keyfile;
  static DrivePaths For(const std::string& config_dir, const std::string& name);
};

// Names of the drives under a config directory, sorted; empty when there is none.
std::vector<std::string> ListDrives(const std::string& config_dir);

}  // namespace shardfs::drive
