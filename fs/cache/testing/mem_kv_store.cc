#include "fs/cache/testing/mem_kv_store.h"

#include <algorithm>

namespace shardfs::cache::testing {

namespace {

using util::Bytes;
using util::ByteSpan;
using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

std::string Key(ByteSpan key) { return std::string(key.begin(), key.end()); }

Status CheckTable(const MemKvDisk::State& state, TableId table) {
  if (table >= state.size()) {
    return MakeError(Errc::kInvalid, "no table " + std::to_string(table) + " in the store");
  }
  return util::Ok();
}

Result<Bytes> GetFrom(const MemKvDisk::State& state, TableId table, ByteSpan key) {
  SHARDFS_TRY(CheckTable(state, table));
  auto it = state[table].find(Key(key));
  if (it == state[table].end()) return MakeError(Errc::kNotFound, "no such key");
  return Bytes(it->second.begin(), it->second.end());
}

Status ScanFrom(const MemKvDisk::State& state, TableId table, ByteSpan start,
                const std::function<bool(ByteSpan, ByteSpan)>& fn) {
  SHARDFS_TRY(CheckTable(state, table));
  for (auto it = state[table].lower_bound(Key(start)); it != state[table].end(); ++it) {
    const ByteSpan k(reinterpret_cast<const uint8_t*>(it->first.data()), it->first.size());
    const ByteSpan v(reinterpret_cast<const uint8_t*>(it->second.data()), it->second.size());
    if (!fn(k, v)) break;
  }
  return util::Ok();
}

uint64_t BytesOf(const MemKvDisk::State& state) {
  uint64_t n = 0;
  for (const auto& table : state) {
    for (const auto& [k, v] : table) n += k.size() + v.size();
  }
  return n;
}

}  // namespace

void MemKvDisk::Crash() {
  std::lock_guard lock(mu);
  committed = synced;
}

class MemKvStore::Read final : public ReadTxn {
 public:
  explicit Read(std::shared_ptr<const MemKvDisk::State> state) : state_(std::move(state)) {}
  Result<Bytes> Get(TableId table, ByteSpan key) override { return GetFrom(*state_, table, key); }
  Status Scan(TableId table, ByteSpan start,
              const std::function<bool(ByteSpan, ByteSpan)>& fn) override {
    return ScanFrom(*state_, table, start, fn);
  }

 private:
  std::shared_ptr<const MemKvDisk::State> state_;
};

class MemKvStore::Write final : public WriteTxn {
 public:
  Write(MemKvStore* store, std::unique_lock<std::mutex> writer)
      : store_(store), writer_(std::move(writer)), state_(*store->Snapshot()) {}
  ~Write() override { End(); }

  Result<Bytes> Get(TableId table, ByteSpan key) override {
    SHARDFS_TRY(CheckOpen());
    return GetFrom(state_, table, key);
  }
  Status Scan(TableId table, ByteSpan start,
              const std::function<bool(ByteSpan, ByteSpan)>& fn) override {
    SHARDFS_TRY(CheckOpen());
    return ScanFrom(state_, table, start, fn);
  }
  Status Put(TableId table, ByteSpan key, ByteSpan value) override {
    SHARDFS_TRY(CheckOpen());
    SHARDFS_TRY(CheckTable(state_, table));
    if (key.empty()) return MakeError(Errc::kInvalid, "empty key");
    auto& t = state_[table];
    const std::string k = Key(key);
    const uint64_t old = t.contains(k) ? k.size() + t[k].size() : 0;
    if (BytesOf(state_) - old + k.size() + value.size() > store_->capacity_) {
      End();  // aborted, as LMDB aborts a transaction that filled the map
      return MakeError(Errc::kNoSpace, "the store is full (map_size)");
    }
    t[k] = std::string(value.begin(), value.end());
    return util::Ok();
  }
  Status Delete(TableId table, ByteSpan key) override {
    SHARDFS_TRY(CheckOpen());
    SHARDFS_TRY(CheckTable(state_, table));
    state_[table].erase(Key(key));
    return util::Ok();
  }
  Status Commit() override {
    SHARDFS_TRY(CheckOpen());
    store_->Publish(std::make_shared<const MemKvDisk::State>(std::move(state_)));
    End();
    return util::Ok();
  }

 private:
  Status CheckOpen() const {
    if (!writer_.owns_lock()) return MakeError(Errc::kInvalid, "the transaction has ended");
    return util::Ok();
  }
  void End() {
    if (!writer_.owns_lock()) return;
    {
      std::lock_guard lock(store_->writer_id_mu_);
      store_->writer_thread_ = std::thread::id();
    }
    writer_.unlock();
  }

  MemKvStore* store_;
  std::unique_lock<std::mutex> writer_;
  MemKvDisk::State state_;
};

std::unique_ptr<MemKvStore> MemKvStore::Open(std::shared_ptr<MemKvDisk> disk, size_t tables,
                                             uint64_t capacity_bytes) {
  {
    std::lock_guard lock(disk->mu);
    if (!disk->committed) {
      disk->committed = std::make_shared<const MemKvDisk::State>(tables);
      disk->synced = disk->committed;
    }
  }
  return std::unique_ptr<MemKvStore>(new MemKvStore(std::move(disk), capacity_bytes));
}

std::shared_ptr<const MemKvDisk::State> MemKvStore::Snapshot() const {
  std::lock_guard lock(disk_->mu);
  return disk_->committed;
}

void MemKvStore::Publish(std::shared_ptr<const MemKvDisk::State> state) {
  std::lock_guard lock(disk_->mu);
  disk_->committed = std::move(state);
}

Result<std::unique_ptr<ReadTxn>> MemKvStore::BeginRead() {
  return std::unique_ptr<ReadTxn>(new Read(Snapshot()));
}

Result<std::unique_ptr<WriteTxn>> MemKvStore::BeginWrite() {
  {
    std::lock_guard lock(writer_id_mu_);
    if (writer_thread_ == std::this_thread::get_id()) {
      return MakeError(Errc::kInternal,
                       "a second write transaction on the thread that holds the writer");
    }
  }
  std::unique_lock<std::mutex> writer(writer_);
  {
    std::lock_guard lock(writer_id_mu_);
    writer_thread_ = std::this_thread::get_id();
  }
  return std::unique_ptr<WriteTxn>(new Write(this, std::move(writer)));
}

Status MemKvStore::Sync() {
  std::lock_guard lock(disk_->mu);
  disk_->synced = disk_->committed;
  return util::Ok();
}

uint64_t MemKvStore::FileBytes() const { return BytesOf(*Snapshot()); }

}  // namespace shardfs::cache::testing
