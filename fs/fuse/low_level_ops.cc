#include <spdlog/spdlog.h>

#include "fs/fuse/adapter.h"
#include "fs/fuse/request.h"

namespace shardfs::fuse {

namespace {

constexpr unsigned kMaxWrite = 1u << 20;

void Init(void* userdata, fuse_conn_info* conn) {
  Adapter& adapter = *static_cast<Adapter*>(userdata);
  auto want = [conn](unsigned cap) {
    if ((conn->capable & cap) == 0) return false;
    conn->want |= cap;
    return true;
  };
  bool writeback = adapter.config.writeback_cache && want(FUSE_CAP_WRITEBACK_CACHE);
  if (adapter.config.writeback_cache && !writeback) {
    spdlog::warn("the kernel offers no writeback cache: every write goes to shardfs uncached");
  }
  if (!adapter.config.writeback_cache) conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  adapter.writeback_active.store(writeback);
  want(FUSE_CAP_ASYNC_READ);
  // Asked for, but libfuse 3.14 never passes it on to the kernel (fixed in 3.16, libfuse PR
  // #861): until then the kernel serializes lookups and readdirs within one directory.
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_READDIRPLUS);
  want(FUSE_CAP_READDIRPLUS_AUTO);
  want(FUSE_CAP_ATOMIC_O_TRUNC);  // open() gets O_TRUNC, the core truncates
  want(FUSE_CAP_EXPORT_SUPPORT);  // lookups of "." and ".." (NFS export)
  want(FUSE_CAP_CACHE_SYMLINKS);  // a symlink's target never changes
  // Locks stay in the kernel (local to this machine); splice is not handled; the kernel clears
  // setuid/setgid bits itself on write and chown (by a setattr of the mode).
  conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_SPLICE_READ |
                  FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_HANDLE_KILLPRIV);
  // No asynchronous direct I/O: an O_DIRECT write submitted with io_submit then runs as a
  // synchronous one does, and the kernel drops the pages buffered readers cached of that range
  // once the write is done. With it, the kernel drops them only before the write, and a page a
  // concurrent reader fetched meanwhile kept the old bytes for every later read from any
  // descriptor (tests/fstest/concurrent_readers.cc). Invalidating from the daemon instead would
  // block a serving thread on pages whose reads wait for a free thread of the same queue.
  conn->want &= ~FUSE_CAP_ASYNC_DIO;
  conn->max_write = kMaxWrite;
  // max_readahead stays at what the kernel offered: the most it allows.
  conn->time_gran = 1;  // nanosecond timestamps
  spdlog::info("fuse: protocol {}.{}, max_write {}, max_readahead {}, writeback cache {}",
               conn->proto_major, conn->proto_minor, conn->max_write, conn->max_readahead,
               writeback ? "on" : "off");
}

void Destroy(void* /*userdata*/) {
  // The session's owner shuts the core down after the loop (FuseSession::Run), where the
  // outcome can be reported; nothing is left to do here.
  spdlog::debug("fuse: connection closed");
}

}  // namespace

const fuse_lowlevel_ops& LowLevelOps() {
  static const fuse_lowlevel_ops ops = [] {
    fuse_lowlevel_ops o{};
    o.init = Init;
    o.destroy = Destroy;
    internal::AddNodeOps(o);
    internal::AddDataOps(o);
    return o;
  }();
  return ops;
}

}  // namespace shardfs::fuse
