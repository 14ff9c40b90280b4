#include "node/server.h"

#include <unistd.h>

#include <atomic>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace shardfs::node {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr size_t kChunk = 256 * 1024;
constexpr size_t kReadBuffer = 128 * 1024;
constexpr uint64_t kDrainBeforeReply = 64 << 20;  // larger unread bodies: reply, then drain
constexpr uint64_t kMaxLingerDrain = uint64_t{1} << 40;
constexpr auto kIdleTimeout = std::chrono::seconds(120);
constexpr auto kIoTimeout = std::chrono::seconds(60);

std::atomic<uint64_t> request_counter{0};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, S3Handler& handler) : stream_(std::move(socket)), handler_(handler) {
    // Beast reads at most the buffer's free capacity at a time: without room, a body arrives in
    // reads of a few KiB, each a syscall, a timer update and a handler.
    buffer_.reserve(kReadBuffer);
  }

  void Start() { ReadHeader(); }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_after(kIdleTimeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      if (ec != http::error::end_of_stream && ec != beast::error::timeout) {
        spdlog::debug("connection closed while reading a request head: {}", ec.message());
      }
      return Close();
    }
    auto& req = parser_->get();
    head_ = RequestHead{};
    head_.method = std::string(req.method_string());
    head_.target = std::string(req.target());
    for (const auto& f : req) {
      head_.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    }
    if (parser_->content_length()) head_.content_length = *parser_->content_length();
    head_.chunked = parser_->chunked();
    if (!head_.content_length && !head_.chunked) head_.content_length = 0;
    keep_alive_ = req.keep_alive();
    request_id_ = ++request_counter;
    Action action = handler_.Begin(head_);
    spdlog::debug("#{} {} {}", request_id_, head_.method, head_.target);
    const std::string* expect = head_.Find("expect");
    const bool expects_continue = expect != nullptr && beast::iequals(*expect, "100-continue");
    if (action.sink) {
      sink_ = std::move(action.sink);
      if (expects_continue) return WriteContinue();
      return ReadBody();
    }
    reply_ = std::move(action.reply);
    if (parser_->is_done()) return Send();
    if (expects_continue) {  // the client waits: answer without reading the body
      keep_alive_ = false;
      return Send();
    }
    if (head_.content_length && *head_.content_length <= kDrainBeforeReply) {
      return Drain(kDrainBeforeReply, [](Session* s) { s->Send(); });
    }
    keep_alive_ = false;
    Send();
  }

  void WriteContinue() {
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    stream_.expires_after(kIoTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->ReadBody();
                      });
  }

  void EnsureChunk() {
    if (chunk_.empty()) chunk_.resize(kChunk);
  }

  void ReadBody() {
    if (parser_->is_done()) return FinishBody();
    EnsureChunk();
    auto& body = parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    stream_.expires_after(kIoTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {  // the client went away: dropping the sink aborts the upload
      spdlog::info("#{} {} {}: body not received: {}", request_id_, head_.method, head_.target,
                   ec.message());
      sink_.reset();
      return Close();
    }
    size_t got = chunk_.size() - parser_->get().body().size;
    if (got > 0) {
      util::Status st = sink_->Write({chunk_.data(), got});
      if (!st.ok()) {
        reply_ = sink_->Finish();
        sink_.reset();
        keep_alive_ = false;
        return Send();
      }
    }
    ReadBody();
  }

  void FinishBody() {
    reply_ = sink_->Finish();
    sink_.reset();
    Send();
  }

  // Reads and discards the rest of the body (at most `limit` bytes), then calls next.
  void Drain(uint64_t limit, void (*next)(Session*)) {
    if (parser_->is_done()) return next(this);
    if (limit == 0) return Close();
    EnsureChunk();
    auto& body = parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    stream_.expires_after(kIoTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this(), limit, next](beast::error_code ec, size_t) {
                       if (ec == http::error::need_buffer) ec = {};
                       if (ec) return self->Close();
                       uint64_t got = self->chunk_.size() - self->parser_->get().body().size;
                       self->Drain(limit > got ? limit - got : 0, next);
                     });
  }

  void Send() {
    res_.emplace();
    res_->version(11);
    res_->result(static_cast<unsigned>(reply_.status));
    res_->set(http::field::server, "shardfs-node");
    res_->set("x-amz-request-id", std::to_string(request_id_));
    for (const auto& h : reply_.headers) res_->set(h.name, h.value);
    res_->keep_alive(keep_alive_);
    auto& body = res_->body();
    body.data = nullptr;
    body.size = 0;
    body.more = false;
    if (reply_.file) {
      res_->content_length(reply_.file_length);
      file_pos_ = reply_.file_offset;
      file_left_ = reply_.file_length;
    } else if (reply_.head) {
      if (reply_.status != 204 && reply_.status != 304) {
        res_->set(http::field::content_length, std::to_string(reply_.content_length));
      }
      file_left_ = 0;
    } else {
      if (reply_.status != 204) res_->content_length(reply_.body.size());
      body.data = reply_.body.empty() ? nullptr : reply_.body.data();
      body.size = reply_.body.size();
      file_left_ = 0;
    }
    if (reply_.status >= 400) {
      spdlog::info("#{} {} {} -> {}", request_id_, head_.method, head_.target, reply_.status);
    }
    sr_.emplace(*res_);
    if (reply_.head) sr_->split(true);
    WriteMore();
  }

  void WriteMore() {
    auto& body = res_->body();
    if (reply_.file && !reply_.head) {
      if (file_left_ > 0) {
        EnsureChunk();
        size_t want = static_cast<size_t>(std::min<uint64_t>(file_left_, chunk_.size()));
        ssize_t n;
        do {
          n = ::pread(reply_.file->fd.get(), chunk_.data(), want, static_cast<off_t>(file_pos_));
        } while (n < 0 && errno == EINTR);
        if (n <= 0) {  // truncated or unreadable: the client sees a short body
          spdlog::error("#{} reading {} failed", request_id_, head_.target);
          return Close();
        }
        file_pos_ += static_cast<uint64_t>(n);
        file_left_ -= static_cast<uint64_t>(n);
        body.data = chunk_.data();
        body.size = static_cast<size_t>(n);
        body.more = file_left_ > 0;
      } else {
        body.data = nullptr;
        body.size = 0;
        body.more = false;
      }
    }
    stream_.expires_after(kIoTimeout);
    auto done = [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); };
    if (reply_.head) {
      http::async_write_header(stream_, *sr_, done);
    } else {
      http::async_write(stream_, *sr_, done);
    }
  }

  void OnWrite(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return Close();
    if (!reply_.head && !sr_->is_done()) return WriteMore();
    sr_.reset();
    res_.reset();
    reply_ = Reply{};
    if (keep_alive_ && parser_->is_done()) return ReadHeader();
    if (!parser_->is_done()) {
      // Lingering close: stop sending, keep reading what the client still sends so that our
      // reply is not lost to a TCP reset.
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return Drain(kMaxLingerDrain, [](Session* s) { s->Close(); });
    }
    Close();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  S3Handler& handler_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  RequestHead head_;
  std::unique_ptr<BodySink> sink_;
  Reply reply_;
  std::optional<http::response<http::buffer_body>> res_;
  std::optional<http::response_serializer<http::buffer_body>> sr_;
  std::vector<uint8_t> chunk_;
  uint64_t file_pos_ = 0;
  uint64_t file_left_ = 0;
  bool keep_alive_ = true;
  uint64_t request_id_ = 0;
};

}  // namespace

Server::Server(net::io_context& ioc, S3Handler& handler,
               std::vector<net::io_context*> connection_contexts)
    : ioc_(ioc),
      handler_(handler),
      connection_contexts_(std::move(connection_contexts)),
      acceptor_(net::make_strand(ioc)) {
  if (connection_contexts_.empty()) connection_contexts_.push_back(&ioc_);
}

util::Result<uint16_t> Server::Listen(const ListenAddress& address) {
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(address.host, std::to_string(address.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return util::MakeError(util::Errc::kInvalid,
                           "cannot resolve listen host '" + address.host + "': " + ec.message());
  }
  tcp::endpoint ep = results.begin()->endpoint();
  auto fail = [&](std::string_view what) {
    return util::MakeError(util::Errc::kUnavailable,
                           "cannot " + std::string(what) + " " + address.host + ":" +
                               std::to_string(address.port) + ": " + ec.message());
  };
  if (acceptor_.open(ep.protocol(), ec)) return fail("open a socket for");
  if (acceptor_.set_option(net::socket_base::reuse_address(true), ec)) return fail("configure");
  if (acceptor_.bind(ep, ec)) return fail("listen on");
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec)) return fail("listen on");
  uint16_t port = acceptor_.local_endpoint(ec).port();
  Accept();
  return port;
}

void Server::Stop() {
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
}

void Server::Accept() {
  net::io_context& ctx = *connection_contexts_[next_context_++ % connection_contexts_.size()];
  acceptor_.async_accept(net::make_strand(ctx), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), handler_)->Start();
    }
    Accept();
  });
}

}  // namespace shardfs::node
