// `shardfs status [MOUNTPOINT]` and `shardfs sync MOUNTPOINT`: ask a mounted drive's daemon,
// over its control socket (fs/fuse/control_socket.h), what is waiting to be uploaded, how the
// cache is used and how each node is doing; or wait, with a progress bar, until everything
// written so far is stored on the nodes. `shardfs unmount` shows the same progress.
#pragma once

#include <optional>
#include <string>

#include "fs/fuse/mount_table.h"
#include "fs/util/result.h"

namespace shardfs::cli {

util::Status RunStatus(const std::optional<std::string>& mountpoint);
util::Status RunSync(const std::string& mountpoint);

// The mount at path (lexically first, then after resolving symlinks); kNotFound if none.
util::Result<fuse::MountEntry> FindMount(const std::string& path);
// Waits until the daemon of mount has stored everything, drawing progress on stderr.
// kNotFound when no daemon answers (the caller decides whether that matters).
util::Status SyncWithProgress(const fuse::MountEntry& mount);

}  // namespace shardfs::cli
