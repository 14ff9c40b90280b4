#include "tests/s3/servers.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

extern char** environ;

namespace shardfs::remote::testing {
namespace {

const std::string kFixture = SHARDFS_TEST_DATA_DIR "/../fixtures/ceph-rgw.sh";
const std::string kNodeBinary = SHARDFS_BINARY_DIR "/node/shardfs-node";

struct State {
  std::mutex mu;
  bool rgw_tried = false, node_tried = false;
  ServerInfo rgw{"CephRgw", "", "", ""}, node{"ShardfsNode", "", "", ""};
  std::string rgw_access, rgw_secret;
  std::string rgw_dir;  // set when this process started the cluster
  std::string node_dir;
  pid_t node_pid = -1;
};

State& state() {
  static State* s = new State();  // leaked on purpose: used until the Environment's TearDown
  return *s;
}

std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
  std::map<std::string, std::string> vars;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return vars;
}

std::string MakeTempDir(const char* prefix) {
  std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
  SHARDFS_CHECK(mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
  return tmpl;
}

void UseRgwEnv(State& s, const std::string& env_file) {
  auto vars = ReadEnvFile(env_file);
  s.rgw.endpoint = vars["S3_ENDPOINT"];
  s.rgw_access = vars["S3_ACCESS_KEY"];
  s.rgw_secret = vars["S3_SECRET_KEY"];
  if (s.rgw.endpoint.empty() || s.rgw_access.empty() || s.rgw_secret.empty()) {
    s.rgw.error = "the RGW fixture wrote no usable " + env_file;
  }
}

void StartRgw(State& s) {
  if (const char* shared = getenv("SHARDFS_TEST_RGW_ENV"); shared != nullptr && *shared) {
    if (access(shared, R_OK) != 0) {
      s.rgw.skip_reason = std::string("no Ceph RGW: ") + shared +
                          " is missing (are the ceph packages installed? scripts/install-deps.sh)";
      return;
    }
    return UseRgwEnv(s, shared);
  }
  std::string dir = MakeTempDir("shardfs-s3-rgw");
  std::string cmd = kFixture + " start " + dir + " --owner-pid " + std::to_string(getpid()) +
                    " > " + dir + ".log 2>&1";
  int rc = std::system(cmd.c_str());
  int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  if (code == 3) {
    s.rgw.skip_reason = "no Ceph RGW: the ceph binaries are missing (scripts/install-deps.sh)";
    rmdir(dir.c_str());
    return;
  }
  s.rgw_dir = dir;
  if (code != 0) {
    std::ifstream log(dir + ".log");
    std::stringstream text;
    text << log.rdbuf();
    s.rgw.error = "tests/fixtures/ceph-rgw.sh start failed: " + text.str();
    return;
  }
  UseRgwEnv(s, dir + "/env");
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

void StartNode(State& s) {
  if (access(kNodeBinary.c_str(), X_OK) != 0) {
    s.node.skip_reason = "no shardfs-node: " + kNodeBinary + " is not built";
    return;
  }
  s.node_dir = MakeTempDir("shardfs-s3-node");
  std::string config = s.node_dir + "/node.json";
  {
    std::ofstream out(config);
    out << "{\"keys\":[";
    for (int i = 0; i <= kNodeKeys; ++i) {
      out << (i ? "," : "") << "{\"access_key\":\"" << NodeAccessKey(i) << "\",\"secret_key\":\""
          << NodeSecretKey(i) << "\",\"quota\":" << (i == kNodeKeys ? kNodeQuotaBytes : 0) << "}";
    }
    out << "]}\n";
  }
  const int port = FreePort();
  std::string listen = "127.0.0.1:" + std::to_string(port);
  std::string data = s.node_dir + "/data";
  std::string log = s.node_dir + "/node.log";
  std::vector<std::string> args = {kNodeBinary, "--listen", listen,        "--data", data,
                                   "--config",  config,     "--log-level", "warn"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = posix_spawn(&s.node_pid, kNodeBinary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    s.node.error = "cannot run " + kNodeBinary;
    s.node_pid = -1;
    return;
  }
  s.node.endpoint = "http://" + listen;
  S3Options probe_options = StoreOptions(s.node, "probe", 0);
  probe_options.max_attempts = 1;
  auto probe = S3Store::Open(std::move(probe_options));
  for (int i = 0; i < 100; ++i) {
    auto up = (*probe)->IsShardfsNode();
    if (up.ok() && *up) return;
    int status;
    if (waitpid(s.node_pid, &status, WNOHANG) == s.node_pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  s.node.error = "shardfs-node did not come up on " + listen + ": " + text.str();
}

class ServersEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    State& s = state();
    std::lock_guard lock(s.mu);
    if (s.node_pid > 0) {
      kill(s.node_pid, SIGTERM);
      int status;
      waitpid(s.node_pid, &status, 0);
      s.node_pid = -1;
    }
    if (!s.node_dir.empty()) std::system(("rm -rf " + s.node_dir).c_str());
    if (!s.rgw_dir.empty()) {
      std::system((kFixture + " stop " + s.rgw_dir + " >/dev/null 2>&1").c_str());
      unlink((s.rgw_dir + ".log").c_str());
    }
  }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ServersEnvironment());

}  // namespace

const ServerInfo& Rgw() {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (!s.rgw_tried) {
    s.rgw_tried = true;
    StartRgw(s);
  }
  return s.rgw;
}

const ServerInfo& Node() {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (!s.node_tried) {
    s.node_tried = true;
    StartNode(s);
  }
  return s.node;
}

std::string NodeAccessKey(int i) {
  return i == kNodeKeys ? "quota-key" : "key" + std::to_string(i);
}
std::string NodeSecretKey(int i) { return "node-secret-" + std::to_string(i) + "-0123456789"; }

S3Options StoreOptions(const ServerInfo& server, const std::string& bucket, int key_index) {
  S3Options o;
  o.endpoint = server.endpoint;
  o.bucket = bucket;
  if (server.name == "CephRgw") {
    o.access_key = state().rgw_access;
    o.secret_key = util::SecretBytes::CopyOf(state().rgw_secret);
  } else {
    o.access_key = NodeAccessKey(key_index);
    o.secret_key = util::SecretBytes::CopyOf(NodeSecretKey(key_index));
  }
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.request_timeout = std::chrono::milliseconds(20000);
  return o;
}

std::string UniqueBucket(std::string_view prefix) {
  static std::atomic<int> counter{0};
  return std::string(prefix) + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

std::unique_ptr<S3Store> OpenFreshStore(const ServerInfo& server, int key_index) {
  auto store = S3Store::Open(StoreOptions(server, UniqueBucket("t"), key_index));
  if (!store.ok()) {
    ADD_FAILURE() << store.error().message;
    return nullptr;
  }
  auto created = (*store)->CreateBucketIfMissing();
  if (!created.ok()) {
    ADD_FAILURE() << created.error().message;
    return nullptr;
  }
  return std::move(store).value();
}

}  // namespace shardfs::remote::testing
