// Drive config: parsing, validation, and the v1 golden file (tests/data/golden/config-v1.json).
// SHARDFS_UPDATE_GOLDEN=1 rewrites the golden file after an intended format change (and the
// format's version must be bumped with it: see docs/config.md).
#include "fs/core/drive_config.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "fs/util/files.h"

namespace shardfs::core {
namespace {

DriveConfig Sample() {
  DriveConfig c;
  c.name = "photos";
  c.drive_id = "0123456789abcdef0123456789abcdef";
  c.created = "2026-11-21T12:00:00Z";
  c.block_size = 4u << 20;
  c.erasure = {4, 2};
  c.store = {StoreSpec::Kind::kDir, "/srv/shardfs/photos"};
  c.cache_dir = "/home/ana/.cache/shardfs/photos";
  c.cache_size = 32u << 20;
  return c;
}

std::string Golden() { return std::string(SHARDFS_TEST_DATA_DIR) + "/golden/config-v1.json"; }

TEST(DriveConfigGoldenTest, SerializationIsStable) {
  std::string text = SerializeDriveConfig(Sample());
  if (const char* u = std::getenv("SHARDFS_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    ASSERT_TRUE(util::WriteFileAtomic(Golden(), util::AsBytes(text), 0644).ok());
  }
  auto golden = util::ReadFile(Golden(), 1 << 20);
  ASSERT_TRUE(golden.ok()) << golden.error().message;
  EXPECT_EQ(util::AsStringView(*golden), text)
      << "the drive config format changed: bump kDriveConfigVersion and docs/config.md";
  auto parsed = ParseDriveConfig(util::AsStringView(*golden), "golden");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, Sample());
}

TEST(DriveConfigTest, RoundTripsOtherValues) {
  DriveConfig c = Sample();
  c.block_size = 64u << 10;
  c.erasure = {1, 2};
  c.cache_size = (3u << 30) + 4096;
  c.quota = uint64_t{5} << 40;
  EXPECT_NE(SerializeDriveConfig(c).find("\"quota\": \"5T\""), std::string::npos);
  auto parsed = ParseDriveConfig(SerializeDriveConfig(c), "x");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, c);
}

struct BadCase {
  std::string from, to;  // replace `from` in the serialized sample with `to`
  util::Errc code;
  std::string message_part;
};

TEST(DriveConfigTest, RejectsBadFilesNamingTheProblem) {
  const std::vector<BadCase> cases = {
      {"\"version\": 1", "\"version\": 3", util::Errc::kUnsupported, "upgrade shardfs"},
      {"\"version\": 1", "\"version\": \"1\"", util::Errc::kInvalid, "'version'"},
      {"\"cache_size\"", "\"cache_sise\"", util::Errc::kInvalid, "unknown key 'cache_sise'"},
      {"\"block_size\": \"4M\"", "\"block_size\": \"3M\"", util::Errc::kInvalid, "power of two"},
      {"\"block_size\": \"4M\"", "\"block_size\": \"lots\"", util::Errc::kInvalid, "'block_size'"},
      {"\"4+2\"", "\"0+2\"", util::Errc::kInvalid, "K must be at least 1"},
      {"\"4+2\"", "\"30+3\"", util::Errc::kInvalid, "at most 32"},
      {"dir:/srv", "s3:/srv", util::Errc::kInvalid, "dir:PATH"},
      {"dir:/srv/shardfs/photos", "dir:relative", util::Errc::kInvalid, "absolute"},
      {"\"name\": \"photos\"", "\"name\": \"../x\"", util::Errc::kInvalid, "drive name"},
      {"0123456789abcdef0123456789abcdef", "xyz", util::Errc::kInvalid, "drive_id"},
      {"\"cache_size\": \"32M\"", "\"cache_size\": \"8M\"", util::Errc::kInvalid,
       "at least four blocks"},
      {"\"format\": \"shardfs-drive\",", "", util::Errc::kInvalid, "'format' is missing"},
      {"\"cache_size\": \"32M\"", "\"cache_size\": \"32M\", \"quota\": \"1M\"",
       util::Errc::kInvalid, "quota 1M is too small"},
      {"\"cache_size\": \"32M\"", "\"cache_size\": \"32M\", \"quota\": \"many\"",
       util::Errc::kInvalid, "'quota'"},
      {"{", "[", util::Errc::kCorrupt, "not a valid drive configuration"},
  };
  std::string good = SerializeDriveConfig(Sample());
  for (const auto& bc : cases) {
    std::string text = good;
    size_t at = text.find(bc.from);
    ASSERT_NE(at, std::string::npos) << bc.from;
    text.replace(at, bc.from.size(), bc.to);
    auto r = ParseDriveConfig(text, "/etc/x.json");
    ASSERT_FALSE(r.ok()) << "accepted: " << text;
    EXPECT_EQ(r.code(), bc.code) << r.error().message;
    EXPECT_NE(r.error().message.find(bc.message_part), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("/etc/x.json"), std::string::npos) << r.error().message;
  }
}

TEST(DriveConfigTest, TruncatedFilesNeverParse) {
  std::string good = SerializeDriveConfig(Sample());
  for (size_t n = 0; n < good.size() - 2; ++n) {
    EXPECT_FALSE(ParseDriveConfig(good.substr(0, n), "t").ok()) << n;
  }
}

TEST(ErasureCodingTest, Parse) {
  EXPECT_EQ(*ErasureCoding::Parse("4+2"), (ErasureCoding{4, 2}));
  EXPECT_EQ(*ErasureCoding::Parse("1+2"), (ErasureCoding{1, 2}));
  EXPECT_EQ(*ErasureCoding::Parse("10+0"), (ErasureCoding{10, 0}));
  for (const char* bad : {"", "4", "4+", "+2", "a+b", "4+-2", "4 + 2", "0+1", "20+20", "9999+1"}) {
    auto r = ErasureCoding::Parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("K+M"), std::string::npos);
    }
  }
}

TEST(StoreSpecTest, Parse) {
  auto s = StoreSpec::Parse("dir:/srv/x/");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->path, "/srv/x");
  EXPECT_EQ(s->ToString(), "dir:/srv/x");
  EXPECT_FALSE(StoreSpec::Parse("dir:").ok());
  EXPECT_FALSE(StoreSpec::Parse("/srv/x").ok());
  EXPECT_FALSE(StoreSpec::Parse("http://x").ok());
}

TEST(DriveNameTest, Validation) {
  for (const char* ok : {"a", "photos", "my-drive_2.0", "A1"}) {
    EXPECT_TRUE(ValidateDriveName(ok).ok()) << ok;
  }
  for (const char* bad : {"", ".hidden", "-x", "a/b", "..", "a b", "ü",
                          "0123456789012345678901234567890123456789012345678901234567890123x"}) {
    EXPECT_FALSE(ValidateDriveName(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace shardfs::core
