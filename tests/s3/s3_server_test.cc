// S3Store against the real servers beyond the ShardStore contract: credentials, buckets,
// probes, quotas, and a 4 MiB Put/Get throughput figure.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "fs/remote/s3_store.h"
#include "tests/s3/servers.h"

namespace shardfs::remote {
namespace {

using testing::ServerInfo;
using util::Errc;

using ServerFn = const ServerInfo& (*)();

class S3ServerTest : public ::testing::TestWithParam<ServerFn> {
 protected:
  void SetUp() override {
    const ServerInfo& s = GetParam()();
    if (!s.skip_reason.empty()) GTEST_SKIP() << s.skip_reason;
    ASSERT_TRUE(s.error.empty()) << s.error;
    server_ = &s;
  }
  const ServerInfo& server() const { return *server_; }

 private:
  const ServerInfo* server_ = nullptr;
};

TEST_P(S3ServerTest, WrongSecretIsRefusedNamingTheNode) {
  auto good = testing::OpenFreshStore(server());
  ASSERT_NE(good, nullptr);
  S3Options o = testing::StoreOptions(server(), "any-bucket");
  o.secret_key = util::SecretBytes::CopyOf("not-the-secret");
  auto store = S3Store::Open(std::move(o));
  ASSERT_TRUE(store.ok());
  for (auto status : {(*store)->Put("obj", util::AsBytes("x")), (*store)->Probe()}) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), Errc::kPermission) << status.error().message;
    EXPECT_NE(status.error().message.find("node " + server().endpoint), std::string::npos)
        << status.error().message;
    EXPECT_NE(status.error().message.find("403"), std::string::npos) << status.error().message;
  }
  EXPECT_EQ((*store)->stats().retries, 0u);
}

TEST_P(S3ServerTest, ProbeAndCreateBucket) {
  auto store = S3Store::Open(testing::StoreOptions(server(), testing::UniqueBucket("probe")));
  ASSERT_TRUE(store.ok());
  auto missing = (*store)->Probe();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), Errc::kNotFound);
  EXPECT_NE(missing.error().message.find("has no bucket"), std::string::npos)
      << missing.error().message;
  EXPECT_EQ((*store)->Put("obj", util::AsBytes("x")).code(), Errc::kNotFound);
  ASSERT_TRUE((*store)->CreateBucketIfMissing().ok());
  auto again = (*store)->CreateBucketIfMissing();
  EXPECT_TRUE(again.ok()) << again.error().message;
  auto probe = (*store)->Probe();
  EXPECT_TRUE(probe.ok()) << probe.error().message;
  auto node = (*store)->IsShardfsNode();
  ASSERT_TRUE(node.ok()) << node.error().message;
  EXPECT_EQ(*node, server().name == "ShardfsNode");
}

TEST_P(S3ServerTest, Throughput4MiB) {
  auto store = testing::OpenFreshStore(server());
  ASSERT_NE(store, nullptr);
  util::Bytes block(4 << 20);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<uint8_t>(i * 7 + (i >> 12));
  constexpr int kRounds = 12;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_TRUE(store->Put("b" + std::to_string(i), block).ok());
  }
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    auto got = store->Get("b" + std::to_string(i));
    ASSERT_TRUE(got.ok()) << got.error().message;
    ASSERT_EQ(got->size(), block.size());
  }
  auto t2 = std::chrono::steady_clock::now();
  auto mbps = [](std::chrono::steady_clock::duration d) {
    return kRounds * 4.0 / std::chrono::duration<double>(d).count();
  };
  std::printf("[ %s ] 4 MiB Put %.0f MiB/s, Get %.0f MiB/s (one thread, %d objects)\n",
              server().name.c_str(), mbps(t1 - t0), mbps(t2 - t1), kRounds);
}

INSTANTIATE_TEST_SUITE_P(Servers, S3ServerTest, ::testing::Values(&testing::Rgw, &testing::Node),
                         [](const ::testing::TestParamInfo<ServerFn>& param) {
                           return param.param == &testing::Rgw ? std::string("CephRgw")
                                                               : std::string("ShardfsNode");
                         });

TEST(S3NodeTest, QuotaIsNoSpaceAndShowsAsCapacity) {
  const ServerInfo& node = testing::Node();
  if (!node.skip_reason.empty()) GTEST_SKIP() << node.skip_reason;
  ASSERT_TRUE(node.error.empty()) << node.error;
  auto store = testing::OpenFreshStore(node, testing::kNodeKeys);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put("small", util::Bytes(1000)).ok());
  auto full = store->Put("big", util::Bytes(testing::kNodeQuotaBytes));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.code(), Errc::kNoSpace) << full.error().message;
  auto usage = store->Usage();
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->capacity_bytes, testing::kNodeQuotaBytes);
  EXPECT_EQ(usage->used_bytes, 1000u);
  EXPECT_EQ(usage->available_bytes, testing::kNodeQuotaBytes - 1000);
}

}  // namespace
}  // namespace shardfs::remote
