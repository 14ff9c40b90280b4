// A CoreFs over real LMDB and block-cache directories in a temporary folder and an in-memory
// store the test can inspect and break (FaultyStore over MemStore). Remount() closes and
// reopens the filesystem over the same state, as an unmount and mount would. Test-only.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "fs/cache/block_cache.h"
#include "fs/core_fs.h"
#include "fs/crypto/keys.h"
#include "fs/meta_store.h"
#include "fs/remote/testing/faulty_store.h"
#include "fs/remote/testing/mem_store.h"
#include "fs/remote/whole_block_store.h"
#include "fs/util/files.h"

namespace shardfs::core {

class CoreFsHarness {
 public:
  explicit CoreFsHarness(uint64_t block_size = 4096, uint64_t cache_size = 1 << 20,
                         uint64_t memory_budget = 1 << 20)
      : block_size_(block_size), cache_size_(cache_size), memory_budget_(memory_budget) {
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
    auto faulty = std::make_unique<remote::testing::FaultyStore>(&mem_);
    faulty_ = faulty.get();
    CoreFs::Deps deps;
    deps.config.name = "test";
    deps.config.block_size = block_size_;
    deps.config.cache_size = cache_size_;
    deps.keys = std::move(keys).value();
    deps.meta = std::move(meta).value();
    deps.cache = std::move(cache).value();
    deps.store = std::make_unique<remote::WholeBlockStore>(std::move(faulty));
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
  const std::string& dir() const { return dir_; }
  uint64_t block_size() const { return block_size_; }

 private:
  uint64_t block_size_, cache_size_, memory_budget_;
  std::string dir_;
  util::SecretBytes keys_seed_;
  remote::testing::MemStore mem_;
  remote::testing::FaultyStore* faulty_ = nullptr;
  std::unique_ptr<CoreFs> fs_;
};

inline Caller RootCaller() { return Caller{0, 0, 022, {}}; }

}  // namespace shardfs::core
