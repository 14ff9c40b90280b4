#include "cli/drive/drive_paths.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "fs/core/drive_config.h"
#include "fs/util/files.h"

namespace shardfs::drive {

namespace {
std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

util::Result<std::string> UnderHome(const PathEnv& env, const char* rest, const char* xdg_name) {
  if (env.home.empty()) {
    return util::MakeError(util::Errc::kInvalid,
                           std::string("neither $") + xdg_name +
                               " nor $HOME is set, so there is no default directory; set one, "
                               "or pass --config-dir / --cache-dir");
  }
  return env.home + rest;
}
}  // namespace

PathEnv PathEnv::FromProcess() {
  return PathEnv{Env("SHARDFS_CONFIG_DIR"), Env("XDG_CONFIG_HOME"), Env("XDG_CACHE_HOME"),
                 Env("HOME")};
}

util::Result<std::string> ResolveConfigDir(const DriveLocation& where, const PathEnv& env) {
  if (where.config_dir && !where.config_dir->empty()) return util::AbsolutePath(*where.config_dir);
  if (where.system) return std::string("/etc/shardfs");
  if (!env.shardfs_config_dir.empty()) return util::AbsolutePath(env.shardfs_config_dir);
  if (!env.xdg_config_home.empty()) return util::AbsolutePath(env.xdg_config_home) + "/shardfs";
  return UnderHome(env, "/.config/shardfs", "XDG_CONFIG_HOME");
}

util::Result<std::string> DefaultCacheDir(const std::string& drive, bool system,
                                          const PathEnv& env) {
  if (system) return "/var/cache/shardfs/" + drive;
  if (!env.xdg_cache_home.empty()) {
    return util::AbsolutePath(env.xdg_cache_home) + "/shardfs/" + drive;
  }
  SHARDFS_ASSIGN_OR_RETURN(std::string base, UnderHome(env, "/.cache/shardfs", "XDG_CACHE_HOME"));
  return base + "/" + drive;
}

DrivePaths DrivePaths::For(const std::string& config_dir, const std::string& name) {
  DrivePaths p;
  p.config_dir = config_dir;
  p.drives_dir = config_dir + "/drives";
  p.drive_dir = p.drives_dir + "/" + name;
  p.config_file = p.drive_dir + "/config.json";
  p.keyfile = p.drive_dir + "/keyfile";
  return p;
}

std::vector<std::string> ListDrives(const std::string& config_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(config_dir + "/drives", ec)) {
    std::string name = e.path().filename().string();
    if (core::ValidateDriveName(name).ok() &&
        util::PathExists(e.path().string() + "/config.json")) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace shardfs::drive
