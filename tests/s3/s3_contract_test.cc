// The ShardStore contract run against S3Store on real servers: Ceph RGW and shardfs-node. Each
// test gets a fresh bucket (and, on the node, an access key of its own, since the node counts
// usage per key).
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "fs/remote/s3_store.h"
#include "tests/remote/shard_store_contract.h"
#include "tests/s3/servers.h"

namespace shardfs::remote {
namespace {

template <const testing::ServerInfo& (*kServer)()>
class ServerHarness {
 public:
  std::string SkipReason() {
    const testing::ServerInfo& server = kServer();
    if (!server.skip_reason.empty()) return server.skip_reason;
    if (!server.error.empty()) {
      ADD_FAILURE() << server.error;
      return "server failed to start";
    }
    static std::atomic<int> next_key{0};
    store_ = testing::OpenFreshStore(server, next_key++ % testing::kNodeKeys);
    return store_ ? "" : "no store";
  }
  ShardStore& store() { return *store_; }

 private:
  std::unique_ptr<S3Store> store_;
};

struct RgwHarness : ServerHarness<testing::Rgw> {
  static constexpr const char* kName = "S3StoreOnCephRgw";
};
struct NodeHarness : ServerHarness<testing::Node> {
  static constexpr const char* kName = "S3StoreOnShardfsNode";
};

}  // namespace

// In the suite's namespace, where the macro looks up its registration.
namespace contract {
using S3Harnesses = ::testing::Types<RgwHarness, NodeHarness>;
INSTANTIATE_TYPED_TEST_SUITE_P(S3, ShardStoreContractTest, S3Harnesses, HarnessNames);
}  // namespace contract

}  // namespace shardfs::remote
