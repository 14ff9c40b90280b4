// MemStore: an in-memory ShardStore for tests, a sorted map under one mutex. It counts the calls
// it gets, so tests can check that a cache or single-flight really saved a trip, and it can be
// given a capacity, beyond which a Put fails with kNoSpace. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "fs/remote/shard_store.h"

namespace shardfs::remote::testing {

class MemStore final : public ShardStore {
 public:
  struct Counts {
    uint64_t puts = 0;
    uint64_t gets = 0;  // Get and GetRange
    uint64_t deletes = 0;
    uint64_t lists = 0;
  };

  MemStore() = default;
  // capacity_bytes 0: unlimited. name appears in Describe() as "mem:<name>".
  explicit MemStore(uint64_t capacity_bytes, std::string name = "mem");

  util::Status Put(std::string_view name, util::ByteSpan data) override;
  util::Result<util::Bytes> Get(std::string_view name) override;
  util::Result<util::Bytes> GetRange(std::string_view name, uint64_t offset,
                                     uint64_t length) override;
  util::Status Delete(std::string_view name) override;
  util::Result<std::vector<std::string>> List(std::string_view prefix) override;
  util::Result<StoreUsage> Usage() override;
  std::string Describe() const override { return "mem:" + name_; }

  // Every call is counted, including those that fail.
  Counts counts() const;
  void ResetCounts();

 private:
  const uint64_t capacity_bytes_ = 0;
  const std::string name_ = "mem";

  mutable std::mutex mu_;                                    // leaf lock
  std::map<std::string, util::Bytes, std::less<>> objects_;  // guarded by mu_
  uint64_t used_bytes_ = 0;                                  // guarded by mu_
  Counts counts_;                                            // guarded by mu_
};

}  // namespace shardfs::remote::testing
