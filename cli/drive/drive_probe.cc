#include "cli/drive/drive_probe.h"

#include <sys/stat.h>

#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "fs/remote/s3_store.h"

namespace shardfs::drive {

using util::Errc;
using util::MakeError;

remote::S3Options NodeS3Options(const core::NodeSpec& node) {
  remote::S3Options o;
  o.endpoint = node.endpoint;
  o.bucket = node.bucket;
  o.access_key = node.access_key;
  o.secret_key = util::SecretBytes(node.secret_key.size());
  std::memcpy(o.secret_key.data(), node.secret_key.data(), node.secret_key.size());
  o.region = node.region;
  return o;
}

namespace {

util::Status ProbeOne(const core::NodeSpec& node, std::chrono::milliseconds timeout) {
  if (node.IsDir()) {
    std::string path = node.endpoint.substr(4);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return MakeError(Errc::kUnavailable, fmt::format("{} is not a directory", path));
    }
    return util::Ok();
  }
  remote::S3Options o = NodeS3Options(node);
  o.connect_timeout = timeout;
  o.request_timeout = timeout;
  o.max_attempts = 1;
  o.max_connections = 1;
  o.io_threads = 1;
  SHARDFS_ASSIGN_OR_RETURN(auto store, remote::S3Store::Open(std::move(o)));
  return store->Probe();
}

}  // namespace

util::Result<std::vector<std::string>> ProbeNodes(const core::DriveConfig& config,
                                                  std::chrono::milliseconds timeout) {
  if (config.store.kind != core::StoreSpec::Kind::kNodes) return std::vector<std::string>{};
  std::vector<util::Status> results(config.nodes.size(), util::Ok());
  std::vector<std::thread> threads;
  threads.reserve(config.nodes.size());
  for (size_t i = 0; i < config.nodes.size(); ++i) {
    threads.emplace_back([&node = config.nodes[i], &result = results[i], timeout] {
      result = ProbeOne(node, timeout);
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::string> failed;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) continue;
    failed.push_back(fmt::format("node '{}' ({}): {}", config.nodes[i].id, config.nodes[i].endpoint,
                                 results[i].error().message));
  }
  const size_t answered = config.nodes.size() - failed.size();
  if (answered < config.erasure.data) {
    return MakeError(Errc::kUnavailable,
                     fmt::format("only {} of the {} storage nodes of drive '{}' answered within "
                                 "{} ms, and {} are needed to read it: {}",
                                 answered, config.nodes.size(), config.name, timeout.count(),
                                 config.erasure.data, fmt::join(failed, "; ")));
  }
  return failed;
}

}  // namespace shardfs::drive
