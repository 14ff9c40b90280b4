// How `shardfs unmount` finds the daemon serving a mount and waits for it to finish. The daemon
// listens on an abstract Unix socket named after its mount's device number (for FUSE, the
// connection number: unique while mounted, and known to both sides from /proc/self/mountinfo).
// A client connects and is never accepted: the kernel tells it the daemon's pid and uid
// (SO_PEERCRED) and hangs the connection up when the daemon process exits, which it does only
// after unmounting, shutting the core down (pending uploads) and releasing the drive. Nothing
// lives on disk, so nothing goes stale after a crash, and pid reuse cannot fool the wait.
// Thread-compatible; the objects own their descriptors (move-only).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "fs/util/result.h"

namespace shardfs::fuse {

// "\0shardfs/mount/MAJOR:MINOR" (with the leading NUL of the abstract namespace).
std::string DaemonSocketName(uint32_t major, uint32_t minor);

class DaemonListener {
 public:
  // kExists when another process already listens under that name.
  static util::Result<DaemonListener> Listen(uint32_t major, uint32_t minor);

  DaemonListener(DaemonListener&& other) noexcept;
  DaemonListener& operator=(DaemonListener&& other) noexcept;
  ~DaemonListener();

 private:
  explicit DaemonListener(int fd) : fd_(fd) {}
  int fd_ = -1;
};

class DaemonConnection {
 public:
  // kNotFound when no daemon listens for that mount.
  static util::Result<DaemonConnection> Connect(uint32_t major, uint32_t minor);

  DaemonConnection(DaemonConnection&& other) noexcept;
  DaemonConnection& operator=(DaemonConnection&& other) noexcept;
  ~DaemonConnection();

  pid_t pid() const { return pid_; }
  uid_t uid() const { return uid_; }

  // Waits up to timeout_ms (negative: forever) for the daemon process to exit; true if it has.
  bool WaitForExit(int timeout_ms);

 private:
  DaemonConnection(int fd, pid_t pid, uid_t uid) : fd_(fd), pid_(pid), uid_(uid) {}
  int fd_ = -1;
  pid_t pid_ = 0;
  uid_t uid_ = 0;
};

}  // namespace shardfs::fuse
