// LocationRecord: where ErasureStore put the shards of one block and what each must hash to;
// the binary form is what BlockStore::Put returns and Get/Delete take back (docs/placement.md,
// version 1). Nodes are named by their stable id from the drive config, so the node list may
// grow or be reordered. Parsing checks every bound and the record's own checksum: any damage is
// kCorrupt, never a crash. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::remote {

inline constexpr uint8_t kLocationRecordVersion = 1;
inline constexpr size_t kMaxNodeNameLength = 255;

struct ShardLocation {
  std::string node;       // the node's id (1-255 bytes)
  uint64_t checksum = 0;  // ShardChecksum of the shard

  bool operator==(const ShardLocation&) const = default;
};

struct LocationRecord {
  int k = 0;
  int m = 0;
  uint64_t length = 0;                // the block's bytes
  uint64_t shard_size = 0;            // ShardSize(length, k)
  std::vector<ShardLocation> shards;  // k + m, by shard index; a node may appear more than once

  bool operator==(const LocationRecord&) const = default;
};

// kInvalid when the record is inconsistent (bad code, shard count or size, node name length).
util::Result<util::Bytes> SerializeLocationRecord(const LocationRecord& record);
// kCorrupt when damaged or not canonical; kUnsupported for a version this build does not read.
util::Result<LocationRecord> ParseLocationRecord(util::ByteSpan bytes);

}  // namespace shardfs::remote
