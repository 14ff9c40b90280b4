// The kernel's table of mounts as /proc/self/mountinfo shows it (proc(5)): parsing it, and
// finding the mount on top of a path. Used by `shardfs mount` (refuse a mount point that is
// already a shardfs mount), by the daemon (its own mount's device number) and by `shardfs
// unmount`. Reading the table never touches the mounted filesystems themselves, so it is safe
// while a FUSE daemon is not yet serving. Pure functions except ReadMountTable; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/util/result.h"

namespace shardfs::fuse {

struct MountEntry {
  uint32_t major = 0;  // the mounted filesystem's device number; for FUSE, minor is the
  uint32_t minor = 0;  // connection number in /sys/fs/fuse/connections
  std::string root;
  std::string mount_point;  // unescaped (\040 -> ' ')
  std::string fs_type;      // e.g. "fuse.shardfs"
  std::string source;       // e.g. "shardfs:photos"
  std::string super_options;
};

// Lines that do not parse are skipped.
std::vector<MountEntry> ParseMountInfo(std::string_view text);

// /proc/self/mountinfo.
util::Result<std::vector<MountEntry>> ReadMountTable();

// The mount at exactly `path` (absolute, no trailing slash, no symlinks) that is on top of any
// others there (listed last); nullptr when nothing is mounted there.
const MountEntry* FindMountAt(const std::vector<MountEntry>& mounts, std::string_view path);

// A FUSE mount's owner: user_id= in its super options.
std::optional<uint32_t> MountOwner(const MountEntry& entry);

// "/a/./b//c/../" -> "/a/b": removes ".", "..", repeated and trailing slashes without looking at
// the filesystem (a dead FUSE mount cannot be stat'ed). `path` must be absolute.
std::string NormalizePath(std::string_view path);

}  // namespace shardfs::fuse
