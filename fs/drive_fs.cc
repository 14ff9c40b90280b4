#include "fs/drive_fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "fs/cache/block_cache.h"
#include "fs/core_fs.h"
#include "fs/meta_store.h"
#include "fs/remote/dir_store.h"
#include "fs/remote/whole_block_store.h"
#include "fs/util/files.h"

namespace shardfs::core {

using util::Errc;
using util::MakeError;
using util::Result;

namespace {

// An exclusive lock on <cache dir>/lock: a second mount of the same drive (or of another
// drive configured with the same cache) fails instead of corrupting the cache.
Result<int> LockCacheDir(const DriveConfig& config) {
  std::string path = config.cache_dir + "/lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return util::ErrnoError(errno, fmt::format("cannot open {}", path));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return MakeError(Errc::kExists,
                       fmt::format("drive '{}' is already mounted: its cache {} is in use; "
                                   "unmount it first",
                                   config.name, config.cache_dir));
    }
    return util::ErrnoError(err, fmt::format("cannot lock {}", path));
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<Filesystem>> OpenDriveFilesystem(UnlockedDrive drive,
                                                        const FsOptions& options) {
  const DriveConfig& config = drive.config;
  auto made = util::MakeDirs(config.cache_dir, 0700);
  if (!made.ok()) return made.error().WithContext("cache directory");
  SHARDFS_ASSIGN_OR_RETURN(int lock_fd, LockCacheDir(config));
  auto fail = [&](const util::Error& e) {
    ::close(lock_fd);
    return e;
  };
  auto meta =
      MetaStore::Open(config.cache_dir + "/meta", drive.keys.metadata, drive.keys.entry_names);
  if (!meta.ok()) return fail(meta.error().WithContext("metadata"));
  auto cache = cache::BlockCache::Open({config.cache_dir + "/blocks", config.cache_size});
  if (!cache.ok()) return fail(cache.error().WithContext("block cache"));
  auto store = remote::DirStore::Open(config.store.path);
  if (!store.ok()) return fail(store.error().WithContext("store"));
  CoreFs::Deps deps;
  deps.config = config;
  deps.keys = std::move(drive.keys);
  deps.meta = std::move(meta).value();
  deps.cache = std::move(cache).value();
  deps.store = std::make_unique<remote::WholeBlockStore>(std::move(store).value());
  deps.clock = std::make_shared<util::SystemClock>();
  deps.options = options;
  deps.lock_fd = lock_fd;
  deps.root_uid = ::geteuid();
  deps.root_gid = ::getegid();
  auto fs = CoreFs::Open(std::move(deps));  // closes lock_fd itself, also on failure
  if (!fs.ok()) return fs.error();
  return std::unique_ptr<Filesystem>(std::move(fs).value());
}

}  // namespace shardfs::core
