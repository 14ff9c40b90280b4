#include "fs/core/drive_config.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fs/util/files.h"
#include "fs/util/units.h"

namespace shardfs::core {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<ErasureCoding> ErasureCoding::Parse(std::string_view text) {
  size_t plus = text.find('+');
  auto bad = [&](std::string_view why) {
    return MakeError(Errc::kInvalid,
                     fmt::format("erasure coding '{}' is not valid ({}); write K+M, as in 4+2: "
                                 "each block becomes K data and M parity shards and any M "
                                 "nodes may be lost",
                                 text, why));
  };
  if (plus == std::string_view::npos) return bad("no '+'");
  std::string_view k = text.substr(0, plus), m = text.substr(plus + 1);
  if (!AllDigits(k) || !AllDigits(m) || k.size() > 3 || m.size() > 3) return bad("not numbers");
  ErasureCoding ec{static_cast<uint32_t>(std::stoul(std::string(k))),
                   static_cast<uint32_t>(std::stoul(std::string(m)))};
  if (ec.data < 1) return bad("K must be at least 1");
  if (ec.data + ec.parity > kMaxShards)
    return bad(fmt::format("K+M must be at most {}", kMaxShards));
  return ec;
}

std::string ErasureCoding::ToString() const { return fmt::format("{}+{}", data, parity); }

Result<StoreSpec> StoreSpec::Parse(std::string_view text) {
  if (text == "nodes") return StoreSpec{Kind::kNodes, ""};
  size_t colon = text.find(':');
  std::string_view scheme = colon == std::string_view::npos ? text : text.substr(0, colon);
  if (colon == std::string_view::npos || scheme != "dir") {
    return MakeError(Errc::kInvalid,
                     fmt::format("store '{}' is not one this version knows; use dir:PATH (a "
                                 "local directory holding one file per object) or nodes (the "
                                 "drive's node list)",
                                 text));
  }
  std::string path(text.substr(colon + 1));
  if (path.empty()) {
    return MakeError(Errc::kInvalid, "store 'dir:' needs a directory, as in dir:/srv/shardfs");
  }
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return StoreSpec{Kind::kDir, path};
}

std::string StoreSpec::ToString() const { return kind == Kind::kNodes ? "nodes" : "dir:" + path; }

Status ValidateDriveName(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return MakeError(Errc::kInvalid,
                     fmt::format("drive name '{}' is not valid: {}; use 1 to 64 letters, digits, "
                                 "'.', '_' or '-', starting with a letter or digit",
                                 name, why));
  };
  if (name.empty()) return bad("it is empty");
  if (name.size() > 64) return bad("it is longer than 64 characters");
  if (name[0] == '.' || name[0] == '-') return bad("it starts with '.' or '-'");
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return bad(fmt::format("'{}' is not allowed", c));
    }
  }
  return util::Ok();
}

Status ValidateBlockSize(uint64_t block_size) {
  bool pow2 = block_size != 0 && (block_size & (block_size - 1)) == 0;
  if (!pow2 || block_size < kMinBlockSize || block_size > kMaxBlockSize) {
    return MakeError(
        Errc::kInvalid,
        fmt::format("block size {} is not valid; use a power of two from {} to {} "
                    "(default {})",
                    util::FormatSize(block_size), util::FormatSize(kMinBlockSize),
                    util::FormatSize(kMaxBlockSize), util::FormatSize(kDefaultBlockSize)));
  }
  return util::Ok();
}

Status ValidateDriveConfig(const DriveConfig& c, std::string_view where) {
  auto ctx = [&](const util::Error& e) { return e.WithContext(where); };
  if (auto s = ValidateDriveName(c.name); !s.ok()) return ctx(s.error());
  bool hex = c.drive_id.size() == 32 &&
             std::all_of(c.drive_id.begin(), c.drive_id.end(),
                         [](char ch) { return std::isdigit(ch) || (ch >= 'a' && ch <= 'f'); });
  if (!hex) {
    return ctx(MakeError(Errc::kInvalid, fmt::format("drive_id '{}' is not 32 lower-case hex "
                                                     "digits",
                                                     c.drive_id)));
  }
  if (auto s = ValidateBlockSize(c.block_size); !s.ok()) return ctx(s.error());
  if (c.erasure.data < 1 || c.erasure.data + c.erasure.parity > kMaxShards) {
    return ctx(MakeError(Errc::kInvalid,
                         fmt::format("erasure coding {} is out of range", c.erasure.ToString())));
  }
  if (c.store.kind == StoreSpec::Kind::kDir) {
    if (c.store.path.empty() || c.store.path[0] != '/') {
      return ctx(MakeError(Errc::kInvalid, "the store needs an absolute directory"));
    }
    if (!c.nodes.empty()) {
      return ctx(MakeError(Errc::kInvalid,
                           "a dir: store takes no 'nodes'; use \"store\": "
                           "\"nodes\" to spread shards over them"));
    }
  } else {
    SHARDFS_TRY(ValidateNodeList(c.nodes, where));
    const uint32_t shards = c.erasure.data + c.erasure.parity;
    if (c.nodes.size() < shards) {
      return ctx(MakeError(
          Errc::kInvalid,
          fmt::format("erasure coding {} puts {} shards of each block on {} different nodes, but "
                      "there are {} nodes: add nodes or choose a smaller K+M",
                      c.erasure.ToString(), shards, shards, c.nodes.size())));
    }
  }
  if (c.cache_dir.empty() || c.cache_dir[0] != '/') {
    return ctx(MakeError(Errc::kInvalid, "the cache directory must be an absolute path"));
  }
  if (c.cache_size < 4 * c.block_size) {
    return ctx(MakeError(Errc::kInvalid,
                         fmt::format("cache size {} is too small for blocks of {}; give at least "
                                     "four blocks ({})",
                                     util::FormatSize(c.cache_size), util::FormatSize(c.block_size),
                                     util::FormatSize(4 * c.block_size))));
  }
  if (c.quota != 0 && c.quota < 4 * c.block_size) {
    return ctx(MakeError(Errc::kInvalid,
                         fmt::format("quota {} is too small for blocks of {}; give at least four "
                                     "blocks ({}), or 0 for no quota",
                                     util::FormatSize(c.quota), util::FormatSize(c.block_size),
                                     util::FormatSize(4 * c.block_size))));
  }
  return util::Ok();
}

std::string SerializeDriveConfig(const DriveConfig& c) {
  // ordered_json keeps the keys in this order, so the file reads top-down and diffs stay small.
  nlohmann::ordered_json j;
  j["format"] = "shardfs-drive";
  const bool nodes = c.store.kind == StoreSpec::Kind::kNodes;
  j["version"] = nodes ? kDriveConfigVersion : 1;
  j["name"] = c.name;
  j["drive_id"] = c.drive_id;
  j["created"] = c.created;
  j["block_size"] = util::FormatSize(c.block_size);
  j["erasure_coding"] = c.erasure.ToString();
  j["store"] = c.store.ToString();
  if (nodes) j["nodes"] = NodesToJson(c.nodes);
  j["cache_dir"] = c.cache_dir;
  j["cache_size"] = util::FormatSize(c.cache_size);
  if (c.quota != 0) j["quota"] = util::FormatSize(c.quota);
  return j.dump(2) + "\n";
}

namespace {

// Reads one string member, or an integer where sizes are allowed, with errors naming the key.
Result<std::string> GetString(const nlohmann::json& j, const char* key, std::string_view where) {
  auto it = j.find(key);
  if (it == j.end()) {
    return MakeError(Errc::kInvalid, fmt::format("{}: '{}' is missing", where, key));
  }
  if (it->is_number_unsigned()) return std::to_string(it->get<uint64_t>());
  if (!it->is_string()) {
    return MakeError(Errc::kInvalid, fmt::format("{}: '{}' must be a string", where, key));
  }
  return it->get<std::string>();
}

Result<uint64_t> GetSize(const nlohmann::json& j, const char* key, std::string_view where) {
  SHARDFS_ASSIGN_OR_RETURN(std::string text, GetString(j, key, where));
  auto size = util::ParseSize(text);
  if (!size.ok()) return size.error().WithContext(fmt::format("{}: '{}'", where, key));
  return *size;
}

}  // namespace

Result<DriveConfig> ParseDriveConfig(std::string_view text, std::string_view where) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeError(Errc::kCorrupt,
                     fmt::format("{} is not a valid drive configuration (not a JSON object); "
                                 "restore it from a backup or recreate the drive with "
                                 "`shardfs init --restore`",
                                 where));
  }
  static const std::set<std::string> kKeys = {
      "format",         "version", "name",      "drive_id",   "created", "block_size",
      "erasure_coding", "store",   "cache_dir", "cache_size", "nodes",   "quota"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!kKeys.contains(it.key())) {
      return MakeError(Errc::kInvalid, fmt::format("{}: unknown key '{}'", where, it.key()));
    }
  }
  SHARDFS_ASSIGN_OR_RETURN(std::string format, GetString(j, "format", where));
  if (format != "shardfs-drive") {
    return MakeError(Errc::kInvalid,
                     fmt::format("{}: 'format' is '{}', not 'shardfs-drive'", where, format));
  }
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer()) {
    return MakeError(Errc::kInvalid, fmt::format("{}: 'version' must be a number", where));
  }
  const int64_t v = version->get<int64_t>();
  if (v < 1 || v > kDriveConfigVersion) {
    return MakeError(Errc::kUnsupported,
                     fmt::format("{} has format version {}; this shardfs reads version {}: "
                                 "upgrade shardfs",
                                 where, version->get<int64_t>(), kDriveConfigVersion));
  }
  DriveConfig c;
  SHARDFS_ASSIGN_OR_RETURN(c.name, GetString(j, "name", where));
  SHARDFS_ASSIGN_OR_RETURN(c.drive_id, GetString(j, "drive_id", where));
  SHARDFS_ASSIGN_OR_RETURN(c.created, GetString(j, "created", where));
  SHARDFS_ASSIGN_OR_RETURN(c.block_size, GetSize(j, "block_size", where));
  SHARDFS_ASSIGN_OR_RETURN(std::string ec, GetString(j, "erasure_coding", where));
  auto parsed_ec = ErasureCoding::Parse(ec);
  if (!parsed_ec.ok()) return parsed_ec.error().WithContext(where);
  c.erasure = *parsed_ec;
  SHARDFS_ASSIGN_OR_RETURN(std::string store, GetString(j, "store", where));
  auto parsed_store = StoreSpec::Parse(store);
  if (!parsed_store.ok()) return parsed_store.error().WithContext(where);
  c.store = *parsed_store;
  if (auto nodes = j.find("nodes"); nodes != j.end()) {
    if (v < 2) {
      return MakeError(Errc::kInvalid, fmt::format("{}: 'nodes' needs version 2", where));
    }
    SHARDFS_ASSIGN_OR_RETURN(c.nodes, NodesFromJson(*nodes, where));
  }
  SHARDFS_ASSIGN_OR_RETURN(c.cache_dir, GetString(j, "cache_dir", where));
  SHARDFS_ASSIGN_OR_RETURN(c.cache_size, GetSize(j, "cache_size", where));
  if (j.contains("quota")) {
    SHARDFS_ASSIGN_OR_RETURN(c.quota, GetSize(j, "quota", where));
  }
  SHARDFS_TRY(ValidateDriveConfig(c, where));
  return c;
}

}  // namespace shardfs::core
