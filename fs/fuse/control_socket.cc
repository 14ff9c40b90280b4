#include "fs/fuse/control_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "fs/fuse/uring_transport.h"
#include "fs/util/files.h"

namespace shardfs::fuse {

using util::Errc;
using util::MakeError;
using util::Status;

namespace {

constexpr int kBacklog = 16;
constexpr auto kProgressEvery = std::chrono::milliseconds(250);
constexpr size_t kMaxLine = 1 << 20;

socklen_t FillAddress(const std::string& name, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// One line from fd, waiting at most timeout_ms for each chunk; "" on EOF, error or timeout.
std::string ReadLine(int fd, int timeout_ms) {
  std::string line;
  char c;
  while (line.size() < 256) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return "";
    ssize_t n = ::recv(fd, &c, 1, 0);
    if (n <= 0) return "";
    if (c == '\n') return line;
    line += c;
  }
  return "";
}

bool PeerAllowed(int fd, uid_t expected) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  return cred.uid == expected || cred.uid == 0;
}

}  // namespace

std::string ControlSocketName(uint32_t major, uint32_t minor) {
  return std::string(1, '\0') + fmt::format("shardfs/control/{}:{}", major, minor);
}

std::string StatusToJson(const MountStatus& mount) {
  const core::DriveStatus& st = mount.drive;
  nlohmann::ordered_json j;
  j["pending_blocks"] = st.pending_blocks;
  j["pending_bytes"] = st.pending_bytes;
  j["uploaded_bytes"] = st.uploaded_bytes;
  j["pending_deletes"] = st.pending_deletes;
  j["last_upload_error"] = st.last_upload_error;
  j["cache_used_bytes"] = st.cache_used_bytes;
  j["cache_budget_bytes"] = st.cache_budget_bytes;
  j["cache_capacity_bytes"] = st.cache_capacity_bytes;
  j["cache_dirty_bytes"] = st.cache_dirty_bytes;
  j["cache_hits"] = st.cache_hits;
  j["cache_misses"] = st.cache_misses;
  j["readahead_blocks"] = st.readahead_blocks;
  j["read_waits"] = st.read_waits;
  j["sealed_blocks"] = st.sealed_blocks;
  j["seal_commits"] = st.seal_commits;
  j["buffer_bytes"] = st.buffer_bytes;
  j["buffer_budget_bytes"] = st.buffer_budget_bytes;
  j["uring_entries"] = mount.uring_entries;
  j["uring_requests"] = mount.uring_requests;
  j["read_only"] = st.read_only;
  j["store"] = st.store;
  j["nodes"] = nlohmann::ordered_json::array();
  for (const auto& n : st.nodes) {
    j["nodes"].push_back({{"name", n.name},
                          {"endpoint", n.endpoint},
                          {"healthy", n.healthy},
                          {"latency_ms", n.latency_ms},
                          {"error_rate", n.error_rate},
                          {"shards_stored", n.shards_stored},
                          {"bad_shards", n.bad_shards},
                          {"last_error", n.last_error}});
  }
  return j.dump();
}

util::Result<MountStatus> StatusFromJson(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  MountStatus mount;
  core::DriveStatus& st = mount.drive;
  try {
    if (j.is_discarded() || !j.is_object()) throw std::exception();
    st.pending_blocks = j.at("pending_blocks").get<uint64_t>();
    st.pending_bytes = j.at("pending_bytes").get<uint64_t>();
    st.uploaded_bytes = j.at("uploaded_bytes").get<uint64_t>();
    st.last_upload_error = j.at("last_upload_error").get<std::string>();
    st.cache_used_bytes = j.at("cache_used_bytes").get<uint64_t>();
    st.cache_budget_bytes = j.at("cache_budget_bytes").get<uint64_t>();
    st.cache_capacity_bytes = j.value("cache_capacity_bytes", st.cache_budget_bytes);
    st.cache_dirty_bytes = j.at("cache_dirty_bytes").get<uint64_t>();
    st.cache_hits = j.at("cache_hits").get<uint64_t>();
    st.cache_misses = j.at("cache_misses").get<uint64_t>();
    st.pending_deletes = j.value("pending_deletes", uint64_t{0});
    st.readahead_blocks = j.value("readahead_blocks", uint64_t{0});  // absent from older daemons
    st.read_waits = j.value("read_waits", uint64_t{0});
    st.sealed_blocks = j.value("sealed_blocks", uint64_t{0});
    st.seal_commits = j.value("seal_commits", uint64_t{0});
    st.buffer_bytes = j.value("buffer_bytes", uint64_t{0});
    st.buffer_budget_bytes = j.value("buffer_budget_bytes", uint64_t{0});
    mount.uring_entries = j.value("uring_entries", uint64_t{0});
    mount.uring_requests = j.value("uring_requests", uint64_t{0});
    st.read_only = j.value("read_only", false);
    st.store = j.at("store").get<std::string>();
    for (const auto& n : j.at("nodes")) {
      core::NodeHealth ns;
      ns.name = n.at("name").get<std::string>();
      ns.endpoint = n.at("endpoint").get<std::string>();
      ns.healthy = n.at("healthy").get<bool>();
      ns.latency_ms = n.at("latency_ms").get<double>();
      ns.error_rate = n.at("error_rate").get<double>();
      ns.shards_stored = n.at("shards_stored").get<uint64_t>();
      ns.bad_shards = n.at("bad_shards").get<uint64_t>();
      ns.last_error = n.at("last_error").get<std::string>();
      st.nodes.push_back(std::move(ns));
    }
  } catch (const std::exception&) {
    return MakeError(Errc::kCorrupt, "the daemon's status reply is malformed");
  }
  return mount;
}

util::Result<std::unique_ptr<ControlServer>> ControlServer::Start(core::Filesystem& fs,
                                                                  uint32_t major, uint32_t minor) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return util::ErrnoError(errno, "cannot create the control socket");
  sockaddr_un addr;
  socklen_t len = FillAddress(ControlSocketName(major, minor), addr);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 ||
      ::listen(fd, kBacklog) != 0) {
    int err = errno;
    ::close(fd);
    return util::ErrnoError(err, "cannot listen on the control socket");
  }
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(fd);
    return util::ErrnoError(err, "pipe");
  }
  std::unique_ptr<ControlServer> server(new ControlServer(fs, fd, wake));
  server->acceptor_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

ControlServer::ControlServer(core::Filesystem& fs, int listen_fd, int wake_fd[2])
    : fs_(fs), listen_fd_(listen_fd), wake_read_(wake_fd[0]), wake_write_(wake_fd[1]) {}

ControlServer::~ControlServer() {
  stopping_ = true;
  char b = 1;
  (void)!::write(wake_write_, &b, 1);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> handlers;
  {
    util::MutexLock lock(mu_);
    handlers.swap(handlers_);
  }
  for (auto& t : handlers) t.join();
  ::close(listen_fd_);
  ::close(wake_read_);
  ::close(wake_write_);
}

void ControlServer::AcceptLoop() {
  while (!stopping_) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("control socket: poll: {}", std::strerror(errno));
      return;
    }
    if (p[1].revents != 0) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (!PeerAllowed(fd, ::geteuid())) {
      ::close(fd);
      continue;
    }
    util::MutexLock lock(mu_);
    handlers_.emplace_back([this, fd] {
      Serve(fd);
      ::close(fd);
    });
  }
}

MountStatus ControlServer::CurrentStatus() {
  MountStatus st;
  st.drive = fs_.GetStatus();
  const internal::UringTransport::Stats uring = internal::UringTransport::CurrentStats();
  st.uring_entries = uring.entries;
  st.uring_requests = uring.served;
  return st;
}

void ControlServer::Serve(int fd) {
  const std::string request = ReadLine(fd, 5000);
  if (request == "status") {
    (void)SendAll(fd, StatusToJson(CurrentStatus()) + "\n");
    return;
  }
  if (request == "read-only" || request == "read-write") {
    Status set = fs_.SetReadOnly(request == "read-only");
    nlohmann::json reply =
        set.ok() ? nlohmann::json{{"done", true}} : nlohmann::json{{"error", set.error().message}};
    (void)SendAll(fd, reply.dump() + "\n");
    return;
  }
  if (request != "sync") {
    (void)SendAll(fd, R"({"error":"unknown request"})"
                      "\n");
    return;
  }
  Status sealed = fs_.SealAll();
  if (!sealed.ok()) {
    nlohmann::json e = {{"error", sealed.error().message}};
    (void)SendAll(fd, e.dump() + "\n");
    return;
  }
  while (true) {
    const MountStatus st = CurrentStatus();
    if (!SendAll(fd, StatusToJson(st) + "\n")) return;  // the client went away
    if (st.drive.pending_blocks == 0) {
      (void)SendAll(fd, R"({"done":true})"
                        "\n");
      return;
    }
    if (stopping_) {
      (void)SendAll(fd, R"({"error":"the drive is being unmounted"})"
                        "\n");
      return;
    }
    pollfd p{fd, POLLIN, 0};  // a hang-up ends the wait early
    if (::poll(&p, 1, static_cast<int>(kProgressEvery.count())) > 0) {
      char c;
      if (::recv(fd, &c, 1, MSG_DONTWAIT) == 0) return;
    }
  }
}

Status ControlRequest(uint32_t major, uint32_t minor, uid_t expected_uid, std::string_view request,
                      const std::function<Status(std::string_view line)>& on_line) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return util::ErrnoError(errno, "cannot create a socket");
  sockaddr_un addr;
  socklen_t len = FillAddress(ControlSocketName(major, minor), addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    int err = errno;
    ::close(fd);
    if (err == ECONNREFUSED || err == ENOENT) {
      return MakeError(Errc::kNotFound, "no shardfs daemon answers for this mount");
    }
    return util::ErrnoError(err, "cannot reach the shardfs daemon");
  }
  if (!PeerAllowed(fd, expected_uid)) {
    ::close(fd);
    return MakeError(Errc::kPermission,
                     "the process answering for this mount is not its shardfs daemon");
  }
  Status status = util::Ok();
  if (!SendAll(fd, std::string(request) + "\n")) {
    status = util::ErrnoError(errno, "cannot send to the shardfs daemon");
  }
  std::string buffer;
  char chunk[4096];
  while (status.ok()) {
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while (status.ok() && (nl = buffer.find('\n')) != std::string::npos) {
      status = on_line(std::string_view(buffer).substr(0, nl));
      buffer.erase(0, nl + 1);
    }
    if (buffer.size() > kMaxLine) status = MakeError(Errc::kCorrupt, "reply line too long");
  }
  ::close(fd);
  return status;
}

}  // namespace shardfs::fuse
