// The HTTP/1.1 front of shardfs-node on Boost.Beast: accepts connections, reads each request head,
// asks the S3Handler what to do, streams PUT bodies into its BodySink and object files out to the
// client in fixed-size chunks (memory per connection stays at one chunk whatever the object
// size), with keep-alive and idle timeouts. Exceptions stay inside this file. Each connection runs
// on its own strand, so the io_context may run on several threads.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <vector>

#include "fs/util/result.h"
#include "node/config.h"
#include "node/s3_handler.h"

namespace shardfs::node {

class Server {
 public:
  // handler must outlive the server and every connection (i.e. the io_context's handlers).
  // Connections run on the connection contexts in turn (ioc when none are given): one
  // io_context per thread, so a connection's reads, writes and timers never wake another thread
  // (one shared context run by several threads spent more time in futex wake-ups than in I/O).
  Server(boost::asio::io_context& ioc, S3Handler& handler,
         std::vector<boost::asio::io_context*> connection_contexts = {});

  // Binds and starts accepting; returns the bound port (useful with port 0).
  util::Result<uint16_t> Listen(const ListenAddress& address);
  // Stops accepting. Connections end when the io_context stops.
  void Stop();

 private:
  void Accept();

  boost::asio::io_context& ioc_;
  S3Handler& handler_;
  std::vector<boost::asio::io_context*> connection_contexts_;
  size_t next_context_ = 0;  // touched only by the acceptor's handlers
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace shardfs::node
