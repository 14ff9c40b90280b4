// BlockStore: where the core keeps sealed blocks, whole. The erasure-coding implementation
// (ErasureStore) cuts each block into k data + m parity shards and spreads them over nodes, each
// node a ShardStore; a Put answers with a location record that says where every shard went and
// its checksum. The caller keeps that record (the core, in its block map) and hands it back to
// Get and Delete: the record is opaque bytes to the caller, versioned, and documented in
// docs/placement.md. Thread-safe; calls block the calling thread (never call from an Asio thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fs/remote/shard_store.h"
#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::remote {

// What `shardfs status` shows about one node.
struct NodeStatus {
  std::string name;            // the node's id in the drive config ("node1")
  std::string endpoint;        // ShardStore::Describe()
  bool healthy = true;         // false while recent calls fail; retried in the background
  double latency_ms = 0;       // moving average of successful calls
  double error_rate = 0;       // moving average, 0..1
  uint64_t shards_stored = 0;  // Puts that succeeded since start
  uint64_t bad_shards = 0;     // shards found damaged or missing since start
  std::string last_error;      // empty when none
};

class BlockStore {
 public:
  virtual ~BlockStore() = default;

  // Stores a sealed block under an object name (the core's HMAC name; ValidateObjectName rules).
  // Returns the location record. kUnavailable (retryable) when too few nodes take it.
  virtual util::Result<util::Bytes> Put(std::string_view name, util::ByteSpan sealed) = 0;
  // Put of a sealed block that is the whole content of the file at path (size bytes), as
  // ShardStore::PutFile: the location record, or kUnsupported (the default), kCrossDevice or
  // kNotFound when the caller has to Put the bytes instead.
  virtual util::Result<util::Bytes> PutFile(std::string_view /*name*/, const std::string& /*path*/,
                                            uint64_t /*size*/) {
    return util::MakeError(util::Errc::kUnsupported, Describe() + " keeps no files of others");
  }
  // The block's bytes, exactly as Put got them. kUnavailable when too few shards can be had
  // now (retryable), kCorrupt when the location record is damaged or the shards cannot be
  // reconstructed into what was stored (never wrong bytes).
  virtual util::Result<util::Bytes> Get(std::string_view name, util::ByteSpan location) = 0;
  // Removes every shard; a shard already missing is not an error. kUnavailable when a node
  // holding one cannot be reached (retry later).
  virtual util::Status Delete(std::string_view name, util::ByteSpan location) = 0;
  // In bytes of sealed blocks, what df should show: used is the blocks' share of what the nodes
  // hold (k/(k+m) of it), capacity and available what still fits given that each block needs
  // k+m distinct nodes. Capacity 0 when any node's is unknown or unlimited.
  virtual util::Result<StoreUsage> Usage() = 0;
  virtual std::vector<NodeStatus> Nodes() = 0;
  // For messages: "4+2 over 6 nodes", "dir:/srv/x".
  virtual std::string Describe() const = 0;
};

}  // namespace shardfs::remote
