#include "cli/remount_command.h"

#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fs/fuse/control_socket.h"
#include "fs/fuse/mount_table.h"
#include "fs/util/files.h"

namespace shardfs::cli {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {

// The mount's per-mount flags as they are (a remount replaces them with what it is given).
unsigned long CurrentFlags(const struct statvfs& vfs) {
  unsigned long flags = 0;
  const std::pair<unsigned long, unsigned long> kept[] = {
      {ST_NOSUID, MS_NOSUID},           {ST_NODEV, MS_NODEV},     {ST_NOEXEC, MS_NOEXEC},
      {ST_SYNCHRONOUS, MS_SYNCHRONOUS}, {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME},
      {ST_RELATIME, MS_RELATIME},
  };
  for (const auto& [st, ms] : kept) {
    if ((vfs.f_flag & st) != 0) flags |= ms;
  }
  if ((flags & (MS_NOATIME | MS_RELATIME)) == 0) flags |= MS_STRICTATIME;
  return flags;
}

// The kernel options of -o that a remount may change; the rest were fixed at mount time (mount(8)
// passes fstab's options along with the command line's, so they are accepted and left alone).
void ApplyKernelOptions(const fuse::MountOptions& options, unsigned long& flags) {
  for (const std::string& opt : options.passthrough) {
    const std::pair<std::string_view, std::pair<unsigned long, bool>> known[] = {
        {"nosuid", {MS_NOSUID, true}},    {"suid", {MS_NOSUID, false}},
        {"nodev", {MS_NODEV, true}},      {"dev", {MS_NODEV, false}},
        {"noexec", {MS_NOEXEC, true}},    {"exec", {MS_NOEXEC, false}},
        {"sync", {MS_SYNCHRONOUS, true}}, {"async", {MS_SYNCHRONOUS, false}},
        {"dirsync", {MS_DIRSYNC, true}},
    };
    bool matched = false;
    for (const auto& [name, change] : known) {
      if (opt != name) continue;
      flags = change.second ? (flags | change.first) : (flags & ~change.first);
      matched = true;
    }
    constexpr unsigned long kAtimeFlags = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;
    if (opt == "noatime") {
      flags = (flags & ~kAtimeFlags) | MS_NOATIME;
    } else if (opt == "relatime") {
      flags = (flags & ~kAtimeFlags) | MS_RELATIME;
    } else if (opt == "strictatime" || opt == "atime") {
      flags = (flags & ~kAtimeFlags) | MS_STRICTATIME;
    } else if (opt == "nodiratime" || opt == "diratime") {
      flags = opt == "nodiratime" ? (flags | MS_NODIRATIME) : (flags & ~MS_NODIRATIME);
    } else if (opt == "lazytime" || opt == "nolazytime") {
      flags = opt == "lazytime" ? (flags | MS_LAZYTIME) : (flags & ~MS_LAZYTIME);
    } else if (!matched) {
      spdlog::debug("remount: '{}' was set when the drive was mounted and stays as it is", opt);
    }
  }
}

Status TellDaemon(const fuse::MountEntry& m, bool read_only) {
  std::string error;
  bool done = false;
  Status s = fuse::ControlRequest(m.major, m.minor, fuse::MountOwner(m).value_or(0),
                                  read_only ? "read-only" : "read-write",
                                  [&](std::string_view line) -> Status {
                                    if (line.find("\"done\"") != std::string_view::npos) {
                                      done = true;
                                    } else {
                                      error = std::string(line);
                                    }
                                    return util::Ok();
                                  });
  if (!s.ok()) return s;
  if (!done) {
    return MakeError(
        Errc::kInternal,
        fmt::format("the shardfs daemon of {} did not switch to {}: {}", m.mount_point,
                    read_only ? "read-only" : "read-write", error.empty() ? "no answer" : error));
  }
  return util::Ok();
}

Status KernelRemount(const std::string& mountpoint, unsigned long flags, bool read_only) {
  if (read_only) flags |= MS_RDONLY;
  if (::mount(nullptr, mountpoint.c_str(), nullptr, MS_REMOUNT | flags, nullptr) == 0) {
    return util::Ok();
  }
  const int err = errno;
  if (err == EBUSY && read_only) {
    return MakeError(Errc::kInvalid,
                     fmt::format("{} is busy: a file is open for writing there (`fuser -vm {}` "
                                 "shows which process); close it and remount again",
                                 mountpoint, mountpoint));
  }
  return util::ErrnoError(err, fmt::format("cannot remount {}", mountpoint));
}

}  // namespace

Status RunRemount(const std::string& path, const fuse::MountOptions& options) {
  const std::string target = fuse::NormalizePath(util::AbsolutePath(path));
  SHARDFS_ASSIGN_OR_RETURN(std::vector<fuse::MountEntry> mounts, fuse::ReadMountTable());
  const fuse::MountEntry* m = fuse::FindMountAt(mounts, target);
  if (m == nullptr) {
    char real[PATH_MAX];
    if (::realpath(target.c_str(), real) != nullptr) m = fuse::FindMountAt(mounts, real);
  }
  if (m == nullptr) {
    return MakeError(
        Errc::kNotFound,
        fmt::format("nothing is mounted at {} to remount; mount the drive first", target));
  }
  if (!m->fs_type.starts_with("fuse.")) {
    return MakeError(Errc::kInvalid, fmt::format("{} is not a shardfs mount: it is a {} mount of "
                                                 "{}",
                                                 m->mount_point, m->fs_type, m->source));
  }
  if (::geteuid() != 0) {
    return MakeError(Errc::kPermission,
                     fmt::format("remounting {} changes the flags of a mount, which only root may "
                                 "do (run it with sudo)",
                                 m->mount_point));
  }
  struct statvfs vfs {};
  if (::statvfs(m->mount_point.c_str(), &vfs) != 0) {
    return util::ErrnoError(errno, fmt::format("cannot read the flags of {}", m->mount_point));
  }
  unsigned long flags = CurrentFlags(vfs);
  ApplyKernelOptions(options, flags);
  if (options.read_only) {
    SHARDFS_TRY(KernelRemount(m->mount_point, flags, true));
    Status told = TellDaemon(*m, true);
    if (!told.ok()) {
      // The kernel refuses every change already; only the daemon's own sealing is missing.
      spdlog::warn("{} is read-only, but its daemon was not told: {}", m->mount_point,
                   told.error().message);
    }
    return util::Ok();
  }
  Status told = TellDaemon(*m, false);
  if (!told.ok()) {
    return util::Context(told, fmt::format("cannot make {} read-write", m->mount_point));
  }
  return KernelRemount(m->mount_point, flags, false);
}

}  // namespace shardfs::cli
