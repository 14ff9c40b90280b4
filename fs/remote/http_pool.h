// HttpPool: blocking HTTP/1.1 (or HTTPS) exchanges with one endpoint over Boost.Beast, on
// keep-alive connections kept in a bounded pool. The pool owns its io_context and threads; Send
// hands the exchange to Asio and waits, so it must never be called from an Asio thread. Every
// exchange has a connect and a request deadline, and a CancelToken closes its socket at once (that
// connection is then dropped, never pooled). At most max_connections exchanges run at a time;
// further callers wait for a connection. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/optional/optional.hpp>

#include "fs/util/bytes.h"
#include "fs/util/cancel.h"
#include "fs/util/result.h"

#include "fs/util/mutex.h"

namespace shardfs::remote {

// "http://host:port" or "https://host:port" split up.
struct HttpEndpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // "127.0.0.1", "node1.example", "::1" (no brackets)
  std::string port;    // "9000"; the scheme's default when the URL has none

  // kInvalid naming the URL for anything but scheme://host[:port][/].
  static util::Result<HttpEndpoint> Parse(std::string_view url);
  std::string Url() const;         // "http://127.0.0.1:9000"
  std::string HostHeader() const;  // "127.0.0.1:9000", "[::1]:9000"
};

struct HttpPoolOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  // from sending the request to the last byte
  std::chrono::milliseconds idle_timeout{30000};     // pooled connections older than this close
  size_t max_connections = 16;                       // open at once, busy or idle
  uint64_t max_response_bytes = uint64_t{64} << 20;  // a longer body is refused (kTooLarge)
  int io_threads = 2;
  std::string ca_file;  // https: PEM file of the CAs to trust; empty: the system's
};

struct HttpRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;  // encoded path and query, "/bucket/key?x=y"
  std::vector<std::pair<std::string, std::string>> headers;  // Host is added by the pool
  util::ByteSpan body;  // sent as is, not copied; must outlive Send
};

// A reply body of bytes that the parser fills by appending each piece it reads. Beast's
// vector_body grows the vector first (zero-filling it) and then copies the piece over the zeros,
// writing every byte of a shard twice.
struct AppendBody {
  using value_type = util::Bytes;
  static uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool kIsRequest, class Fields>
    reader(boost::beast::http::header<kIsRequest, Fields>& /*header*/, value_type& body)
        : body_(body) {}
    void init(const boost::optional<uint64_t>& length, boost::beast::error_code& ec) {
      ec = {};
      if (!length) return;
      if (*length > body_.max_size()) {
        ec = boost::beast::http::error::buffer_overflow;
        return;
      }
      body_.reserve(static_cast<size_t>(*length));
    }
    template <class ConstBufferSequence>
    size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      ec = {};
      size_t n = 0;
      for (const auto piece : boost::beast::buffers_range_ref(buffers)) {
        const auto* p = static_cast<const uint8_t*>(piece.data());
        body_.insert(body_.end(), p, p + piece.size());
        n += piece.size();
      }
      return n;
    }
    void finish(boost::beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

using HttpResponse = boost::beast::http::response<AppendBody>;

struct HttpPoolStats {
  uint64_t connections_opened = 0;  // TCP connections established
  uint64_t exchanges = 0;           // requests sent (including silent re-sends)
  uint64_t reused = 0;              // exchanges that ran on a pooled connection
};

class HttpPool {
 public:
  // kInvalid when TLS cannot be set up (an unreadable CA file).
  static util::Result<std::unique_ptr<HttpPool>> Create(HttpEndpoint endpoint,
                                                        HttpPoolOptions options);
  ~HttpPool();  // no Send may be running
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  // One exchange. A reused keep-alive connection that the server closed before replying is
  // replaced and the request re-sent once, silently. Errors: kUnavailable when the endpoint
  // cannot be reached, resets, times out, or cuts the reply short (retryable), or when cancel
  // fired (then cancel.cancelled() is true: do not retry); kTooLarge for a body over the limit;
  // kCorrupt for a reply that is not HTTP.
  util::Result<HttpResponse> Send(const HttpRequest& request, const util::CancelToken& cancel);

  HttpPoolStats stats() const;
  const HttpEndpoint& endpoint() const { return endpoint_; }
  const HttpPoolOptions& options() const { return options_; }

 private:
  struct Connection;
  class Exchange;

  HttpPool(HttpEndpoint endpoint, HttpPoolOptions options,
           std::unique_ptr<boost::asio::ssl::context> tls);

  // Waits for a free slot (up to the request timeout) and returns an idle connection or a new,
  // unconnected one. kUnavailable when the wait times out or cancel fires.
  util::Result<std::shared_ptr<Connection>> Checkout(const util::CancelToken& cancel);
  // Gives a connection's slot back, pooling the connection if reusable.
  void Checkin(std::shared_ptr<Connection> conn, bool reusable);
  util::Result<HttpResponse> SendOn(const std::shared_ptr<Connection>& conn,
                                    const HttpRequest& request, const util::CancelToken& cancel,
                                    bool* reusable, bool* stale);

  const HttpEndpoint endpoint_;
  const HttpPoolOptions options_;
  const std::unique_ptr<boost::asio::ssl::context> tls_;  // nullptr for http
  boost::asio::io_context ioc_;  // declared before connections: they are destroyed first
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;

  // Leaf lock: guards the fields below; never held across I/O or while waiting on an exchange.
  mutable util::Mutex mu_;
  std::condition_variable slot_freed_;
  size_t open_ GUARDED_BY(mu_) = 0;                               // checked out or idle
  std::deque<std::shared_ptr<Connection>> idle_ GUARDED_BY(mu_);  // most recently used last
  HttpPoolStats stats_ GUARDED_BY(mu_);
};

}  // namespace shardfs::remote
