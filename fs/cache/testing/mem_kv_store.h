// MemKvStore: an in-memory KvStore for tests, with LMDB's contract: one writer at a time (a
// second BeginWrite waits, or fails on the thread that holds the writer), readers on snapshots
// of what was committed when they began, a write transaction sees its own changes and is
// aborted unless committed, keys in unsigned byte order, kNoSpace past `capacity_bytes` of keys
// and values. A MemKvDisk outlives the stores opened on it, so a test can close and reopen a
// store (Sync is then what survives a crash: Crash() drops everything committed since).
// Thread-safe. Never linked into shipped binaries.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fs/cache/kv_store.h"

namespace shardfs::cache::testing {

// The "disk" of one store: what was committed, and what was synced.
class MemKvDisk {
 public:
  using Table = std::map<std::string, std::string>;  // std::string compares as unsigned bytes
  using State = std::vector<Table>;

  // Drops what was committed since the last Sync, as a power loss would.
  void Crash();

 private:
  friend class MemKvStore;
  std::mutex mu;  // guards committed and synced
  std::shared_ptr<const State> committed;
  std::shared_ptr<const State> synced;
};

class MemKvStore final : public KvStore {
 public:
  // An empty store with `tables` tables on `disk` (or on the state the disk holds).
  static std::unique_ptr<MemKvStore> Open(std::shared_ptr<MemKvDisk> disk, size_t tables,
                                          uint64_t capacity_bytes = uint64_t{1} << 30);

  util::Result<std::unique_ptr<ReadTxn>> BeginRead() override;
  util::Result<std::unique_ptr<WriteTxn>> BeginWrite() override;
  util::Status Sync() override;
  uint64_t FileBytes() const override;
  void ReleaseMappedPages() override {}

 private:
  class Read;
  class Write;
  MemKvStore(std::shared_ptr<MemKvDisk> disk, uint64_t capacity)
      : disk_(std::move(disk)), capacity_(capacity) {}
  std::shared_ptr<const MemKvDisk::State> Snapshot() const;
  void Publish(std::shared_ptr<const MemKvDisk::State> state);

  std::shared_ptr<MemKvDisk> disk_;
  const uint64_t capacity_;
  std::mutex writer_;                // held by the write transaction in flight
  std::mutex writer_id_mu_;          // guards writer_thread_ (taken after writer_, never before)
  std::thread::id writer_thread_{};  // the thread whose write transaction is in flight
};

}  // namespace shardfs::cache::testing
