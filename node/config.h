// shardfs-node's configuration: a JSON file (format in docs/node.md; // and /* */ comments are
// allowed) plus command-line overrides.
// Loading rejects unknown keys and bad values with a message naming the file and the key.
// Plain values; not synchronized (built once in main, then read-only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::node {

struct KeyConfig {
  std::string access_key;
  util::SecretBytes secret_key;
  uint64_t quota_bytes = 0;  // 0 = unlimited
};

struct NodeConfig {
  std::string listen = "127.0.0.1:9000";  // host:port, or [v6]:port
  std::string data;                       // the data directory (required)
  std::string region = "us-east-1";
  std::vector<KeyConfig> keys;
  int threads = 4;
  uint64_t max_object_bytes = uint64_t{5} << 30;  // S3's single-PUT limit
  std::string log_level = "info";
};

// Reads a config file. kInvalid (with the file and key named) for bad JSON, unknown keys,
// wrong types, duplicate access keys; kNotFound if the file is missing.
util::Result<NodeConfig> LoadConfig(const std::string& path);

// Checks a finished config (after overrides): data set, at least one key, sane values.
util::Status ValidateConfig(const NodeConfig& config);

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
// "127.0.0.1:9000", "[::1]:9000", "localhost:0" (port 0 = any free port).
util::Result<ListenAddress> ParseListen(const std::string& listen);

}  // namespace shardfs::node
