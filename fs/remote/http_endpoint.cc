// HttpEndpoint parsing and HttpPool::Create (the TLS context); the pool itself is in
// http_pool.cc.
#include <fmt/format.h>

#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/system_error.hpp>

#include "fs/remote/http_pool.h"

namespace shardfs::remote {

namespace asio = boost::asio;
using util::Errc;
using util::MakeError;

util::Result<HttpEndpoint> HttpEndpoint::Parse(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return MakeError(
        Errc::kInvalid,
        fmt::format("endpoint \"{}\" {} (expected http://host:port or https://host:port)", url,
                    why));
  };
  HttpEndpoint ep;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("has no scheme");
  ep.scheme = std::string(url.substr(0, sep));
  if (ep.scheme != "http" && ep.scheme != "https") return bad("has an unknown scheme");
  std::string_view rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return bad("has no host");
  if (rest.find_first_of("/?#@ ") != std::string_view::npos) return bad("has a path or user");
  std::string_view port;
  if (rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed [");
    ep.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("has garbage after the host");
      port = after.substr(1);
    }
  } else {
    size_t colon = rest.rfind(':');
    ep.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (ep.host.empty()) return bad("has no host");
  if (port.empty()) {
    ep.port = ep.scheme == "https" ? "443" : "80";
  } else {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535) {
      return bad("has a bad port");
    }
    ep.port = std::string(port);
  }
  return ep;
}

std::string HttpEndpoint::HostHeader() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + port;
}

std::string HttpEndpoint::Url() const { return scheme + "://" + HostHeader(); }

util::Result<std::unique_ptr<HttpPool>> HttpPool::Create(HttpEndpoint endpoint,
                                                         HttpPoolOptions options) {
  std::unique_ptr<asio::ssl::context> tls;
  if (endpoint.scheme == "https") {
    try {  // the Boost edge: asio::ssl reports failures as exceptions
      tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
      tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
      tls->set_verify_mode(asio::ssl::verify_peer);
      if (options.ca_file.empty()) {
        tls->set_default_verify_paths();
      } else {
        tls->load_verify_file(options.ca_file);
      }
    } catch (const boost::system::system_error& e) {
      return MakeError(
          Errc::kInvalid,
          fmt::format("cannot set up TLS for {}{}: {}", endpoint.Url(),
                      options.ca_file.empty() ? "" : " with CA file " + options.ca_file, e.what()));
    }
  }
  return std::unique_ptr<HttpPool>(new HttpPool(std::move(endpoint), options, std::move(tls)));
}

}  // namespace shardfs::remote
