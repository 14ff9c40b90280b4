// NodeHealth: what a store has learned about each of its nodes (numbered 0..n-1): moving
// averages (EWMA) of latency and error rate, and consecutive failures, which past a threshold
// make the node unhealthy and keep it out of the way for a backoff (doubling, capped) before it
// is probed again. Rank() orders nodes fast and reliable first, rotating among equally good ones
// to spread load. Backoff time comes from the injected Clock; latencies are measured by callers.
// Thread-safe: one mutex, a leaf lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fs/util/clock.h"

#include "fs/util/mutex.h"

namespace shardfs::remote {

struct HealthOptions {
  double alpha = 0.2;             // weight of a new sample in the moving averages (0..1]
  int failures_to_unhealthy = 3;  // consecutive failures that make a node unhealthy
  util::Clock::Duration initial_backoff = std::chrono::seconds(1);
  util::Clock::Duration max_backoff = std::chrono::minutes(2);
  double error_penalty_ms = 200;  // what an error rate of 1 costs in the ranking, as latency
};

struct NodeHealthSnapshot {
  bool healthy = true;       // fewer consecutive failures than the threshold
  bool available = true;     // healthy, or its backoff is over (the next call is a probe)
  bool has_latency = false;  // latency_ms is a measurement, not a default
  double latency_ms = 0;
  double error_rate = 0;
  uint64_t consecutive_failures = 0;
  util::Clock::TimePoint retry_at{};  // when an unhealthy node may be probed
  uint64_t shards_stored = 0;
  uint64_t bad_shards = 0;
  std::string last_error;
};

struct RankedNode {
  size_t node = 0;
  // Lower is better. Available nodes: 0 under 1 ms of expected cost, then one tier per doubling
  // (1-2 ms is 1, 2-4 ms is 2, ...). Nodes in backoff: kBackoffTier.
  int tier = 0;
};

class NodeHealth {
 public:
  static constexpr int kBackoffTier = 1000;

  // clock is not owned and must outlive this.
  NodeHealth(size_t nodes, const util::Clock* clock, HealthOptions options = {});

  size_t size() const { return count_; }

  // A call that worked (a missing object counts: the node answered).
  void RecordSuccess(size_t node, std::chrono::nanoseconds latency);
  // A call that failed: the node is down, refused, or full.
  void RecordFailure(size_t node, std::string_view error);
  // A call abandoned after elapsed because it was no longer needed: the node is at least that
  // slow, so the latency average may rise (never fall) on it; not an error.
  void RecordAbandoned(size_t node, std::chrono::nanoseconds elapsed);
  // A shard that came back damaged: counted, and an error sample, but the node stays healthy
  // (it answers; its disk lies).
  void RecordBadShard(size_t node, std::string_view what);
  void RecordStored(size_t node);

  bool Available(size_t node) const;
  NodeHealthSnapshot Snapshot(size_t node) const;

  // Every node, best first: by tier, then by index rotated by rotation (so callers that pass
  // a counter spread load over equally good nodes).
  std::vector<RankedNode> Rank(uint64_t rotation) const;

 private:
  struct State {
    bool has_latency = false;
    double latency_ms = 0;
    double error_rate = 0;
    uint64_t consecutive_failures = 0;
    util::Clock::TimePoint retry_at{};
    uint64_t shards_stored = 0;
    uint64_t bad_shards = 0;
    std::string last_error;
  };

  bool AvailableLocked(const State& s, util::Clock::TimePoint now) const REQUIRES(mu_);
  void AddLatencyLocked(State& s, double ms) REQUIRES(mu_);
  void AddErrorSampleLocked(State& s, double sample) REQUIRES(mu_);
  int TierLocked(const State& s, util::Clock::TimePoint now) const REQUIRES(mu_);

  const util::Clock* const clock_;
  const HealthOptions options_;
  const size_t count_;  // nodes_.size(), which never changes

  mutable util::Mutex mu_;                    // leaf lock
  std::vector<State> nodes_ GUARDED_BY(mu_);  // the size never changes
};

}  // namespace shardfs::remote
