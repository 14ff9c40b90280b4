// The location record (docs/placement.md): a golden file pins version 1, and every kind of
// damage — truncation, extension, any flipped byte, a well-checksummed but non-canonical body —
// is refused with kCorrupt, never a crash.
// To regenerate the golden file deliberately (after a version bump), run with
// SHARDFS_UPDATE_GOLDEN=1: the test rewrites tests/data/golden/placement-v1.bin instead of
// comparing; then commit it.
#include "fs/remote/location_record.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "fs/remote/erasure.h"
#include "fs/util/encoding.h"
#include "fs/util/files.h"

namespace shardfs::remote {
namespace {

using util::Bytes;
using util::Errc;

const std::string kGoldenPath = std::string(SHARDFS_TEST_DATA_DIR) + "/golden/placement-v1.bin";

bool Updating() {
  const char* v = std::getenv("SHARDFS_UPDATE_GOLDEN");
  return v != nullptr && std::string_view(v) == "1";
}

// 4+2 of a 1000-byte block; shards 4 and 5 share nodes with 0 and 2 (a degraded placement), so
// the node table is exercised.
LocationRecord GoldenRecord() {
  LocationRecord r;
  r.k = 4;
  r.m = 2;
  r.length = 1000;
  r.shard_size = 250;
  const char* nodes[] = {"node1", "node2", "node3", "node4", "node1", "node3"};
  for (int i = 0; i < 6; ++i) {
    r.shards.push_back({nodes[i], 0x0123456789abcdefULL * static_cast<uint64_t>(i + 1)});
  }
  return r;
}

// Replaces the trailer with the right checksum of the (edited) body.
Bytes Reseal(Bytes b) {
  b.resize(b.size() - 8);
  util::AppendU64Le(b, ShardChecksum(b));
  return b;
}

Bytes Serialized(const LocationRecord& r) {
  auto b = SerializeLocationRecord(r);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return b.ok() ? *b : Bytes{};
}

TEST(LocationRecordTest, GoldenV1) {
  const Bytes bytes = Serialized(GoldenRecord());
  if (Updating()) {
    ASSERT_TRUE(util::WriteFileAtomic(kGoldenPath, bytes, 0644).ok());
  }
  auto golden = util::ReadFile(kGoldenPath, 1 << 16);
  ASSERT_TRUE(golden.ok()) << golden.error().message;
  EXPECT_EQ(util::ToHex(*golden), util::ToHex(bytes));
  auto parsed = ParseLocationRecord(*golden);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, GoldenRecord());
  // The layout docs/placement.md describes: header, node table, shard entries, checksum.
  ASSERT_EQ(golden->size(), 20u + 4 * 6 + 6 * 9 + 8);
  EXPECT_EQ((*golden)[0], 1);  // version
  EXPECT_EQ((*golden)[3], 4);  // node table entries
  EXPECT_EQ(util::LoadU64Le(golden->data() + 4), 1000u);
}

TEST(LocationRecordTest, RoundTripsManyCodes) {
  for (int k : {1, 2, 4, 10, 32}) {
    for (int m : {0, 1, 2, 16}) {
      LocationRecord r;
      r.k = k;
      r.m = m;
      r.length = 12345;
      r.shard_size = ShardSize(r.length, k);
      for (int i = 0; i < k + m; ++i) {
        r.shards.push_back({"n" + std::to_string(i % 7), static_cast<uint64_t>(i) * 77});
      }
      auto parsed = ParseLocationRecord(Serialized(r));
      ASSERT_TRUE(parsed.ok()) << parsed.error().message;
      EXPECT_EQ(*parsed, r);
    }
  }
}

TEST(LocationRecordTest, SerializeRefusesInconsistentRecords) {
  LocationRecord r = GoldenRecord();
  r.shard_size = 251;
  EXPECT_EQ(SerializeLocationRecord(r).code(), Errc::kInvalid);
  r = GoldenRecord();
  r.shards.pop_back();
  EXPECT_EQ(SerializeLocationRecord(r).code(), Errc::kInvalid);
  r = GoldenRecord();
  r.shards[2].node = "";
  EXPECT_EQ(SerializeLocationRecord(r).code(), Errc::kInvalid);
  r.shards[2].node = std::string(256, 'n');
  EXPECT_EQ(SerializeLocationRecord(r).code(), Errc::kInvalid);
  r = GoldenRecord();
  r.k = 0;
  EXPECT_EQ(SerializeLocationRecord(r).code(), Errc::kInvalid);
}

TEST(LocationRecordTest, EveryTruncationAndExtensionIsCorrupt) {
  const Bytes good = Serialized(GoldenRecord());
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(ParseLocationRecord(util::ByteSpan(good).first(n)).code(), Errc::kCorrupt) << n;
  }
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_EQ(ParseLocationRecord(longer).code(), Errc::kCorrupt);
  EXPECT_EQ(ParseLocationRecord(Reseal(longer)).code(), Errc::kCorrupt);  // trailing bytes
}

TEST(LocationRecordTest, EveryFlippedByteIsCorrupt) {
  const Bytes good = Serialized(GoldenRecord());
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      Bytes bad = good;
      bad[i] ^= mask;
      EXPECT_EQ(ParseLocationRecord(bad).code(), Errc::kCorrupt) << i << " " << int(mask);
    }
  }
}

// Bodies that pass the checksum but break a rule: each field is still checked.
TEST(LocationRecordTest, NonCanonicalBodiesAreCorrupt) {
  const Bytes good = Serialized(GoldenRecord());
  const size_t table = 20, shards = 20 + 4 * 6;
  auto with = [&](size_t at, uint8_t v) {
    Bytes b = good;
    b[at] = v;
    return Reseal(b);
  };
  EXPECT_EQ(ParseLocationRecord(with(1, 0)).code(), Errc::kCorrupt);      // k = 0
  EXPECT_EQ(ParseLocationRecord(with(1, 33)).code(), Errc::kCorrupt);     // k = 33
  EXPECT_EQ(ParseLocationRecord(with(2, 17)).code(), Errc::kCorrupt);     // m = 17
  EXPECT_EQ(ParseLocationRecord(with(3, 0)).code(), Errc::kCorrupt);      // no nodes
  EXPECT_EQ(ParseLocationRecord(with(3, 7)).code(), Errc::kCorrupt);      // more nodes than shards
  EXPECT_EQ(ParseLocationRecord(with(3, 5)).code(), Errc::kCorrupt);      // table runs into shards
  EXPECT_EQ(ParseLocationRecord(with(4, 0xe9)).code(), Errc::kCorrupt);   // length 1001 vs 250
  EXPECT_EQ(ParseLocationRecord(with(12, 249)).code(), Errc::kCorrupt);   // shard size
  EXPECT_EQ(ParseLocationRecord(with(table, 0)).code(), Errc::kCorrupt);  // empty name
  EXPECT_EQ(ParseLocationRecord(with(table, 200)).code(), Errc::kCorrupt);  // name past the end
  EXPECT_EQ(ParseLocationRecord(with(shards, 4)).code(), Errc::kCorrupt);   // no node 4
  EXPECT_EQ(ParseLocationRecord(with(shards, 1)).code(), Errc::kCorrupt);   // out of order
  // Shard 3 pointing at node1 leaves node4 unused.
  EXPECT_EQ(ParseLocationRecord(with(shards + 3 * 9, 0)).code(), Errc::kCorrupt);
  // node2 renamed to node1: listed twice.
  EXPECT_EQ(ParseLocationRecord(with(table + 6 + 5, '1')).code(), Errc::kCorrupt);
  // A later version is not damage: this build just cannot read it.
  EXPECT_EQ(ParseLocationRecord(with(0, 2)).code(), Errc::kUnsupported);
}

}  // namespace
}  // namespace shardfs::remote
