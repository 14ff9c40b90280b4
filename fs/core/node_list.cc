#include "fs/core/node_list.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fs/util/files.h"

namespace shardfs::core {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {

constexpr uint64_t kMaxNodeListBytes = 1 << 20;

bool IdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool ValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  };
  return std::all_of(b.begin(), b.end(), ok) && b.front() != '-' && b.front() != '.' &&
         b.back() != '-' && b.back() != '.';
}

Result<std::string> Member(const nlohmann::json& j, const char* key, bool required,
                           std::string_view where) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (!required) return std::string();
    return MakeError(Errc::kInvalid, fmt::format("{}: '{}' is missing", where, key));
  }
  if (!it->is_string()) {
    return MakeError(Errc::kInvalid, fmt::format("{}: '{}' must be a string", where, key));
  }
  return it->get<std::string>();
}

}  // namespace

Status ValidateNode(const NodeSpec& n, std::string_view where) {
  auto bad = [&](std::string msg) {
    return MakeError(Errc::kInvalid, fmt::format("{}: node '{}': {}", where, n.id, msg));
  };
  if (n.id.empty() || n.id.size() > 32 || !std::all_of(n.id.begin(), n.id.end(), IdChar)) {
    return bad("'id' must be 1-32 of a-z, 0-9, '_' or '-'");
  }
  if (n.IsDir()) {
    if (n.endpoint.size() < 6 || n.endpoint[4] != '/') {
      return bad(fmt::format("endpoint '{}' needs an absolute directory, as in dir:/srv/node1",
                             n.endpoint));
    }
    return util::Ok();
  }
  const bool http = n.endpoint.rfind("http://", 0) == 0;
  const bool https = n.endpoint.rfind("https://", 0) == 0;
  const std::string_view rest = std::string_view(n.endpoint).substr(http ? 7 : https ? 8 : 0);
  if ((!http && !https) || rest.empty() || rest.find('/') != std::string_view::npos) {
    return bad(fmt::format(
        "endpoint '{}' is not valid: write http://HOST:PORT, https://HOST:PORT or dir:PATH",
        n.endpoint));
  }
  if (!ValidBucket(n.bucket)) {
    return bad(fmt::format("bucket '{}' is not valid: 3-63 of a-z, 0-9, '-' and '.'", n.bucket));
  }
  if (n.access_key.empty() || n.secret_key.empty()) {
    return bad("'access_key' and 'secret_key' are needed for an S3 endpoint");
  }
  if (n.region.empty()) return bad("'region' is empty");
  return util::Ok();
}

Status ValidateNodeList(const std::vector<NodeSpec>& nodes, std::string_view where) {
  if (nodes.empty()) return MakeError(Errc::kInvalid, fmt::format("{}: no nodes", where));
  std::set<std::string> ids;
  for (const NodeSpec& n : nodes) {
    SHARDFS_TRY(ValidateNode(n, where));
    if (!ids.insert(n.id).second) {
      return MakeError(
          Errc::kInvalid,
          fmt::format("{}: two nodes have the id '{}'; ids must be unique", where, n.id));
    }
  }
  return util::Ok();
}

nlohmann::ordered_json NodesToJson(const std::vector<NodeSpec>& nodes) {
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (const NodeSpec& n : nodes) {
    nlohmann::ordered_json j;
    j["id"] = n.id;
    j["endpoint"] = n.endpoint;
    if (!n.IsDir()) {
      j["bucket"] = n.bucket;
      j["access_key"] = n.access_key;
      j["secret_key"] = n.secret_key;
      j["region"] = n.region;
    }
    if (!n.zone.empty()) j["zone"] = n.zone;
    array.push_back(std::move(j));
  }
  return array;
}

Result<std::vector<NodeSpec>> NodesFromJson(const nlohmann::json& array, std::string_view where) {
  if (!array.is_array()) {
    return MakeError(Errc::kInvalid, fmt::format("{}: 'nodes' must be a list", where));
  }
  static const std::set<std::string> kKeys = {"id",         "endpoint", "bucket", "access_key",
                                              "secret_key", "region",   "zone"};
  std::vector<NodeSpec> nodes;
  for (size_t i = 0; i < array.size(); ++i) {
    const nlohmann::json& j = array[i];
    const std::string at = fmt::format("{}: node #{}", where, i + 1);
    if (!j.is_object()) return MakeError(Errc::kInvalid, at + " is not an object");
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!kKeys.contains(it.key())) {
        return MakeError(Errc::kInvalid, fmt::format("{}: unknown key '{}'", at, it.key()));
      }
    }
    NodeSpec n;
    SHARDFS_ASSIGN_OR_RETURN(n.id, Member(j, "id", true, at));
    SHARDFS_ASSIGN_OR_RETURN(n.endpoint, Member(j, "endpoint", true, at));
    const bool s3 = !n.IsDir();
    SHARDFS_ASSIGN_OR_RETURN(n.bucket, Member(j, "bucket", s3, at));
    SHARDFS_ASSIGN_OR_RETURN(n.access_key, Member(j, "access_key", s3, at));
    SHARDFS_ASSIGN_OR_RETURN(n.secret_key, Member(j, "secret_key", s3, at));
    SHARDFS_ASSIGN_OR_RETURN(std::string region, Member(j, "region", false, at));
    if (!region.empty()) n.region = region;
    if (!s3) n.region.clear();
    SHARDFS_ASSIGN_OR_RETURN(n.zone, Member(j, "zone", false, at));
    nodes.push_back(std::move(n));
  }
  SHARDFS_TRY(ValidateNodeList(nodes, where));
  return nodes;
}

std::string SerializeNodeList(const std::vector<NodeSpec>& nodes) {
  nlohmann::ordered_json j;
  j["format"] = "shardfs-nodes";
  j["version"] = kNodeListVersion;
  j["nodes"] = NodesToJson(nodes);
  return j.dump(2) + "\n";
}

Result<std::vector<NodeSpec>> ParseNodeList(std::string_view text, std::string_view where) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeError(Errc::kInvalid,
                     fmt::format("{} is not a node list (not a JSON object)", where));
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "format" && it.key() != "version" && it.key() != "nodes") {
      return MakeError(Errc::kInvalid, fmt::format("{}: unknown key '{}'", where, it.key()));
    }
  }
  if (j.value("format", "") != "shardfs-nodes") {
    return MakeError(Errc::kInvalid, fmt::format("{}: 'format' must be 'shardfs-nodes'", where));
  }
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer()) {
    return MakeError(Errc::kInvalid, fmt::format("{}: 'version' must be a number", where));
  }
  if (version->get<int64_t>() != kNodeListVersion) {
    return MakeError(
        Errc::kUnsupported,
        fmt::format("{} has version {}; this shardfs reads version {}: upgrade shardfs", where,
                    version->get<int64_t>(), kNodeListVersion));
  }
  auto nodes = j.find("nodes");
  if (nodes == j.end())
    return MakeError(Errc::kInvalid, fmt::format("{}: 'nodes' is missing", where));
  return NodesFromJson(*nodes, where);
}

Result<std::vector<NodeSpec>> ReadNodeListFile(const std::string& path) {
  auto text = util::ReadFile(path, kMaxNodeListBytes);
  if (!text.ok()) return text.error().WithContext("node list");
  return ParseNodeList(util::AsStringView(*text), path);
}

}  // namespace shardfs::core
