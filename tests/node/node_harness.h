// Test harness for shardfs-node: NodeProcess starts a real shardfs-node on 127.0.0.1 with a
// config in a fresh temp directory and kills it (by PID) when destroyed; S3Client is a tiny
// blocking HTTP/1.1 client that signs requests with our SigV4 code, one connection per request,
// able to stream large bodies in both directions without holding them. Not synchronized.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fs/remote/s3/sigv4.h"

namespace shardfs::node::testing {

struct KeySpec {
  std::string access_key;
  std::string secret_key;
  uint64_t quota = 0;
};

class NodeProcess {
 public:
  // Makes a temp root holding data/, config.json and node.log; does not start the node.
  explicit NodeProcess(std::vector<KeySpec> keys);
  ~NodeProcess();  // kills the node (SIGKILL if still running) and removes the temp root

  // Starts the node and waits until /_shardfs/health answers. Fails the test on timeout.
  void Start();
  // Sends sig and waits for the exit; returns the exit status (as waitpid's) or -1.
  int Stop(int sig);
  void Kill9();
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& root() const { return root_; }
  std::string data_dir() const { return root_ + "/data"; }
  std::string Log() const;
  // VmHWM (peak RSS) of the running node in KiB, from /proc/PID/status.
  uint64_t PeakRssKib() const;

 private:
  std::vector<KeySpec> keys_;
  std::string root_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;                            // unless streamed into on_body
  uint64_t body_bytes = 0;
  std::string Header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? "" : it->second;
  }
};

struct Request {
  std::string method = "GET";
  std::string path = "/";  // decoded; the client encodes it (unless raw_target is set)
  std::string query;       // raw, without '?'
  std::vector<remote::s3::Header> headers;
  std::string body;
  // Streamed body instead of `body`: body_size bytes, produced by fill(offset, buffer).
  uint64_t body_size = 0;
  std::function<void(uint64_t, uint8_t*, size_t)> fill;
  bool sign_payload = true;  // hash the body (in-memory bodies only), else UNSIGNED-PAYLOAD
  std::string raw_target;    // sent as is (for hostile targets); signed as its decoded path
  bool unsigned_request = false;
};

class S3Client {
 public:
  S3Client(uint16_t port, std::string access_key, std::string secret_key)
      : port_(port), access_key_(std::move(access_key)), secret_key_(std::move(secret_key)) {}

  // on_body, if set, receives the response body in pieces instead of Response::body.
  Response Send(const Request& req,
                const std::function<void(const uint8_t*, size_t)>& on_body = nullptr) const;

  Response Put(const std::string& path, const std::string& body,
               std::vector<remote::s3::Header> headers = {}) const;
  Response Get(const std::string& path, std::vector<remote::s3::Header> headers = {}) const;

 private:
  uint16_t port_;
  std::string access_key_;
  std::string secret_key_;
};

// Extracts the text of the first <tag>...</tag> in xml ("" if none).
std::string XmlField(const std::string& xml, const std::string& tag);

}  // namespace shardfs::node::testing
