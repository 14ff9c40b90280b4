// DriveConfig: what a drive is (id, block size, erasure coding, store, cache), stored as
// <config dir>/drives/<name>/config.json, format v1 (docs/config.md). Parsing rejects unknown
// keys (a typo must not be silently ignored), out-of-range values and newer versions with
// errors that name the file, the key and the fix. Plain values; pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fs/core/node_list.h"
#include "fs/util/result.h"

namespace shardfs::core {

// Version 2 added `"store": "nodes"` with a `nodes` list; drives on a dir: store are still
// written as version 1, which every version reads.
inline constexpr int kDriveConfigVersion = 2;
inline constexpr uint64_t kDefaultBlockSize = uint64_t{4} << 20;
inline constexpr uint64_t kMinBlockSize = uint64_t{4} << 10;
inline constexpr uint64_t kMaxBlockSize = uint64_t{64} << 20;
inline constexpr uint64_t kDefaultCacheSize = uint64_t{2} << 30;
inline constexpr uint32_t kMaxShards = 32;

struct ErasureCoding {
  uint32_t data = 4;    // k: shards needed to read a block; k = 1 means mirroring
  uint32_t parity = 2;  // m: shards (nodes) that may be lost
  // "K+M", e.g. "4+2"; 1 <= K, 0 <= M, K + M <= kMaxShards.
  static util::Result<ErasureCoding> Parse(std::string_view text);
  std::string ToString() const;
  bool operator==(const ErasureCoding&) const = default;
};

struct StoreSpec {
  enum class Kind { kDir, kNodes };
  Kind kind = Kind::kDir;
  std::string path;  // kDir: absolute directory, one file per object
  // "dir:PATH" or "nodes" (erasure-coded over the config's node list). PATH is kept as written;
  // callers taking it from a command line make it absolute, and a config file must hold an
  // absolute one.
  static util::Result<StoreSpec> Parse(std::string_view text);
  std::string ToString() const;
  bool operator==(const StoreSpec&) const = default;
};

struct DriveConfig {
  std::string name;
  std::string drive_id;  // 32 lower-case hex digits, derived from the mnemonic
  std::string created;   // RFC 3339 UTC, informational
  uint64_t block_size = kDefaultBlockSize;
  ErasureCoding erasure;
  StoreSpec store;
  std::vector<NodeSpec> nodes;  // store kind kNodes: at least K+M of them
  std::string cache_dir;        // absolute
  uint64_t cache_size = kDefaultCacheSize;
  // Bytes of sealed blocks the drive may keep in its store; 0: as much as the store takes. df
  // shows it as the drive's size, and writes fail with ENOSPC once it is used up.
  uint64_t quota = 0;
  bool operator==(const DriveConfig&) const = default;
};

// Drive names are file names and appear in mount tables: 1-64 of [A-Za-z0-9._-], not starting
// with '.' or '-'.
util::Status ValidateDriveName(std::string_view name);
util::Status ValidateBlockSize(uint64_t block_size);
// Checks every field; `where` (usually the file path) prefixes messages.
util::Status ValidateDriveConfig(const DriveConfig& config, std::string_view where);

std::string SerializeDriveConfig(const DriveConfig& config);
util::Result<DriveConfig> ParseDriveConfig(std::string_view text, std::string_view where);

}  // namespace shardfs::core
