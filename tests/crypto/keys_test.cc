#include "fs/crypto/keys.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <string>

#include "fs/util/encoding.h"

namespace shardfs::crypto {
namespace {

util::SecretBytes TestSeed(uint8_t first = 0) {
  util::SecretBytes seed(64);
  std::iota(seed.data(), seed.data() + seed.size(), first);
  return seed;
}

// Pinned with an independent HKDF (Python hmac/hashlib, RFC 5869 by hand) for seed 00..3f:
// a change here changes every existing drive's keys, so it must be a deliberate format change.
TEST(KeysTest, KnownAnswer) {
  auto metadata = DeriveKey(TestSeed(), kLabelMetadata);
  ASSERT_TRUE(metadata.ok()) << metadata.error().message;
  EXPECT_EQ(util::ToHex(metadata->span()),
            "ef08f6952e6ac1554952be868853eab0bd9ed3d29612b1b9fdd15747e8a3e321");

  auto keys = DeriveDriveKeys(TestSeed());
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(util::ToHex(keys->drive_id), "7ad611ed230c7202a30a696b1aa693d2");
  EXPECT_TRUE(keys->metadata == *metadata);
}

TEST(KeysTest, Deterministic) {
  auto a = DeriveDriveKeys(TestSeed());
  auto b = DeriveDriveKeys(TestSeed());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->metadata == b->metadata);
  EXPECT_TRUE(a->object_names == b->object_names);
  EXPECT_TRUE(a->entry_names == b->entry_names);
  EXPECT_TRUE(a->journal == b->journal);
  EXPECT_EQ(a->drive_id, b->drive_id);
}

TEST(KeysTest, SizesAndDistinctPerLabel) {
  auto keys = DeriveDriveKeys(TestSeed());
  ASSERT_TRUE(keys.ok());
  std::set<std::string> seen;
  for (const util::SecretBytes* k :
       {&keys->metadata, &keys->object_names, &keys->entry_names, &keys->journal}) {
    EXPECT_EQ(k->size(), 32u);
    seen.insert(util::ToHex(k->span()));
  }
  EXPECT_EQ(keys->drive_id.size(), kDriveIdBytes);
  seen.insert(util::ToHex(keys->drive_id));
  EXPECT_EQ(seen.size(), 5u);

  // Each field is the key for its own label.
  auto object_names = DeriveKey(TestSeed(), kLabelObjectNames);
  auto entry_names = DeriveKey(TestSeed(), kLabelEntryNames);
  auto journal = DeriveKey(TestSeed(), kLabelJournal);
  auto drive_id = DeriveKey(TestSeed(), kLabelDriveId);
  ASSERT_TRUE(object_names.ok() && entry_names.ok() && journal.ok() && drive_id.ok());
  EXPECT_TRUE(keys->object_names == *object_names);
  EXPECT_TRUE(keys->entry_names == *entry_names);
  EXPECT_TRUE(keys->journal == *journal);
  EXPECT_EQ(util::ToHex(keys->drive_id), util::ToHex(drive_id->Prefix(kDriveIdBytes).span()));
}

TEST(KeysTest, DifferentSeedsGiveDifferentKeys) {
  auto a = DeriveDriveKeys(TestSeed(0));
  auto b = DeriveDriveKeys(TestSeed(1));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->metadata == b->metadata);
  EXPECT_NE(a->drive_id, b->drive_id);
}

TEST(KeysTest, RejectsEmptySeedAndLabel) {
  auto no_seed = DeriveKey(util::SecretBytes(), kLabelMetadata);
  ASSERT_FALSE(no_seed.ok());
  EXPECT_EQ(no_seed.code(), util::Errc::kInvalid);
  auto no_label = DeriveKey(TestSeed(), "");
  ASSERT_FALSE(no_label.ok());
  EXPECT_EQ(no_label.code(), util::Errc::kInvalid);
}

}  // namespace
}  // namespace shardfs::crypto
