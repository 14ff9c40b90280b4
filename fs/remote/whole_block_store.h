// WholeBlockStore: a BlockStore that keeps each block whole, as one object under its own name,
// in a single ShardStore (a `dir:` drive: one local directory, no erasure coding). Its
// location records are empty: the name says everything. Thread-safe if the store is.
#pragma once

#include <memory>

#include "fs/remote/block_store.h"

namespace shardfs::remote {

class WholeBlockStore final : public BlockStore {
 public:
  explicit WholeBlockStore(std::unique_ptr<ShardStore> store) : store_(std::move(store)) {}

  util::Result<util::Bytes> Put(std::string_view name, util::ByteSpan sealed) override;
  util::Result<util::Bytes> PutFile(std::string_view name, const std::string& path,
                                    uint64_t size) override;
  util::Result<util::Bytes> Get(std::string_view name, util::ByteSpan location) override;
  util::Status Delete(std::string_view name, util::ByteSpan location) override;
  util::Result<StoreUsage> Usage() override { return store_->Usage(); }
  std::vector<NodeStatus> Nodes() override;
  std::string Describe() const override { return store_->Describe(); }

 private:
  std::unique_ptr<ShardStore> store_;
};

}  // namespace shardfs::remote
