// Mount options: the text of `-o` ("ro,allow_other,attr_timeout=2") split into the options
// shardfs acts on and the libfuse/kernel options it passes through, and the libfuse command line
// built from them. Every option is listed in one table in mount_options.cc (name, kind, help,
// and how it applies); an option not in the table is an error naming it, so a typo never reaches
// libfuse (which would reject it with a less helpful message) nor is silently ignored.
// The options mount(8) and /etc/fstab use for their own purposes (_netdev, nofail, auto, user,
// x-systemd.*, ...) are in the table too, accepted and ignored. Pure functions over plain values;
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/util/result.h"

namespace shardfs::fuse {

inline constexpr std::string_view kSubtype = "shardfs";  // the mount type is fuse.shardfs

struct MountOptions {
  bool read_only = false;
  // Not a mount: switch the drive mounted there to read_only, keeping its other options
  // (`mount -o remount,ro DIR`, through mount.fuse3).
  bool remount = false;
  bool allow_other = false;
  bool debug = false;
  bool writeback_cache = true;
  bool io_uring = true;        // FUSE over io_uring when the kernel offers it (uring_transport.h)
  double attr_timeout = 1.0;   // seconds the kernel trusts attributes it was given
  double entry_timeout = 1.0;  // seconds it trusts names, found or not found
  std::optional<std::string> fsname;  // shown by df and findmnt; default shardfs:DRIVE
  std::string subtype{kSubtype};
  // Finding and unlocking the drive, for mount(8) and /etc/fstab (the CLI's flags otherwise).
  std::optional<std::string> password_file;
  std::optional<std::string> config;      // the drive's config.json, or the directory holding it
  std::optional<std::string> config_dir;  // like --config-dir
  std::optional<std::string> cache_dir;   // instead of the drive config's
  std::optional<uint64_t> cache_size;     // bytes; instead of the drive config's
  // What every file shows (like sshfs and rclone mounts): this owner and group instead of the
  // stored ones, and the permission bits less umask. The kernel checks access against these.
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  uint32_t umask = 0;
  // Options of libfuse or the kernel (nosuid, noatime, ...), as written, in order.
  std::vector<std::string> passthrough;
};

// Applies one -o string on top of `options` (later options win, as with mount(8)). Empty items
// (",,") are skipped. On error `options` may be partly updated.
util::Status ParseMountOptions(std::string_view text, MountOptions& options);

// Whether an -o string asks for a remount ("remount" among its items).
bool HasRemount(std::string_view text);
// As ParseMountOptions, for a remount: mount(8) passes the mount's current options from the
// mount table too, so the kernel's names for them (relatime, user_id=0, ...) are accepted as
// well; the atime ones land in passthrough. Sets remount.
util::Status ParseRemountOptions(std::string_view text, MountOptions& options);

// The arguments for fuse_session_new after argv[0]: "-o" and one comma-separated list that
// always holds default_permissions, fsname and subtype.
std::vector<std::string> LibfuseArguments(const MountOptions& options,
                                          std::string_view default_fsname);

// One line per option ("  ro                  mount read-only"), for --help.
std::string MountOptionsHelp();

}  // namespace shardfs::fuse
