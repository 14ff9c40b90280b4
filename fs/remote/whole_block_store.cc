#include "fs/remote/whole_block_store.h"

namespace shardfs::remote {

util::Result<util::Bytes> WholeBlockStore::Put(std::string_view name, util::ByteSpan sealed) {
  SHARDFS_TRY(store_->Put(name, sealed));
  return util::Bytes{};
}

util::Result<util::Bytes> WholeBlockStore::PutFile(std::string_view name, const std::string& path,
                                                   uint64_t size) {
  SHARDFS_TRY(store_->PutFile(name, path, size));
  return util::Bytes{};
}

util::Result<util::Bytes> WholeBlockStore::Get(std::string_view name, util::ByteSpan location) {
  if (!location.empty()) {
    return util::MakeError(util::Errc::kCorrupt,
                           "a location record for a whole-block store must be empty");
  }
  return store_->Get(name);
}

util::Status WholeBlockStore::Delete(std::string_view name, util::ByteSpan) {
  return store_->Delete(name);
}

std::vector<NodeStatus> WholeBlockStore::Nodes() {
  NodeStatus n;
  n.name = "store";
  n.endpoint = store_->Describe();
  return {n};
}

}  // namespace shardfs::remote
