#include "cli/devnet_command.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fs/core/node_list.h"
#include "fs/util/files.h"
#include "fs/util/units.h"

namespace shardfs::cli {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {

// A node answers once it has read its data directory (seconds for tens of thousands of
// objects with a cold cache); one that exits meanwhile is reported at once.
constexpr auto kStartTimeout = std::chrono::seconds(120);
constexpr auto kStopTimeout = std::chrono::seconds(15);
constexpr const char* kBucket = "shardfs";

struct DevNode {
  std::string id;
  std::string dir;  // DIR/nodeI
  int port = 0;
  std::string access_key;
  std::string secret_key;
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/PID/stat field 22: tells a reused pid apart
};

std::string RandomText(size_t n, std::string_view alphabet) {
  std::random_device rd;
  std::string out;
  for (size_t i = 0; i < n; ++i) out += alphabet[rd() % alphabet.size()];
  return out;
}

// The process's start time in clock ticks since boot, 0 when it does not exist.
uint64_t StartTimeOf(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(in, line)) return 0;
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(line.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

bool Running(const DevNode& n) {
  if (n.pid <= 0 || n.start_time == 0 || StartTimeOf(n.pid) != n.start_time) return false;
  std::ifstream in(fmt::format("/proc/{}/stat", n.pid));
  std::string line;
  std::getline(in, line);
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

Result<int> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return util::ErrnoError(errno, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc == 0) rc = ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int err = errno;
  ::close(fd);
  if (rc != 0) return util::ErrnoError(err, "cannot find a free port on 127.0.0.1");
  return ntohs(addr.sin_port);
}

// GET /_shardfs/health on 127.0.0.1:port: true on a 200 reply.
bool Healthy(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{.tv_sec = 2, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req =
        "GET /_shardfs/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[64] = {};
      ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
      ok = n >= 12 && std::string_view(buf, 12).substr(9, 3) == "200";
    }
  }
  ::close(fd);
  return ok;
}

std::string DefaultDir() {
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.local/share/shardfs/devnet";
}

Result<std::string> NodeBinary(const DevnetOptions& o) {
  if (o.node_bin) {
    if (::access(o.node_bin->c_str(), X_OK) != 0) {
      return MakeError(Errc::kNotFound,
                       fmt::format("--node-bin {} is not an executable", *o.node_bin));
    }
    return util::AbsolutePath(*o.node_bin);
  }
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    const std::string here = util::ParentDir(self);
    // Installed side by side, or in the build tree (build/cli/shardfs, build/node/shardfs-node).
    for (const std::string& c :
         {here + "/shardfs-node", util::ParentDir(here) + "/node/shardfs-node"}) {
      if (::access(c.c_str(), X_OK) == 0) return c;
    }
  }
  if (const char* path = std::getenv("PATH")) {
    std::istringstream dirs(path);
    std::string d;
    while (std::getline(dirs, d, ':')) {
      std::string c = d + "/shardfs-node";
      if (!d.empty() && ::access(c.c_str(), X_OK) == 0) return c;
    }
  }
  return MakeError(Errc::kNotFound,
                   "cannot find the shardfs-node program beside shardfs or on PATH; pass "
                   "--node-bin PATH");
}

std::string StateFile(const std::string& dir) { return dir + "/devnet.json"; }

Status SaveState(const std::string& dir, const std::vector<DevNode>& nodes) {
  nlohmann::ordered_json j;
  j["format"] = "shardfs-devnet";
  j["version"] = 1;
  for (const DevNode& n : nodes) {
    j["nodes"].push_back({{"id", n.id},
                          {"dir", n.dir},
                          {"port", n.port},
                          {"access_key", n.access_key},
                          {"secret_key", n.secret_key},
                          {"pid", n.pid},
                          {"start_time", n.start_time}});
  }
  return util::WriteFileAtomic(StateFile(dir), util::AsBytes(j.dump(2) + "\n"), 0600);
}

Result<std::vector<DevNode>> LoadState(const std::string& dir) {
  auto text = util::ReadFile(StateFile(dir), 1 << 20);
  if (!text.ok()) return text.error();
  nlohmann::json j = nlohmann::json::parse(util::AsStringView(*text), nullptr, false);
  std::vector<DevNode> nodes;
  try {
    if (j.is_discarded() || j.value("format", "") != "shardfs-devnet") throw std::exception();
    for (const auto& e : j.at("nodes")) {
      DevNode n;
      n.id = e.at("id").get<std::string>();
      n.dir = e.at("dir").get<std::string>();
      n.port = e.at("port").get<int>();
      n.access_key = e.at("access_key").get<std::string>();
      n.secret_key = e.at("secret_key").get<std::string>();
      n.pid = e.at("pid").get<pid_t>();
      n.start_time = e.at("start_time").get<uint64_t>();
      nodes.push_back(std::move(n));
    }
  } catch (const std::exception&) {
    return MakeError(Errc::kCorrupt, fmt::format("{} is damaged; stop any shardfs-node processes "
                                                 "by hand and remove it",
                                                 StateFile(dir)));
  }
  return nodes;
}

std::string LogTail(const std::string& path) {
  auto text = util::ReadFile(path, 1 << 20);
  if (!text.ok()) return "(no log)";
  std::string s(util::AsStringView(*text));
  if (s.size() > 600) s = "..." + s.substr(s.size() - 600);
  return s;
}

Status StartNode(DevNode& n, const std::string& bin, uint64_t quota) {
  SHARDFS_TRY(util::MakeDirs(n.dir + "/data", 0700));
  nlohmann::ordered_json cfg;
  cfg["listen"] = fmt::format("127.0.0.1:{}", n.port);
  cfg["data"] = n.dir + "/data";
  cfg["keys"] = nlohmann::json::array(
      {{{"access_key", n.access_key}, {"secret_key", n.secret_key}, {"quota", quota}}});
  const std::string cfg_path = n.dir + "/node.json";
  SHARDFS_TRY(util::WriteFileAtomic(cfg_path, util::AsBytes(cfg.dump(2) + "\n"), 0600));
  const std::string log = n.dir + "/node.log";
  pid_t pid = ::fork();
  if (pid < 0) return util::ErrnoError(errno, "fork");
  if (pid == 0) {
    ::setsid();
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::execl(bin.c_str(), "shardfs-node", "--config", cfg_path.c_str(), nullptr);
    ::_exit(127);
  }
  n.pid = pid;
  n.start_time = StartTimeOf(pid);
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Healthy(n.port)) return util::Ok();
    int wstatus = 0;
    if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
      n.pid = 0;
      return MakeError(Errc::kUnavailable, fmt::format("node {} exited at start; its log {}:\n{}",
                                                       n.id, log, LogTail(log)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return MakeError(
      Errc::kUnavailable,
      fmt::format("node {} did not answer on 127.0.0.1:{} within {} s; its log {}:\n{}", n.id,
                  n.port, kStartTimeout.count(), log, LogTail(log)));
}

std::vector<core::NodeSpec> NodeList(const std::vector<DevNode>& nodes) {
  std::vector<core::NodeSpec> specs;
  for (const DevNode& n : nodes) {
    core::NodeSpec s;
    s.id = n.id;
    s.endpoint = fmt::format("http://127.0.0.1:{}", n.port);
    s.bucket = kBucket;
    s.access_key = n.access_key;
    s.secret_key = n.secret_key;
    s.zone = "devnet";
    specs.push_back(std::move(s));
  }
  return specs;
}

Status StopNodes(std::vector<DevNode>& nodes) {
  for (DevNode& n : nodes)
    if (Running(n)) ::kill(n.pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
  for (DevNode& n : nodes) {
    while (Running(n) && std::chrono::steady_clock::now() < deadline) {
      ::waitpid(n.pid, nullptr, WNOHANG);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (Running(n)) {
      fmt::print(stderr, "node {} (pid {}) did not stop within {} s: killing it\n", n.id, n.pid,
                 kStopTimeout.count());
      ::kill(n.pid, SIGKILL);
    }
    n.pid = 0;
    n.start_time = 0;
  }
  return util::Ok();
}

Status Up(const std::string& dir, const DevnetOptions& o) {
  if (o.nodes < 1 || o.nodes > 64) {
    return MakeError(Errc::kInvalid, fmt::format("--nodes {}: give 1 to 64", o.nodes));
  }
  SHARDFS_ASSIGN_OR_RETURN(uint64_t quota, util::ParseSize(o.quota));
  SHARDFS_ASSIGN_OR_RETURN(std::string bin, NodeBinary(o));
  SHARDFS_TRY(util::MakeDirs(dir, 0700));
  std::vector<DevNode> nodes;
  if (util::PathExists(StateFile(dir))) {
    // The devnet exists: start the nodes that are not running, with their ports and keys.
    SHARDFS_ASSIGN_OR_RETURN(nodes, LoadState(dir));
    if (static_cast<int>(nodes.size()) != o.nodes) {
      return MakeError(Errc::kExists,
                       fmt::format("the devnet in {} has {} nodes, not {}; use --nodes {} (or "
                                   "another --dir)",
                                   dir, nodes.size(), o.nodes, nodes.size()));
    }
  } else {
    for (int i = 1; i <= o.nodes; ++i) {
      DevNode n;
      n.id = fmt::format("node{}", i);
      n.dir = fmt::format("{}/node{}", dir, i);
      SHARDFS_ASSIGN_OR_RETURN(n.port, FreePort());
      n.access_key = "SFDEV" + RandomText(15, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
      n.secret_key =
          RandomText(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
      nodes.push_back(std::move(n));
    }
  }
  std::vector<size_t> started;
  Status result = util::Ok();
  for (size_t i = 0; i < nodes.size() && result.ok(); ++i) {
    if (Running(nodes[i])) continue;
    result = StartNode(nodes[i], bin, quota);
    started.push_back(i);
  }
  if (!result.ok()) {  // stop what this call started; nodes that were running stay
    std::vector<DevNode> ours;
    for (size_t i : started) ours.push_back(nodes[i]);
    (void)StopNodes(ours);
    for (size_t i : started) nodes[i].pid = 0, nodes[i].start_time = 0;
    (void)SaveState(dir, nodes);
    return result;
  }
  SHARDFS_TRY(SaveState(dir, nodes));
  const std::string list = dir + "/nodes.conf";
  SHARDFS_TRY(
      util::WriteFileAtomic(list, util::AsBytes(core::SerializeNodeList(NodeList(nodes))), 0600));
  fmt::print("devnet in {}: {} nodes running ({} started now) on 127.0.0.1, ports", dir,
             nodes.size(), started.size());
  for (const DevNode& n : nodes) fmt::print(" {}", n.port);
  fmt::print("\nnode list: {}\n", list);
  fmt::print("create a drive on it: shardfs init DRIVE --nodes {}\n", list);
  fmt::print("stop it: shardfs devnet down --dir {}\n", dir);
  return util::Ok();
}

Status Down(const std::string& dir) {
  if (!util::PathExists(StateFile(dir))) {
    fmt::print("no devnet in {}\n", dir);
    return util::Ok();
  }
  SHARDFS_ASSIGN_OR_RETURN(auto nodes, LoadState(dir));
  int running = 0;
  for (const DevNode& n : nodes) running += Running(n) ? 1 : 0;
  SHARDFS_TRY(StopNodes(nodes));
  SHARDFS_TRY(SaveState(dir, nodes));
  fmt::print(
      "devnet in {}: stopped {} nodes (their data stays; `shardfs devnet up --dir {}` "
      "starts them again)\n",
      dir, running, dir);
  return util::Ok();
}

Status ShowStatus(const std::string& dir) {
  if (!util::PathExists(StateFile(dir))) {
    return MakeError(Errc::kNotFound,
                     fmt::format("no devnet in {}; start one with `shardfs devnet up`", dir));
  }
  SHARDFS_ASSIGN_OR_RETURN(auto nodes, LoadState(dir));
  int up = 0;
  fmt::print("{:<8} {:<22} {:<8} {}\n", "node", "endpoint", "pid", "state");
  for (const DevNode& n : nodes) {
    const bool running = Running(n);
    const bool healthy = running && Healthy(n.port);
    up += healthy ? 1 : 0;
    fmt::print("{:<8} {:<22} {:<8} {}\n", n.id, fmt::format("http://127.0.0.1:{}", n.port),
               running ? std::to_string(n.pid) : "-",
               healthy   ? "up"
               : running ? "running, not answering"
                         : "down");
  }
  fmt::print("{} of {} nodes up; node list {}/nodes.conf\n", up, nodes.size(), dir);
  return util::Ok();
}

}  // namespace

Status RunDevnet(const DevnetOptions& o) {
  const std::string dir = util::AbsolutePath(o.dir.value_or(DefaultDir()));
  if (o.action == "up") return Up(dir, o);
  if (o.action == "down") return Down(dir);
  if (o.action == "status") return ShowStatus(dir);
  return MakeError(Errc::kInvalid, fmt::format("devnet {}: say up, down or status", o.action));
}

}  // namespace shardfs::cli
