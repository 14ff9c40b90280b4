#include "tests/node/node_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "fs/util/files.h"

namespace shardfs::node::testing {
namespace s3 = remote::s3;
namespace {

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  SHARDFS_CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0, "bind");
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const void* p, size_t n) {
  auto* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

NodeProcess::NodeProcess(std::vector<KeySpec> keys) : keys_(std::move(keys)) {
  std::string base = ::testing::TempDir();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::string tmpl = base + "/shardfs-node-XXXXXX";
  SHARDFS_CHECK(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
  root_ = tmpl;
  port_ = FreePort();
  std::ostringstream cfg;
  cfg << "{\"listen\":\"127.0.0.1:" << port_ << "\",\"data\":\"" << data_dir()
      << "\",\"region\":\"us-east-1\",\"threads\":3,\"keys\":[";
  for (size_t i = 0; i < keys_.size(); ++i) {
    cfg << (i ? "," : "") << "{\"access_key\":\"" << keys_[i].access_key << "\",\"secret_key\":\""
        << keys_[i].secret_key << "\",\"quota\":" << keys_[i].quota << "}";
  }
  cfg << "]}";
  std::ofstream(root_ + "/config.json") << cfg.str();
}

NodeProcess::~NodeProcess() {
  if (pid_ > 0) Kill9();
  (void)util::RemoveTree(root_);
}

void NodeProcess::Start() {
  std::string bin = std::string(SHARDFS_BINARY_DIR) + "/node/shardfs-node";
  std::string config = root_ + "/config.json";
  std::string log = root_ + "/node.log";
  std::vector<char*> argv = {bin.data(), const_cast<char*>("--config"), config.data(), nullptr};
  pid_t parent = ::getpid();
  pid_ = ::fork();
  ASSERT_GE(pid_, 0) << "fork failed";
  if (pid_ == 0) {
    // The node dies with the test process, even if the test crashes before its teardown.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0 || ::dup2(log_fd, 2) < 0 || ::dup2(null_fd, 1) < 0) {
      ::_exit(127);
    }
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    Request r;
    r.path = "/_shardfs/health";
    r.unsigned_request = true;
    if (S3Client(port_, "", "").Send(r).status == 200) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL() << "shardfs-node exited at start: " << Log();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "shardfs-node did not become healthy: " << Log();
}

int NodeProcess::Stop(int sig) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  int status = 0;
  for (int i = 0; i < 200; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill9();
  return -1;
}

void NodeProcess::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string NodeProcess::Log() const {
  std::ifstream in(root_ + "/node.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t NodeProcess::PeakRssKib() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

Response S3Client::Send(const Request& req,
                        const std::function<void(const uint8_t*, size_t)>& on_body) const {
  Response resp;
  const bool streamed = static_cast<bool>(req.fill);
  const uint64_t body_len = streamed ? req.body_size : req.body.size();
  std::string host = "127.0.0.1:" + std::to_string(port_);
  std::vector<s3::Header> headers = req.headers;
  headers.push_back({"Host", host});
  if (!req.unsigned_request) {
    std::string hash = (req.sign_payload && !streamed) ? s3::Sha256Hex(req.body)
                                                       : std::string(s3::kUnsignedPayload);
    s3::SignInput in{.method = req.method,
                     .path = req.path,
                     .query = req.query,
                     .headers = headers,
                     .payload_hash = hash,
                     .region = "us-east-1",
                     .service = "s3",
                     .time = std::chrono::system_clock::now()};
    auto signed_headers = s3::Sign(in, {access_key_, util::SecretBytes::CopyOf(secret_key_)});
    SHARDFS_CHECK(signed_headers.ok(), "sign");
    for (const s3::Header& h : signed_headers->headers) headers.push_back(h);
  }
  std::string target = req.raw_target.empty() ? s3::UriEncodePath(req.path) : req.raw_target;
  if (!req.query.empty()) target += "?" + req.query;
  std::string head = req.method + " " + target + " HTTP/1.1\r\n";
  for (const s3::Header& h : headers) head += h.name + ": " + h.value + "\r\n";
  if (body_len > 0 || req.method == "PUT" || req.method == "POST") {
    head += "Content-Length: " + std::to_string(body_len) + "\r\n";
  }
  head += "Connection: close\r\n\r\n";
  int fd = Connect(port_);
  if (fd < 0) return resp;
  bool ok = SendAll(fd, head.data(), head.size());
  if (ok && streamed) {
    std::vector<uint8_t> buf(1 << 20);
    for (uint64_t off = 0; ok && off < body_len; off += buf.size()) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), body_len - off));
      req.fill(off, buf.data(), n);
      ok = SendAll(fd, buf.data(), n);
    }
  } else if (ok) {
    ok = SendAll(fd, req.body.data(), req.body.size());
  }
  // Read the reply even if sending failed: the server may have answered early.
  std::string in;
  std::vector<uint8_t> buf(1 << 20);
  size_t header_end = std::string::npos;
  while (true) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (header_end == std::string::npos) {
      in.append(reinterpret_cast<char*>(buf.data()), static_cast<size_t>(n));
      header_end = in.find("\r\n\r\n");
      if (header_end != std::string::npos && on_body) {
        std::string rest = in.substr(header_end + 4);
        in.resize(header_end + 4);
        on_body(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
        resp.body_bytes += rest.size();
      }
    } else if (on_body) {
      on_body(buf.data(), static_cast<size_t>(n));
      resp.body_bytes += static_cast<uint64_t>(n);
    } else {
      in.append(reinterpret_cast<char*>(buf.data()), static_cast<size_t>(n));
    }
  }
  ::close(fd);
  header_end = in.find("\r\n\r\n");
  if (header_end == std::string::npos) return resp;
  std::istringstream hs(in.substr(0, header_end));
  std::string line;
  std::getline(hs, line);
  if (line.size() >= 12) resp.status = std::stoi(line.substr(9, 3));
  // A "100 Continue" interim reply is not expected: we never send Expect.
  while (std::getline(hs, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    resp.headers[Lower(line.substr(0, colon))] = v;
  }
  if (!on_body) {
    resp.body = in.substr(header_end + 4);
    resp.body_bytes = resp.body.size();
  }
  return resp;
}

Response S3Client::Put(const std::string& path, const std::string& body,
                       std::vector<s3::Header> headers) const {
  Request r;
  r.method = "PUT";
  r.path = path;
  r.body = body;
  r.headers = std::move(headers);
  return Send(r);
}

Response S3Client::Get(const std::string& path, std::vector<s3::Header> headers) const {
  Request r;
  r.path = path;
  r.headers = std::move(headers);
  return Send(r);
}

std::string XmlField(const std::string& xml, const std::string& tag) {
  size_t a = xml.find("<" + tag + ">");
  if (a == std::string::npos) return "";
  a += tag.size() + 2;
  size_t b = xml.find("</" + tag + ">", a);
  return b == std::string::npos ? "" : xml.substr(a, b - a);
}

}  // namespace shardfs::node::testing
