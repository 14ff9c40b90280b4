#include "fs/remote/http_pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace shardfs::remote {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using util::Errc;
using util::MakeError;

// ---- Connection and Exchange ---------------------------------------------------------------

// A TCP connection, with TLS over it when the pool has a TLS context. All fields are touched
// only on its strand, except while it is checked in (then only the pool, under mu_).
struct HttpPool::Connection {
  Connection(asio::io_context& ioc, asio::ssl::context* tls_context)
      : strand(asio::make_strand(ioc)), tls_ctx(tls_context), resolver(strand) {
    Reset();
    // Beast reads max(512, free capacity) bytes at a time, up to 64 KiB: without room here a
    // 4 MiB body takes thousands of 512-byte reads (measured: 38 MiB/s).
    buffer.reserve(64 << 10);
  }

  // A fresh, unconnected stream (a TLS session cannot be reused once its socket closed).
  void Reset() {
    if (tls_ctx != nullptr) {
      tls.emplace(strand, *tls_ctx);
    } else {
      plain.emplace(strand);
    }
    connected = false;
  }
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  // Calls f with the stream HTTP goes over (TLS or plain TCP).
  template <typename F>
  void WithStream(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(*plain);
    }
  }

  asio::strand<asio::io_context::executor_type> strand;
  asio::ssl::context* const tls_ctx;  // owned by the pool; nullptr for http
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  tcp::resolver resolver;
  beast::flat_buffer buffer;  // bytes read past the last reply stay here for the next one
  bool connected = false;
  std::chrono::steady_clock::time_point idle_since;
  uint64_t op_id = 0;  // the exchange running on it; 0 when none
  bool aborted = false;
};

namespace {

std::atomic<uint64_t> next_op_id{1};

bool IsConnectionLoss(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == http::error::partial_message;
}

}  // namespace

// One request and its reply on one connection, as a chain of Asio callbacks on the connection's
// strand. Completes its promise exactly once, as its last act.
class HttpPool::Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  struct Outcome {
    util::Result<HttpResponse> response = MakeError(Errc::kInternal, "no outcome");
    bool reusable = false;
    bool stale = false;  // a reused connection died before a reply byte: safe to re-send
  };

  Exchange(HttpPool* pool, std::shared_ptr<Connection> conn, const HttpRequest& request,
           bool reused)
      : pool_(pool), conn_(std::move(conn)), reused_(reused), id_(next_op_id++) {
    req_.method(request.method);
    req_.target(request.target);
    req_.version(11);
    req_.set(http::field::host, pool->endpoint_.HostHeader());
    for (const auto& [name, value] : request.headers) req_.set(name, value);
    req_.body() =
        http::span_body<const uint8_t>::value_type(request.body.data(), request.body.size());
    req_.content_length(request.body.size());
    parser_.body_limit(pool->options_.max_response_bytes);
    parser_.header_limit(64 << 10);
    if (request.method == http::verb::head) parser_.skip(true);
  }

  uint64_t id() const { return id_; }
  std::future<Outcome> future() { return promise_.get_future(); }

  void Start() {
    asio::post(conn_->strand, [self = shared_from_this()] {
      self->conn_->op_id = self->id_;
      self->conn_->aborted = false;
      if (self->conn_->connected) {
        self->Write();
      } else {
        self->Resolve();
      }
    });
  }

  // Posted by a cancel callback: closes the socket if this exchange still runs on it.
  static void Abort(const std::shared_ptr<Connection>& conn, uint64_t id) {
    asio::post(conn->strand, [conn, id] {
      if (conn->op_id != id) return;
      conn->aborted = true;
      conn->resolver.cancel();
      beast::error_code ignored;
      conn->tcp().socket().close(ignored);
    });
  }

 private:
  void Resolve() {
    conn_->Reset();
    conn_->resolver.async_resolve(
        pool_->endpoint_.host, pool_->endpoint_.port,
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          if (self->conn_->aborted) return self->Cancelled();
          if (ec) {
            return self->Fail(
                Errc::kUnavailable,
                fmt::format("cannot resolve {}: {}", self->pool_->endpoint_.host, ec.message()));
          }
          self->Connect(results);
        });
  }

  void Connect(const tcp::resolver::results_type& results) {
    conn_->tcp().expires_after(pool_->options_.connect_timeout);
    conn_->tcp().async_connect(
        results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          if (self->conn_->aborted) return self->Cancelled();
          if (ec == beast::error::timeout) {
            return self->Fail(Errc::kUnavailable,
                              fmt::format("no connection within {} ms",
                                          self->pool_->options_.connect_timeout.count()));
          }
          if (ec) return self->Fail(Errc::kUnavailable, "cannot connect: " + ec.message());
          self->conn_->buffer.clear();
          {
            util::MutexLock lock(self->pool_->mu_);
            ++self->pool_->stats_.connections_opened;
          }
          if (self->conn_->tls) return self->Handshake();
          self->conn_->connected = true;
          self->Write();
        });
  }

  void Handshake() {
    auto& tls = *conn_->tls;
    const std::string& host = pool_->endpoint_.host;
    beast::error_code not_ip;
    asio::ip::make_address(host, not_ip);
    if (not_ip && !SSL_set_tlsext_host_name(tls.native_handle(), host.c_str())) {  // SNI
      return Fail(Errc::kInternal, "cannot set the TLS server name " + host);
    }
    tls.set_verify_callback(asio::ssl::host_name_verification(host));
    tls.async_handshake(
        asio::ssl::stream_base::client, [self = shared_from_this()](beast::error_code ec) {
          if (self->conn_->aborted) return self->Cancelled();
          if (ec == beast::error::timeout) {
            return self->Fail(Errc::kUnavailable,
                              fmt::format("no TLS handshake within {} ms",
                                          self->pool_->options_.connect_timeout.count()));
          }
          if (ec.category() == asio::error::get_ssl_category()) {  // e.g. an untrusted certificate
            return self->Fail(Errc::kPermission,
                              "TLS handshake refused: " + ec.message() +
                                  " (is the node's certificate signed by a CA this machine "
                                  "trusts, or by the one given as the CA file?)");
          }
          if (ec) return self->Fail(Errc::kUnavailable, "TLS handshake failed: " + ec.message());
          self->conn_->connected = true;
          self->Write();
        });
  }

  void Write() {
    {
      util::MutexLock lock(pool_->mu_);
      ++pool_->stats_.exchanges;
      if (reused_) ++pool_->stats_.reused;
    }
    conn_->tcp().expires_after(pool_->options_.request_timeout);
    conn_->WithStream([this](auto& stream) {
      http::async_write(stream, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (self->conn_->aborted) return self->Cancelled();
        if (ec) return self->IoFailed(ec, "sending the request");
        self->Read();
      });
    });
  }

  // Headers first: Beast 1.74 does not apply body_limit to a Content-Length body, so the
  // length is checked here before a byte of the body is read.
  void Read() {
    conn_->WithStream([this](auto& stream) {
      http::async_read_header(stream, conn_->buffer, parser_,
                              [self = shared_from_this()](beast::error_code ec, size_t) {
                                if (self->conn_->aborted) return self->Cancelled();
                                if (ec) return self->IoFailed(ec, "reading the reply");
                                auto length = self->parser_.content_length();
                                if (length && *length > self->pool_->options_.max_response_bytes) {
                                  return self->IoFailed(http::error::body_limit,
                                                        "reading the reply");
                                }
                                self->ReadBody();
                              });
    });
  }

  void ReadBody() {
    conn_->WithStream([this](auto& stream) {
      http::async_read(stream, conn_->buffer, parser_,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (self->conn_->aborted) return self->Cancelled();
                         if (ec) return self->IoFailed(ec, "reading the reply");
                         self->Done();
                       });
    });
  }

  void IoFailed(const beast::error_code& ec, std::string_view doing) {
    if (ec == beast::error::timeout) {
      return Fail(Errc::kUnavailable,
                  fmt::format("no reply within {} ms", pool_->options_.request_timeout.count()));
    }
    if (ec == http::error::body_limit) {
      return Fail(Errc::kTooLarge, fmt::format("reply body over the limit of {} bytes",
                                               pool_->options_.max_response_bytes));
    }
    if (IsConnectionLoss(ec)) {
      stale_ = reused_ && !parser_.got_some();
      return Fail(Errc::kUnavailable,
                  fmt::format("connection lost while {}: {}", doing, ec.message()));
    }
    if (ec.category() ==
        http::make_error_code(http::error::body_limit).category()) {  // any other parse error
      return Fail(Errc::kCorrupt, fmt::format("malformed HTTP reply: {}", ec.message()));
    }
    Fail(Errc::kUnavailable, fmt::format("error while {}: {}", doing, ec.message()));
  }

  void Cancelled() { Fail(util::CancelledError().code, std::string(util::kCancelledMessage)); }

  void Fail(Errc code, std::string message) {
    Outcome out;
    out.response = MakeError(code, std::move(message));
    out.stale = stale_;
    Finish(std::move(out));
  }

  void Done() {
    Outcome out;
    HttpResponse response = parser_.release();
    out.reusable = response.keep_alive() && !response.need_eof();
    out.response = std::move(response);
    Finish(std::move(out));
  }

  void Finish(Outcome out) {
    conn_->op_id = 0;
    if (!out.reusable) {
      beast::error_code ignored;
      conn_->tcp().socket().close(ignored);
      conn_->connected = false;
    }
    promise_.set_value(std::move(out));  // last: the caller may reuse conn_ from here on
  }

  HttpPool* const pool_;
  const std::shared_ptr<Connection> conn_;
  const bool reused_;
  const uint64_t id_;
  bool stale_ = false;
  http::request<http::span_body<const uint8_t>> req_;
  http::response_parser<AppendBody> parser_;
  std::promise<Outcome> promise_;
};

// ---- HttpPool ------------------------------------------------------------------------------

HttpPool::HttpPool(HttpEndpoint endpoint, HttpPoolOptions options,
                   std::unique_ptr<asio::ssl::context> tls)
    : endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      tls_(std::move(tls)),
      work_(asio::make_work_guard(ioc_)) {
  int n = std::max(1, options_.io_threads);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { ioc_.run(); });
}

HttpPool::~HttpPool() {
  work_.reset();
  {
    util::MutexLock lock(mu_);
    idle_.clear();
  }
  ioc_.stop();
  for (auto& t : threads_) t.join();
}

HttpPoolStats HttpPool::stats() const {
  util::MutexLock lock(mu_);
  return stats_;
}

util::Result<std::shared_ptr<HttpPool::Connection>> HttpPool::Checkout(
    const util::CancelToken& cancel) {
  const auto give_up = std::chrono::steady_clock::now() + options_.request_timeout;
  util::MutexLock lock(mu_);
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    while (!idle_.empty()) {  // newest first; drop those idle too long
      std::shared_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (now - conn->idle_since < options_.idle_timeout) return conn;
      --open_;  // closed by its destructor
    }
    if (open_ < std::max<size_t>(1, options_.max_connections)) {
      ++open_;
      return std::make_shared<Connection>(ioc_, tls_.get());
    }
    if (cancel.cancelled()) return util::CancelledError();
    if (now >= give_up) {
      return MakeError(Errc::kUnavailable,
                       fmt::format("all {} connections stayed busy for {} ms",
                                   options_.max_connections, options_.request_timeout.count()));
    }
    // Short waits so a cancel is noticed without a callback that would need this lock.
    mu_.AwaitFor(slot_freed_, std::chrono::milliseconds(20));
  }
}

void HttpPool::Checkin(std::shared_ptr<Connection> conn, bool reusable) {
  {
    util::MutexLock lock(mu_);
    if (reusable && conn->connected) {
      conn->idle_since = std::chrono::steady_clock::now();
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
  }
  slot_freed_.notify_one();
  // A dropped connection closes here, outside the lock, when its last owner lets go.
}

util::Result<HttpResponse> HttpPool::SendOn(const std::shared_ptr<Connection>& conn,
                                            const HttpRequest& request,
                                            const util::CancelToken& cancel, bool* reusable,
                                            bool* stale) {
  auto exchange = std::make_shared<Exchange>(this, conn, request, conn->connected);
  auto future = exchange->future();
  const uint64_t id = exchange->id();
  exchange->Start();
  exchange.reset();
  uint64_t reg = cancel.Register([conn, id] { Exchange::Abort(conn, id); });
  Exchange::Outcome out = future.get();
  cancel.Unregister(reg);
  *reusable = out.reusable;
  *stale = out.stale;
  return std::move(out.response);
}

util::Result<HttpResponse> HttpPool::Send(const HttpRequest& request,
                                          const util::CancelToken& cancel) {
  if (cancel.cancelled()) return util::CancelledError();
  SHARDFS_ASSIGN_OR_RETURN(std::shared_ptr<Connection> conn, Checkout(cancel));
  bool reusable = false;
  bool stale = false;
  auto response = SendOn(conn, request, cancel, &reusable, &stale);
  if (!response.ok() && stale && !cancel.cancelled()) {
    // The server closed an idle keep-alive connection: nothing was processed, send it again
    // on a fresh connection (conn is closed and reconnects).
    response = SendOn(conn, request, cancel, &reusable, &stale);
  }
  Checkin(std::move(conn), response.ok() && reusable);
  return response;
}

}  // namespace shardfs::remote
