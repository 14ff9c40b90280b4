// The daemon's control socket, which `shardfs status`, `shardfs sync` and `shardfs unmount`
// talk to: an abstract Unix socket "\0shardfs/control/MAJOR:MINOR" named after the mount (like
// daemon_socket.h). Only the daemon's own user and root may connect (SO_PEERCRED), and the
// client checks the server is the mount's daemon the same way. Protocol: the client sends one
// line, "status", "sync", "read-only" or "read-write"; the server answers with JSON lines and
// closes: "status" one object (docs/control.md), "sync" seals everything written, then sends a
// progress object every 250 ms until nothing is left to upload, then {"done":true};
// "read-only" and "read-write" switch the drive (Filesystem::SetReadOnly, for `mount -o
// remount`) and answer {"done":true} or {"error":...}. Thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fs/core/filesystem.h"
#include "fs/util/mutex.h"
#include "fs/util/result.h"

namespace shardfs::fuse {

std::string ControlSocketName(uint32_t major, uint32_t minor);

// What a status line tells: the drive's status, and how the mount takes its requests (io_uring
// entries the kernel holds, 0 when requests come through /dev/fuse, and requests served
// through them since the mount).
struct MountStatus {
  core::DriveStatus drive;
  uint64_t uring_entries = 0;
  uint64_t uring_requests = 0;
};

// MountStatus <-> one line of JSON.
std::string StatusToJson(const MountStatus& st);
util::Result<MountStatus> StatusFromJson(std::string_view line);

class ControlServer {
 public:
  // fs must outlive the server.
  static util::Result<std::unique_ptr<ControlServer>> Start(core::Filesystem& fs, uint32_t major,
                                                            uint32_t minor);
  // Stops listening, ends streams in progress (they get an "unmounting" error line), joins.
  ~ControlServer();

 private:
  ControlServer(core::Filesystem& fs, int listen_fd, int wake_fd[2]);
  void AcceptLoop();
  void Serve(int fd);
  MountStatus CurrentStatus();

  core::Filesystem& fs_;
  int listen_fd_;
  int wake_read_, wake_write_;  // a byte here ends the accept loop
  std::atomic<bool> stopping_{false};
  util::Mutex mu_;
  std::vector<std::thread> handlers_ GUARDED_BY(mu_);
  std::thread acceptor_;
};

// Sends request to the daemon of mount major:minor and calls on_line for each line of the
// answer. kNotFound when no daemon listens, kPermission when the server is not owned by
// expected_uid (or root).
util::Status ControlRequest(uint32_t major, uint32_t minor, uid_t expected_uid,
                            std::string_view request,
                            const std::function<util::Status(std::string_view line)>& on_line);

}  // namespace shardfs::fuse
