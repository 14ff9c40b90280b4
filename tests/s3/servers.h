// Real S3 servers for s3_test, each started at most once per test process, on first use, and
// stopped when the process's tests end (a gtest Environment):
//   Ceph RGW   by tests/fixtures/ceph-rgw.sh, or the one named by $SHARDFS_TEST_RGW_ENV (the
//              env file of a cluster ctest started once for all of s3_test's processes);
//   shardfs-node  the binary from this build tree, on a free port, with kNodeKeys access keys
//              (usage is counted per key, so each store under test gets a key of its own).
// A server that cannot run here (binaries missing) has a skip_reason; one that fails to start
// fails the test that asked for it. Thread-safe (first use is serialized).
#pragma once

#include <memory>
#include <string>

#include "fs/remote/s3_store.h"

namespace shardfs::remote::testing {

struct ServerInfo {
  std::string name;         // "CephRgw", "ShardfsNode"
  std::string endpoint;     // http://127.0.0.1:PORT
  std::string skip_reason;  // non-empty: not available here, say why
  std::string error;        // non-empty: should be available but failed to start
};

const ServerInfo& Rgw();
const ServerInfo& Node();

inline constexpr int kNodeKeys = 64;
// Access key i (0 <= i < kNodeKeys) of the node; i == kNodeKeys is a key with a 1 MiB quota.
std::string NodeAccessKey(int i);
std::string NodeSecretKey(int i);
inline constexpr uint64_t kNodeQuotaBytes = 1 << 20;

// Options for a store on server's bucket with its credentials (for the node: key key_index).
S3Options StoreOptions(const ServerInfo& server, const std::string& bucket, int key_index = 0);
// A fresh bucket name, unique within this process and across processes.
std::string UniqueBucket(std::string_view prefix);
// Opens a store on a new bucket (created); nullptr with a gtest failure if that fails.
std::unique_ptr<S3Store> OpenFreshStore(const ServerInfo& server, int key_index = 0);

}  // namespace shardfs::remote::testing
