#include "fs/fuse/daemon_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "fs/util/files.h"

namespace shardfs::fuse {

using util::Errc;
using util::MakeError;

namespace {

constexpr int kBacklog = 64;

socklen_t FillAddress(const std::string& name, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.data(), name.size());  // name is far shorter than sun_path
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string DaemonSocketName(uint32_t major, uint32_t minor) {
  return std::string(1, '\0') + fmt::format("shardfs/mount/{}:{}", major, minor);
}

util::Result<DaemonListener> DaemonListener::Listen(uint32_t major, uint32_t minor) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return util::ErrnoError(errno, "cannot create the daemon socket");
  sockaddr_un addr;
  socklen_t len = FillAddress(DaemonSocketName(major, minor), addr);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 ||
      ::listen(fd, kBacklog) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EADDRINUSE) {
      return MakeError(Errc::kExists, fmt::format("another process listens as the daemon of "
                                                  "mount {}:{}",
                                                  major, minor));
    }
    return util::ErrnoError(err, "cannot listen on the daemon socket");
  }
  return DaemonListener(fd);
}

DaemonListener::DaemonListener(DaemonListener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

DaemonListener& DaemonListener::operator=(DaemonListener&& other) noexcept {
  if (this != &other) {
    CloseFd(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DaemonListener::~DaemonListener() { CloseFd(fd_); }

util::Result<DaemonConnection> DaemonConnection::Connect(uint32_t major, uint32_t minor) {
  // Non-blocking, so a full backlog is an error rather than a hang.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return util::ErrnoError(errno, "cannot create a socket");
  sockaddr_un addr;
  socklen_t len = FillAddress(DaemonSocketName(major, minor), addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    int err = errno;
    ::close(fd);
    if (err == ECONNREFUSED || err == ENOENT) {
      return MakeError(Errc::kNotFound,
                       fmt::format("no shardfs daemon serves mount {}:{}", major, minor));
    }
    return util::ErrnoError(err, "cannot reach the shardfs daemon");
  }
  ucred cred{};
  socklen_t cred_len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0) {
    int err = errno;
    ::close(fd);
    return util::ErrnoError(err, "cannot identify the shardfs daemon");
  }
  return DaemonConnection(fd, cred.pid, cred.uid);
}

DaemonConnection::DaemonConnection(DaemonConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), pid_(other.pid_), uid_(other.uid_) {}

DaemonConnection& DaemonConnection::operator=(DaemonConnection&& other) noexcept {
  if (this != &other) {
    CloseFd(fd_);
    fd_ = std::exchange(other.fd_, -1);
    pid_ = other.pid_;
    uid_ = other.uid_;
  }
  return *this;
}

DaemonConnection::~DaemonConnection() { CloseFd(fd_); }

bool DaemonConnection::WaitForExit(int timeout_ms) {
  if (fd_ < 0) return true;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      wait_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    pollfd p{fd_, POLLIN, 0};
    int n = ::poll(&p, 1, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return false;
    if (n < 0) return true;  // cannot wait on it: do not hang
    // The daemon never writes: readable means hung up (EOF or ECONNRESET).
    char byte;
    ssize_t r = ::recv(fd_, &byte, 1, MSG_DONTWAIT);
    if (r > 0) continue;
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    return true;
  }
}

}  // namespace shardfs::fuse
