// `mount -o remount,ro DIR` and `remount,rw`: mount(8) hands these to mount.fuse3, which runs
// `shardfs SOURCE DIR -o remount,ro,...`. Nothing is mounted or unlocked: the kernel's mount at
// DIR is switched with mount(2) MS_REMOUNT (its nosuid, nodev, noexec and atime flags kept unless
// the options change them), and its daemon is told over the control socket, so that it seals
// and syncs what was written before the drive freezes, and refuses changes itself too.
// Read-only first at the kernel, then the daemon (no change slips in between); read-write first
// at the daemon, then the kernel. Needs root, as any change of a mount's flags does.
#pragma once

#include <string>

#include "fs/fuse/mount_options.h"
#include "fs/util/result.h"

namespace shardfs::cli {

util::Status RunRemount(const std::string& mountpoint, const fuse::MountOptions& options);

}  // namespace shardfs::cli
