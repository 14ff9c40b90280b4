// The ShardStore contract (tests/remote/shard_store_contract.h) run against the local
// implementations; tests/s3 runs it against S3Store on real servers.
#include <gtest/gtest.h>

#include <memory>

#include "fs/remote/dir_store.h"
#include "fs/remote/shard_store.h"
#include "fs/remote/testing/faulty_store.h"
#include "fs/remote/testing/mem_store.h"
#include "tests/remote/shard_store_contract.h"
#include "tests/temp_dir.h"

namespace shardfs::remote {
namespace {

class DirHarness {
 public:
  static constexpr const char* kName = "DirStore";
  DirHarness() {
    auto opened = DirStore::Open(tmp_.path() + "/store");
    SHARDFS_CHECK(opened.ok(), "cannot open the DirStore under test");
    store_ = std::move(opened).value();
  }
  ShardStore& store() { return *store_; }

 private:
  testutil::TempDir tmp_;
  std::unique_ptr<DirStore> store_;
};

class MemHarness {
 public:
  static constexpr const char* kName = "MemStore";
  ShardStore& store() { return mem_; }

 private:
  testing::MemStore mem_;
};

class FaultlessHarness {
 public:
  static constexpr const char* kName = "FaultyStoreWithoutFaults";
  ShardStore& store() { return faulty_; }

 private:
  testing::MemStore mem_;
  testing::FaultyStore faulty_{&mem_, 42};
};

}  // namespace

// In the suite's namespace, where the macro looks up its registration.
namespace contract {
using LocalHarnesses = ::testing::Types<DirHarness, MemHarness, FaultlessHarness>;
INSTANTIATE_TYPED_TEST_SUITE_P(Local, ShardStoreContractTest, LocalHarnesses, HarnessNames);
}  // namespace contract

}  // namespace shardfs::remote
