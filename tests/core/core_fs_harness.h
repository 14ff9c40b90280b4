// A CoreFs over real LMDB and block-cache directories in a temporary folder and an in-memory
// store the test can inspect and break (FaultyStore over MemStore), a DirStore (dir_store), or,
// with erasure_nodes > 0, an ErasureStore (4+2 when there are 6) over that many such stores.
// Remount() closes and reopens the filesystem over the same state, as an unmount and mount
// would. Test-only.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "fs/cache/block_cache.h"
#include "fs/core/core_fs.h"
#include "fs/core/meta_store.h"
#include "fs/crypto/keys.h"
#include "fs/remote/dir_store.h"
#include "fs/remote/erasure_store.h"
#include "fs/remote/testing/faulty_store.h"
#include "fs/remote/testing/mem_store.h"
#include "fs/remote/whole_block_store.h"
#include "fs/util/files.h"

namespace shardfs::core {

class CoreFsHarness {
 public:
  explicit CoreFsHarness(uint64_t block_size = 4096, uint64_t cache_size = 1 << 20,
                         uint64_t memory_budget = 1 << 20, int erasure_nodes = 0)
      : block_size_(block_size),
        cache_size_(cache_size),
        memory_budget_(memory_budget),
        node_mems_(static_cast<size_t>(erasure_nodes)) {
    char tmpl[] = "/tmp/shardfs-corefs-XXXXXX";
    dir_ = mkdtemp(tmpl);
    util::SecretBytes seed(64);
    for (size_t i = 0; i < 64; ++i) seed.data()[i] = static_cast<uint8_t>(i * 7);
    keys_seed_ = std::move(seed);
  }
  ~CoreFsHarness() {
    fs_.reset();
    (void)util::RemoveTree(dir_);
  }

  util::Status Mount() {
    auto keys = crypto::DeriveDriveKeys(keys_seed_);
    if (!keys.ok()) return keys.error();
    auto meta = MetaStore::Open(dir_ + "/cache/meta", keys->metadata, keys->entry_names);
    if (!meta.ok()) return meta.error();
    auto cache = cache::BlockCache::Open({dir_ + "/cache/blocks", cache_size_});
    if (!cache.ok()) return cache.error();
    faulty_ = nullptr;
    std::unique_ptr<remote::BlockStore> block_store;
    std::vector<std::unique_ptr<remote::ShardStore>> node_stores;
    if (!dir_store.empty()) {
      auto dir = remote::DirStore::Open(dir_store);
      if (!dir.ok()) return dir.error();
      block_store = std::make_unique<remote::WholeBlockStore>(std::move(dir).value());
    } else if (node_mems_.empty()) {
      auto faulty = std::make_unique<remote::testing::FaultyStore>(&mem_);
      faulty_ = faulty.get();
      block_store = std::make_unique<remote::WholeBlockStore>(std::move(faulty));
    } else {
      std::vector<remote::ErasureNode> nodes;
      node_faults_.clear();
      for (size_t i = 0; i < node_mems_.size(); ++i) {
        auto f = std::make_unique<remote::testing::FaultyStore>(&node_mems_[i], i + 1);
        node_faults_.push_back(f.get());
        nodes.push_back({"node" + std::to_string(i + 1), f.get()});
        node_stores.push_back(std::move(f));
      }
      remote::ErasureOptions o;
      o.k = static_cast<int>(node_mems_.size()) - 2;
      o.m = 2;
      o.shard_name = [](std::string_view block, int i) {
        return std::string(block) + "-" + std::to_string(i);
      };
      auto es = remote::ErasureStore::Create(std::move(nodes), std::move(o));
      if (!es.ok()) return es.error();
      block_store = std::move(es).value();
    }
    CoreFs::Deps deps;
    deps.config.name = "test";
    deps.config.block_size = block_size_;
    deps.config.cache_size = cache_size_;
    deps.config.quota = quota;
    deps.keys = std::move(keys).value();
    deps.meta = std::move(meta).value();
    deps.cache = std::move(cache).value();
    deps.node_stores = std::move(node_stores);
    deps.store = std::move(block_store);
    deps.clock = std::make_shared<util::SystemClock>();
    deps.options.memory_budget_bytes = memory_budget_;
    deps.root_uid = 0;
    auto fs = CoreFs::Open(std::move(deps));
    if (!fs.ok()) return fs.error();
    fs_ = std::move(fs).value();
    return util::Ok();
  }
  void Unmount() {
    if (fs_) {
      EXPECT_TRUE(fs_->Shutdown().ok());
    }
    fs_.reset();
    faulty_ = nullptr;
    node_faults_.clear();
  }
  void Remount() {
    Unmount();
    ASSERT_TRUE(Mount().ok());
  }
  // Drops the whole local block cache, so every block must come back from the store.
  void WipeCache() { ASSERT_TRUE(util::RemoveTree(dir_ + "/cache/blocks").ok()); }

  CoreFs& fs() { return *fs_; }
  remote::testing::MemStore& store() { return mem_; }
  remote::testing::FaultyStore& faults() { return *faulty_; }
  // Erasure mode: node i's fault injector and its objects.
  remote::testing::FaultyStore& node_faults(size_t i) { return *node_faults_.at(i); }
  remote::testing::MemStore& node_store(size_t i) { return node_mems_.at(i); }
  const std::string& dir() const { return dir_; }
  uint64_t block_size() const { return block_size_; }

  uint64_t quota = 0;  // the drive config's quota at the next Mount
  // When set, the next Mount stores blocks in a DirStore there instead of in memory.
  std::string dir_store;

 private:
  uint64_t block_size_, cache_size_, memory_budget_;
  std::string dir_;
  util::SecretBytes keys_seed_;
  remote::testing::MemStore mem_;
  remote::testing::FaultyStore* faulty_ = nullptr;
  std::vector<remote::testing::MemStore> node_mems_;
  std::vector<remote::testing::FaultyStore*> node_faults_;
  std::unique_ptr<CoreFs> fs_;
};

inline Caller RootCaller() { return Caller{0, 0, 022, {}}; }

}  // namespace shardfs::core
