// FakeHttpServer: a tiny HTTP/1.1 server on 127.0.0.1 (raw sockets, a thread per connection)
// for testing the S3 client against misbehaviour a real server never shows on demand: error
// statuses, slow or truncated replies, garbage, dropped keep-alive connections. A handler
// decides each reply. Counts accepted connections and requests. Thread-safe; the destructor
// closes every connection and joins every thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace shardfs::remote::testing {

struct FakeRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  int connection_index = 0;  // which accepted connection carried it (0, 1, ...)
};

struct FakeReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};    // before anything is sent
  bool close = false;                    // close the connection after this reply, unannounced
  size_t send_only = std::string::npos;  // send only this many body bytes, then close
  std::string raw;                       // when set, sent instead of a formatted reply
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeReply(const FakeRequest&)>;

  explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 256);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~FakeHttpServer() {
    stop_ = true;
    acceptor_.join();
    std::vector<std::thread> workers;
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
      workers.swap(workers_);
    }
    for (auto& t : workers) t.join();
    ::close(listen_fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  int requests() const { return requests_.load(); }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      int index = accepted_++;
      std::lock_guard lock(mu_);
      open_fds_.push_back(fd);
      workers_.emplace_back([this, fd, index] { Serve(fd, index); });
    }
  }

  // Reads until the buffer holds "\r\n\r\n" plus the body; false on EOF, error or stop.
  bool ReadRequest(int fd, std::string& buf, FakeRequest& req) {
    while (true) {
      size_t end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        ParseHead(buf.substr(0, end), req);
        size_t length = 0;
        if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
          length = std::stoul(it->second);
        }
        if (buf.size() >= end + 4 + length) {
          req.body = buf.substr(end + 4, length);
          buf.erase(0, end + 4 + length);
          return true;
        }
      }
      pollfd p{fd, POLLIN, 0};
      if (stop_) return false;
      if (::poll(&p, 1, 20) <= 0) continue;
      char chunk[65536];
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<size_t>(n));
    }
  }

  static void ParseHead(const std::string& head, FakeRequest& req) {
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    size_t sp1 = first.find(' ');
    size_t sp2 = first.find(' ', sp1 + 1);
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    req.headers.clear();
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(pos, next - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        size_t v = line.find_first_not_of(' ', colon + 1);
        req.headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = next + 2;
    }
  }

  static bool WriteAll(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void Serve(int fd, int index) {
    std::string buf;
    FakeRequest req;
    req.connection_index = index;
    while (ReadRequest(fd, buf, req)) {
      ++requests_;
      FakeReply reply = handler_(req);
      for (auto waited = std::chrono::milliseconds(0); waited < reply.delay && !stop_;
           waited += std::chrono::milliseconds(10)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      std::string out = reply.raw;
      if (out.empty()) {
        out = "HTTP/1.1 " + std::to_string(reply.status) + " Fake\r\n";
        for (const auto& [name, value] : reply.headers) out += name + ": " + value + "\r\n";
        out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n";
        out += reply.body.substr(0, reply.send_only);
      }
      if (!WriteAll(fd, out) || reply.close || reply.send_only != std::string::npos ||
          !reply.raw.empty()) {
        break;
      }
    }
    std::lock_guard lock(mu_);
    open_fds_.erase(std::find(open_fds_.begin(), open_fds_.end(), fd));
    ::close(fd);
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::mutex mu_;  // guards open_fds_ and workers_
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
};

}  // namespace shardfs::remote::testing
