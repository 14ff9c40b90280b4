// NodeSpec and node lists: the storage nodes a drive spreads its shards over, as written in a
// drive's config (`"nodes": [...]`, docs/config.md) and in a node list file (`nodes.conf`,
// written by `shardfs devnet`, read by `shardfs init --nodes`; docs/nodes.md). Parsing rejects
// unknown keys and names the file, the node and the key in every error. The credentials are
// the nodes' (they let a client store objects), not the drive's: nothing here opens a block.
// Plain values and pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "fs/util/result.h"

namespace shardfs::core {

inline constexpr int kNodeListVersion = 1;

struct NodeSpec {
  std::string id;        // stable name within the drive: 1-32 of [a-z0-9_-]
  std::string endpoint;  // http://host:port, https://host:port, or dir:/absolute/path
  std::string bucket;    // S3 bucket (http/https); unused for dir:
  std::string access_key;
  std::string secret_key;
  std::string region = "us-east-1";
  std::string zone;  // optional: a failure domain (shards of a block prefer distinct zones)
  bool operator==(const NodeSpec&) const = default;
  bool IsDir() const { return endpoint.rfind("dir:", 0) == 0; }
};

// Checks one node (`where` prefixes messages) and a list (ids unique, at least one node).
util::Status ValidateNode(const NodeSpec& node, std::string_view where);
util::Status ValidateNodeList(const std::vector<NodeSpec>& nodes, std::string_view where);

// The JSON array form used inside a drive config.
nlohmann::ordered_json NodesToJson(const std::vector<NodeSpec>& nodes);
util::Result<std::vector<NodeSpec>> NodesFromJson(const nlohmann::json& array,
                                                  std::string_view where);

// A node list file: {"format": "shardfs-nodes", "version": 1, "nodes": [...]}.
std::string SerializeNodeList(const std::vector<NodeSpec>& nodes);
util::Result<std::vector<NodeSpec>> ParseNodeList(std::string_view text, std::string_view where);
util::Result<std::vector<NodeSpec>> ReadNodeListFile(const std::string& path);

}  // namespace shardfs::core
