// Adapter: what the libfuse low-level callbacks share — the core, the cache timeouts and the
// features negotiated at init — handed to libfuse as the session's userdata; and the table of
// callbacks. Each callback decodes its request, makes one blocking call into the thread-safe
// core and replies exactly once (fs/fuse/request.h). Thread-safe: libfuse's worker threads call
// in concurrently; `writeback_active` is set by init, before libfuse dispatches anything else.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "fs/core/filesystem.h"

struct fuse_lowlevel_ops;
struct fuse_session;

namespace shardfs::fuse {

struct AdapterConfig {
  double attr_timeout = 1.0;
  double entry_timeout = 1.0;
  bool writeback_cache = true;  // asked for; the kernel may not offer it
  // Shown instead of the stored owner and group (-o uid=, gid=), and permission bits hidden
  // from every file (-o umask=); the core's own attributes are unchanged.
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  uint32_t umask = 0;
};

struct Adapter {
  core::Filesystem& fs;
  AdapterConfig config;
  std::atomic<bool> writeback_active{false};  // what init negotiated
  // For notifications to the kernel (its cached attributes are stale); set once the session
  // exists, before it is mounted, and cleared before it is destroyed.
  std::atomic<fuse_session*> session{nullptr};
};

// The callbacks: every operation shardfs serves. Locks (getlk, setlk, flock) are left out on
// purpose, so the kernel keeps them locally; so are ioctl, poll, bmap and lseek.
const fuse_lowlevel_ops& LowLevelOps();

}  // namespace shardfs::fuse
