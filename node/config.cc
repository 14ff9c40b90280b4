#include "node/config.h"

#include <charconv>
#include <set>

#include <nlohmann/json.hpp>

#include "fs/util/files.h"
#include "fs/util/units.h"

namespace shardfs::node {
namespace {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;
using json = nlohmann::json;

constexpr uint64_t kMaxConfigBytes = 1 << 20;

Result<uint64_t> ParseBytes(const json& v, const std::string& where) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_string()) {
    Result<uint64_t> r = util::ParseSize(v.get<std::string>());
    if (r.ok()) return r;
  }
  return MakeError(Errc::kInvalid,
                   where + " must be a byte count (a number, or a string like \"10G\")");
}

Result<std::string> GetString(const json& v, const std::string& where) {
  if (!v.is_string()) return MakeError(Errc::kInvalid, where + " must be a string");
  return v.get<std::string>();
}

Result<KeyConfig> ParseKey(const json& k, const std::string& where) {
  if (!k.is_object()) return MakeError(Errc::kInvalid, where + " must be an object");
  KeyConfig key;
  bool have_secret = false;
  for (const auto& [name, value] : k.items()) {
    std::string at = where + "." + name;
    if (name == "access_key") {
      SHARDFS_ASSIGN_OR_RETURN(key.access_key, GetString(value, at));
    } else if (name == "secret_key") {
      SHARDFS_ASSIGN_OR_RETURN(std::string s, GetString(value, at));
      key.secret_key = util::SecretBytes::CopyOf(s);
      util::SecureZero(s.data(), s.size());
      have_secret = true;
    } else if (name == "quota") {
      SHARDFS_ASSIGN_OR_RETURN(key.quota_bytes, ParseBytes(value, at));
    } else {
      return MakeError(Errc::kInvalid,
                       "unknown key '" + at + "' (a key has access_key, secret_key and quota)");
    }
  }
  if (key.access_key.empty() || !have_secret || key.secret_key.empty()) {
    return MakeError(Errc::kInvalid, where + " needs a non-empty access_key and secret_key");
  }
  for (char c : key.access_key) {
    if (c <= ' ' || c == '/' || c == ',' || c == '=' || c > '~') {
      return MakeError(Errc::kInvalid, where +
                                           ".access_key may not contain spaces, '/', ',' or "
                                           "'=' (it travels in the Authorization header)");
    }
  }
  return key;
}

}  // namespace

Result<NodeConfig> LoadConfig(const std::string& path) {
  Result<util::Bytes> bytes = util::ReadFile(path, kMaxConfigBytes);
  if (!bytes.ok()) return Context(bytes, "cannot read the node config " + path);
  // Comments let the packaged example config (packaging/node-example.conf) explain itself.
  json doc = json::parse(bytes->begin(), bytes->end(), nullptr, /*allow_exceptions=*/false,
                         /*ignore_comments=*/true);
  if (doc.is_discarded() || !doc.is_object()) {
    return MakeError(Errc::kInvalid, "the node config " + path + " is not a JSON object");
  }
  NodeConfig c;
  auto fail = [&path](const util::Error& e) {
    return MakeError(e.code, "node config " + path + ": " + e.message);
  };
  for (const auto& [name, value] : doc.items()) {
    Status st;
    if (name == "listen" || name == "data" || name == "region" || name == "log_level") {
      Result<std::string> s = GetString(value, name);
      if (!s.ok()) return fail(s.error());
      (name == "listen"   ? c.listen
       : name == "data"   ? c.data
       : name == "region" ? c.region
                          : c.log_level) = *s;
    } else if (name == "threads") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 256) {
        return fail(MakeError(Errc::kInvalid, "threads must be an integer from 1 to 256"));
      }
      c.threads = value.get<int>();
    } else if (name == "max_object_bytes") {
      Result<uint64_t> n = ParseBytes(value, name);
      if (!n.ok()) return fail(n.error());
      c.max_object_bytes = *n;
    } else if (name == "keys") {
      if (!value.is_array()) return fail(MakeError(Errc::kInvalid, "keys must be an array"));
      for (size_t i = 0; i < value.size(); ++i) {
        Result<KeyConfig> k = ParseKey(value[i], "keys[" + std::to_string(i) + "]");
        if (!k.ok()) return fail(k.error());
        c.keys.push_back(std::move(k).value());
      }
    } else {
      return fail(MakeError(Errc::kInvalid, "unknown key '" + name +
                                                "' (known: listen, data, region, keys, threads, "
                                                "max_object_bytes, log_level)"));
    }
  }
  return c;
}

Status ValidateConfig(const NodeConfig& c) {
  if (c.data.empty()) {
    return MakeError(Errc::kInvalid, "no data directory: pass --data DIR or set \"data\"");
  }
  if (c.keys.empty()) {
    return MakeError(Errc::kInvalid,
                     "no access keys: the config file needs \"keys\": [{\"access_key\": ..., "
                     "\"secret_key\": ...}]");
  }
  std::set<std::string> seen;
  for (const KeyConfig& k : c.keys) {
    if (!seen.insert(k.access_key).second) {
      return MakeError(Errc::kInvalid, "access key '" + k.access_key + "' is listed twice");
    }
  }
  if (c.region.empty()) return MakeError(Errc::kInvalid, "region may not be empty");
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    return MakeError(Errc::kInvalid, "log_level must be debug, info, warn or error");
  }
  SHARDFS_TRY(ParseListen(c.listen));
  return util::Ok();
}

Result<ListenAddress> ParseListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  auto bad = [&listen] {
    return MakeError(Errc::kInvalid,
                     "listen address '" + listen + "' is not HOST:PORT (e.g. 127.0.0.1:9000)");
  };
  if (colon == std::string::npos || colon == 0) return bad();
  ListenAddress a;
  a.host = listen.substr(0, colon);
  if (a.host.front() == '[') {
    if (a.host.size() < 3 || a.host.back() != ']') return bad();
    a.host = a.host.substr(1, a.host.size() - 2);
  }
  std::string_view port(listen.data() + colon + 1, listen.size() - colon - 1);
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size()) return bad();
  return a;
}

}  // namespace shardfs::node
