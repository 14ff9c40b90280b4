// shardfs-node's config loading and the key/bucket name rules, in-process.
#include <gtest/gtest.h>

#include <fstream>

#include "node/config.h"
#include "node/object_file.h"

namespace shardfs::node {
namespace {

std::string WriteTemp(const std::string& text) {
  std::string path = ::testing::TempDir() + "/node-config-test.json";
  std::ofstream(path) << text;
  return path;
}

TEST(NodeConfig, LoadsAFullConfig) {
  auto c = LoadConfig(WriteTemp(
      R"({"listen":"[::1]:9100","data":"/d","region":"eu-1","threads":2,"log_level":"warn",
          "max_object_bytes":"1G","keys":[{"access_key":"AK","secret_key":"S","quota":"2M"}]})"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->listen, "[::1]:9100");
  EXPECT_EQ(c->keys[0].quota_bytes, 2u << 20);
  EXPECT_EQ(c->max_object_bytes, 1u << 30);
  EXPECT_TRUE(ValidateConfig(*c).ok());
  auto a = ParseListen(c->listen);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 9100);
}

TEST(NodeConfig, AllowsComments) {
  auto c = LoadConfig(WriteTemp(R"(// a node
{
  "data": "/d",  /* where shards live */
  // "listen": "0.0.0.0:9000",
  "keys": [{"access_key": "AK", "secret_key": "S"}]
})"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->data, "/d");
  EXPECT_EQ(c->listen, "127.0.0.1:9000");
  EXPECT_TRUE(ValidateConfig(*c).ok());
  EXPECT_FALSE(LoadConfig(WriteTemp(R"({"data": "/d" /* unterminated)")).ok());
}

TEST(NodeConfig, RejectsUnknownKeysAndBadValues) {
  auto c = LoadConfig(WriteTemp(R"({"data":"/d","colour":"red"})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("unknown key 'colour'"), std::string::npos);
  c = LoadConfig(WriteTemp(R"({"keys":[{"access_key":"A","secret_key":"S","extra":1}]})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("keys[0].extra"), std::string::npos);
  EXPECT_FALSE(LoadConfig(WriteTemp(R"({"threads":0})")).ok());
  EXPECT_FALSE(LoadConfig(WriteTemp(R"({"keys":[{"access_key":"A/B","secret_key":"S"}]})")).ok());
  EXPECT_FALSE(LoadConfig(WriteTemp("not json")).ok());
  EXPECT_EQ(LoadConfig("/nonexistent/x.json").code(), util::Errc::kNotFound);
  NodeConfig empty;
  EXPECT_FALSE(ValidateConfig(empty).ok());  // no data, no keys
  EXPECT_FALSE(ParseListen("9000").ok());
  EXPECT_FALSE(ParseListen("host:99999").ok());
}

TEST(NodeNames, BucketAndKeyRules) {
  EXPECT_TRUE(ValidateBucketName("my-bucket.1").ok());
  for (const char* bad :
       {"ab", "_shardfs", "Upper", "a..b", "-ab", "ab-", "192.168.1.1", "a/b", "../x"}) {
    EXPECT_FALSE(ValidateBucketName(bad).ok()) << bad;
  }
  EXPECT_TRUE(ValidateKey("dir/a b+c/\xE1\x88\xB4.txt").ok());
  for (std::string bad :
       {std::string(""), std::string("/abs"), std::string("a/../b"), std::string(".."),
        std::string("./x"), std::string("a\0b", 3), std::string("tab\there"), std::string("\xff"),
        std::string("\xC0\xAF"), std::string(1025, 'k')}) {
    EXPECT_FALSE(ValidateKey(bad).ok()) << bad;
  }
  EXPECT_EQ(KeyFileName("x").size(), 70u);
  EXPECT_EQ(KeyFileName("x").substr(0, 6), "2d/71/");
}

TEST(NodeObjectHeader, RoundTripsAndRejectsGarbage) {
  ObjectHeader h{12345, 1700000000000, {}, "some/key", "AK1"};
  h.md5[0] = 0xab;
  util::Bytes b = EncodeHeader(h);
  size_t len = 0;
  auto d = DecodeHeader(b, &len);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(len, b.size());
  EXPECT_EQ(d->key, "some/key");
  EXPECT_EQ(d->owner, "AK1");
  EXPECT_EQ(d->size, 12345u);
  EXPECT_EQ(d->md5[0], 0xab);
  for (size_t n = 0; n < b.size(); ++n) {
    EXPECT_FALSE(DecodeHeader(util::ByteSpan(b.data(), n), &len).ok());
  }
  b[0] = 'X';
  EXPECT_EQ(DecodeHeader(b, &len).code(), util::Errc::kCorrupt);
}

}  // namespace
}  // namespace shardfs::node
