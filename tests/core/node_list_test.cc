// Node lists (nodes.conf) and drive configs of version 2 (store "nodes"): parsing, validation
// with errors naming the node and the key, and the v2 golden file
// (tests/data/golden/config-v2.json; SHARDFS_UPDATE_GOLDEN=1 rewrites it).
#include "fs/core/node_list.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "fs/core/drive_config.h"
#include "fs/util/files.h"

namespace shardfs::core {
namespace {

std::vector<NodeSpec> SixNodes() {
  std::vector<NodeSpec> nodes;
  for (int i = 1; i <= 5; ++i) {
    NodeSpec n;
    n.id = "node" + std::to_string(i);
    n.endpoint = "http://127.0.0.1:" + std::to_string(9000 + i);
    n.bucket = "shardfs";
    n.access_key = "AK" + std::to_string(i);
    n.secret_key = "secret-" + std::to_string(i);
    n.zone = i % 2 ? "a" : "b";
    nodes.push_back(n);
  }
  NodeSpec local;
  local.id = "nas";
  local.endpoint = "dir:/mnt/nas/shardfs";
  local.region.clear();
  nodes.push_back(local);
  return nodes;
}

DriveConfig SampleV2() {
  DriveConfig c;
  c.name = "photos";
  c.drive_id = "0123456789abcdef0123456789abcdef";
  c.created = "2026-11-21T12:00:00Z";
  c.block_size = 4u << 20;
  c.erasure = {4, 2};
  c.store = {StoreSpec::Kind::kNodes, ""};
  c.nodes = SixNodes();
  c.cache_dir = "/home/ana/.cache/shardfs/photos";
  c.cache_size = 32u << 20;
  return c;
}

TEST(NodeListTest, RoundTrips) {
  auto parsed = ParseNodeList(SerializeNodeList(SixNodes()), "nodes.conf");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, SixNodes());
}

TEST(NodeListTest, RejectsBadListsNamingTheNodeAndKey) {
  const std::string good = SerializeNodeList(SixNodes());
  struct Case {
    std::string from, to, message_part;
  };
  const std::vector<Case> cases = {
      {"\"id\": \"node2\"", "\"id\": \"node1\"", "two nodes have the id 'node1'"},
      {"\"id\": \"node2\"", "\"id\": \"Node 2\"", "'id' must be"},
      {"\"access_key\": \"AK3\"", "\"acces_key\": \"AK3\"", "node #3: unknown key 'acces_key'"},
      {"\"secret_key\": \"secret-4\",", "", "node #4: 'secret_key' is missing"},
      {"http://127.0.0.1:9005", "ftp://127.0.0.1:9005", "endpoint 'ftp://127.0.0.1:9005'"},
      {"http://127.0.0.1:9005", "http://127.0.0.1:9005/x", "is not valid"},
      {"dir:/mnt/nas/shardfs", "dir:relative", "absolute directory"},
      {"\"bucket\": \"shardfs\"", "\"bucket\": \"Bad_Bucket\"", "bucket 'Bad_Bucket'"},
      {"\"format\": \"shardfs-nodes\"", "\"format\": \"other\"", "'format'"},
      {"\"version\": 1", "\"version\": 7", "upgrade shardfs"},
      {"\"nodes\": [", "\"nodez\": [", "unknown key 'nodez'"},
  };
  for (const Case& c : cases) {
    std::string text = good;
    size_t at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    auto r = ParseNodeList(text, "nodes.conf");
    ASSERT_FALSE(r.ok()) << "accepted: " << c.to;
    EXPECT_NE(r.error().message.find(c.message_part), std::string::npos)
        << r.error().message << " (wanted: " << c.message_part << ")";
    EXPECT_NE(r.error().message.find("nodes.conf"), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(ParseNodeList("not json", "x").ok());
  EXPECT_FALSE(ParseNodeList(R"({"format":"shardfs-nodes","version":1,"nodes":[]})", "x").ok());
}

std::string GoldenV2() { return std::string(SHARDFS_TEST_DATA_DIR) + "/golden/config-v2.json"; }

TEST(DriveConfigV2GoldenTest, SerializationIsStable) {
  std::string text = SerializeDriveConfig(SampleV2());
  if (const char* u = std::getenv("SHARDFS_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    ASSERT_TRUE(util::WriteFileAtomic(GoldenV2(), util::AsBytes(text), 0644).ok());
  }
  auto golden = util::ReadFile(GoldenV2(), 1 << 20);
  ASSERT_TRUE(golden.ok()) << golden.error().message;
  EXPECT_EQ(util::AsStringView(*golden), text)
      << "the drive config format changed: bump kDriveConfigVersion and docs/config.md";
  auto parsed = ParseDriveConfig(util::AsStringView(*golden), "golden");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, SampleV2());
}

TEST(DriveConfigV2Test, NeedsEnoughNodesForTheCode) {
  DriveConfig c = SampleV2();
  c.nodes.resize(5);
  auto r = ParseDriveConfig(SerializeDriveConfig(c), "config.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("4+2 puts 6 shards"), std::string::npos) << r.error().message;
  c.erasure = {3, 2};
  EXPECT_TRUE(ParseDriveConfig(SerializeDriveConfig(c), "config.json").ok());
}

TEST(DriveConfigV2Test, NodesOnlyWithVersionTwoAndStoreNodes) {
  std::string text = SerializeDriveConfig(SampleV2());
  std::string v1 = text;
  v1.replace(v1.find("\"version\": 2"), 12, "\"version\": 1");
  auto r = ParseDriveConfig(v1, "c");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'nodes' needs version 2"), std::string::npos);
  std::string dir = text;
  dir.replace(dir.find("\"store\": \"nodes\""), 16, "\"store\": \"dir:/srv/x\"");
  r = ParseDriveConfig(dir, "c");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("takes no 'nodes'"), std::string::npos) << r.error().message;
  std::string none = text;
  size_t a = none.find("  \"nodes\": [");
  size_t b = none.find("  \"cache_dir\"");
  none.erase(a, b - a);
  EXPECT_FALSE(ParseDriveConfig(none, "c").ok());
}

}  // namespace
}  // namespace shardfs::core
