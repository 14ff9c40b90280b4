// OpenDriveFilesystem: builds the filesystem of an unlocked drive from its config: the `meta`
// KvStore and the BlockCache under the cache directory, the drive's store, and the core. Takes
// an exclusive lock on the cache directory so one drive is mounted once; the lock is held
// until the returned object is destroyed.
#pragma once

#include <memory>

#include "cli/drive/drive_unlock.h"
#include "fs/core/filesystem.h"
#include "fs/core/fs_options.h"
#include "fs/util/result.h"

namespace shardfs::drive {

// Makes each S3 node of the config ready for the drive: reachable, credentials accepted, bucket
// there (created if missing). `shardfs init --nodes` calls it before writing anything.
util::Status PrepareNodes(const core::DriveConfig& config);

util::Result<std::unique_ptr<core::Filesystem>> OpenDriveFilesystem(UnlockedDrive drive,
                                                                    const core::FsOptions& options);

}  // namespace shardfs::drive
