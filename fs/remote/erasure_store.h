// ErasureStore: a BlockStore that Reed-Solomon codes each block into k + m shards (erasure.h)
// and puts them on distinct nodes chosen by NodeHealth, falling back to nodes already used when
// fewer than k + m take them (never fewer than k). Gets are hedged: k + hedge shard requests at
// once, each shard checked against its XXH3 on arrival, the rest cancelled once k are good; a
// block is kUnavailable or kCorrupt before it is ever wrong bytes. The nodes' stores are not
// owned and must outlive this. Thread-safe; blocking (never call from an Asio thread).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fs/remote/block_store.h"
#include "fs/remote/node_health.h"
#include "fs/remote/shard_store.h"
#include "fs/remote/task_pool.h"
#include "fs/util/clock.h"

namespace shardfs::remote {

struct ErasureNode {
  std::string name;   // stable id from the drive config, 1-255 bytes, unique
  ShardStore* store;  // not owned
};

struct ErasureOptions {
  int k = 4;
  int m = 2;
  int hedge = 1;     // extra shard requests a Get starts at once, beyond the k it needs
  int threads = 16;  // fan-out threads (calls to nodes in flight at once, over all callers)
  // A Get still short of k good shards this long after its last launch asks one more holder.
  std::chrono::milliseconds straggler_after{200};
  // The object name of shard shard_index of a block; must be a valid object name. Required.
  std::function<std::string(std::string_view block_name, int shard_index)> shard_name;
  const util::Clock* clock = nullptr;  // backoff timing; nullptr: the system clock
  HealthOptions health;
};

// Bytes of blocks that fit in `room` (bytes per node) when each block is cut into k+m shards on
// k+m distinct nodes: k * the largest x with sum(min(room_i, x)) >= (k+m) * x. 0 with fewer
// than k+m nodes.
uint64_t BlockBytesOnNodes(const std::vector<uint64_t>& room, int k, int m);

class ErasureStore final : public BlockStore {
 public:
  // kInvalid for a bad code, no shard_name, fewer nodes than k, or a bad or repeated node name.
  static util::Result<std::unique_ptr<ErasureStore>> Create(std::vector<ErasureNode> nodes,
                                                            ErasureOptions options);
  // Waits for the node calls in flight (each returns once it is done or cancelled).
  ~ErasureStore() override;

  util::Result<util::Bytes> Put(std::string_view name, util::ByteSpan sealed) override;
  util::Result<util::Bytes> Get(std::string_view name, util::ByteSpan location) override;
  util::Status Delete(std::string_view name, util::ByteSpan location) override;
  util::Result<StoreUsage> Usage() override;
  std::vector<NodeStatus> Nodes() override;
  std::string Describe() const override;

 private:
  struct PutPlan;
  struct Fetch;

  ErasureStore(std::vector<ErasureNode> nodes, ErasureOptions options);

  // The index of the node with this id, or -1.
  int FindNode(std::string_view name) const;
  std::string NodeLabel(size_t node) const;  // "node1 (s3://...)"
  util::Result<std::vector<std::string>> ShardNames(std::string_view block, int count) const;

  // Put, in two phases: distinct nodes first, then (degraded) nodes that already took one.
  void PlaceOnDistinctNodes(PutPlan& plan);
  util::Status PlaceOnUsedNodes(PutPlan& plan);
  void StartPut(PutPlan& plan, int shard, size_t node);
  // Waits for every put in flight: records each placed shard; for each that failed, marks its
  // node failed, notes the error and calls `failed` (which may start another put).
  void DrainPuts(PutPlan& plan,
                 const std::function<void(int shard, size_t node, util::Errc)>& failed);
  void RemoveShards(const std::vector<std::string>& names, const std::vector<int>& nodes);

  void StartFetch(const std::shared_ptr<Fetch>& fetch, int shard);

  const std::vector<ErasureNode> nodes_;
  const ErasureOptions options_;
  util::SystemClock system_clock_;
  NodeHealth health_;
  std::atomic<uint64_t> rotation_{0};
  std::atomic<bool> degraded_{false};  // the last Put placed shards on a used node
  TaskPool pool_;  // last member: joined first, so no task outlives the state it uses
};

}  // namespace shardfs::remote
