// FaultyStore: wraps another ShardStore and injects the faults real nodes have: latency, errors
// (the next N calls, or each call with a probability), corrupted reads, and a node that drops out
// entirely and comes back. Faults can be changed at any time from any thread. Random choices come
// from a seeded generator, so a single-threaded test replays exactly; with several threads the
// order of draws follows the scheduling. A failed call never reaches the inner store (a failed
// Put stores nothing). Thread-safe if the inner store is.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "fs/remote/shard_store.h"

namespace shardfs::remote::testing {

class FaultyStore final : public ShardStore {
 public:
  // inner is not owned and must outlive this wrapper. With no faults set, calls pass through.
  explicit FaultyStore(ShardStore* inner, uint64_t seed = 1);

  // Every call (failing ones too) first sleeps this long.
  void SetLatency(std::chrono::microseconds per_call);
  // The next n calls fail with code, before any failure rate is drawn.
  void FailNext(uint64_t n, util::Errc code = util::Errc::kUnavailable);
  // Each call fails with code with this probability (0 to 1).
  void SetFailureRate(double probability, util::Errc code = util::Errc::kUnavailable);
  // Get and GetRange return their data with one byte (chosen at random) inverted; empty data
  // stays empty. Nothing stored is changed.
  void SetCorruptReads(bool on);
  // A dropped node fails every call with kUnavailable until Restore().
  void Drop();
  void Restore();
  bool dropped() const;
  // Back to a pass-through store (the generator is not reseeded).
  void ClearFaults();
  // Calls failed or corrupted so far.
  uint64_t injected_faults() const;

  util::Status Put(std::string_view name, util::ByteSpan data) override;
  util::Result<util::Bytes> Get(std::string_view name) override;
  util::Result<util::Bytes> GetRange(std::string_view name, uint64_t offset,
                                     uint64_t length) override;
  util::Status Delete(std::string_view name) override;
  util::Result<std::vector<std::string>> List(std::string_view prefix) override;
  util::Result<StoreUsage> Usage() override;
  std::string Describe() const override { return "faulty:" + inner_->Describe(); }

 private:
  // Sleeps the latency, then returns the error this call must fail with, if any.
  std::optional<util::Error> BeforeCall(std::string_view op, std::string_view name);
  util::Result<util::Bytes> MaybeCorrupt(util::Result<util::Bytes> data);
  double NextUnitLocked();  // uniform in [0, 1)

  ShardStore* const inner_;

  mutable std::mutex mu_;  // leaf lock; never held across a call to inner_ or a sleep
  std::mt19937_64 rng_;    // guarded by mu_
  std::chrono::microseconds latency_{0};                     // guarded by mu_
  uint64_t fail_next_ = 0;                                   // guarded by mu_
  util::Errc fail_next_code_ = util::Errc::kUnavailable;     // guarded by mu_
  double failure_rate_ = 0;                                  // guarded by mu_
  util::Errc failure_rate_code_ = util::Errc::kUnavailable;  // guarded by mu_
  bool corrupt_reads_ = false;                               // guarded by mu_
  bool dropped_ = false;                                     // guarded by mu_
  uint64_t injected_ = 0;                                    // guarded by mu_
};

}  // namespace shardfs::remote::testing
