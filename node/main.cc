// shardfs-node: a storage node that keeps opaque shard objects on its disk and serves them over
// the S3 subset documented in docs/node.md. main reads the config, applies the command-line
// overrides, opens the data directory and runs the server until SIGTERM or SIGINT. Exit codes:
// 0 clean shutdown, 1 a startup error (one "shardfs-node: error:" line), 2 bad usage.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "fs/util/log.h"
#include "node/config.h"
#include "node/object_store.h"
#include "node/s3_handler.h"
#include "node/server.h"

namespace {

using shardfs::node::NodeConfig;

int Fail(const std::string& message) {
  std::fprintf(stderr, "shardfs-node: error: %s\n", message.c_str());
  return 1;
}

int Run(NodeConfig config) {
  shardfs::util::InitLogging(shardfs::util::LogSink::kStderr, config.log_level, "shardfs-node");
  auto address = shardfs::node::ParseListen(config.listen);
  if (!address.ok()) return Fail(address.error().message);
  auto store = shardfs::node::ObjectStore::Open(config.data);
  if (!store.ok())
    return Fail("cannot open data directory " + config.data + ": " + store.error().message);
  shardfs::node::S3Handler handler(config, store->get());
  int exit_code = 0;
  {
    // Declared after the store and the handler, so it is destroyed first: connections still
    // pending are dropped (their uploads aborted) while the store is alive.
    // The acceptor and signals on ioc; connections spread over one io_context per thread.
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts;
    std::vector<boost::asio::io_context*> connection_contexts;
    std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards;
    for (int i = 0; i < std::max(1, config.threads); ++i) {
      contexts.push_back(std::make_unique<boost::asio::io_context>(1));
      connection_contexts.push_back(contexts.back().get());
      guards.push_back(boost::asio::make_work_guard(*contexts.back()));
    }
    // Declared after the connection contexts, so destroyed before them: the accept still
    // pending at shutdown holds a socket of one of them (destroyed the other way round, that
    // socket was freed twice: ASan's heap-use-after-free at every SIGTERM).
    boost::asio::io_context ioc(1);
    shardfs::node::Server server(ioc, handler, connection_contexts);
    auto port = server.Listen(*address);
    if (!port.ok()) return Fail(port.error().message);
    spdlog::info("listening on {}:{} (region {}, {} key(s), data {})", address->host, *port,
                 config.region, config.keys.size(), config.data);
    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      spdlog::info("signal {}: shutting down; uploads in progress are abandoned", signo);
      server.Stop();
      ioc.stop();
      for (auto& ctx : contexts) ctx->stop();
    });
    std::vector<std::thread> threads;
    for (auto& ctx : contexts) threads.emplace_back([c = ctx.get()] { c->run(); });
    ioc.run();
    for (auto& ctx : contexts) ctx->stop();
    for (std::thread& t : threads) t.join();
  }
  spdlog::info("stopped");
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"shardfs-node: stores shard objects and serves them over an S3 subset"};
  app.set_version_flag("--version", std::string("shardfs-node ") + SHARDFS_VERSION);
  std::optional<std::string> listen, data, config_path, log_level;
  auto opt = [&app](const std::string& name, std::optional<std::string>& out,
                    const std::string& help, const std::string& type) {
    app.add_option_function<std::string>(
           name, [&out](const std::string& v) { out = v; }, help)
        ->type_name(type);
  };
  opt("--config", config_path, "JSON config file (format: docs/node.md)", "FILE");
  opt("--listen", listen, "Address to listen on, HOST:PORT (default 127.0.0.1:9000)", "ADDR");
  opt("--data", data, "Data directory (created if missing)", "DIR");
  opt("--log-level", log_level, "debug, info, warn or error (default info)", "LEVEL");
  app.footer("Flags override the config file. Stop with SIGTERM or SIGINT.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  NodeConfig config;
  if (config_path) {
    auto loaded = shardfs::node::LoadConfig(*config_path);
    if (!loaded.ok()) return Fail(loaded.error().message);
    config = std::move(loaded).value();
  }
  if (listen) config.listen = *listen;
  if (data) config.data = *data;
  if (log_level) config.log_level = *log_level;
  if (auto st = shardfs::node::ValidateConfig(config); !st.ok()) return Fail(st.error().message);
  return Run(std::move(config));
}
