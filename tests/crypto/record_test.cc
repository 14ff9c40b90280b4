#include "fs/crypto/record.h"

#include <gtest/gtest.h>

#include "fs/util/encoding.h"

namespace shardfs::crypto {
namespace {

using util::SecretBytes;

TEST(RecordTest, RoundTripAndTamper) {
  SecretBytes key(32);
  key.data()[0] = 7;
  util::Bytes aad = {1, 2, 3};
  auto sealed = SealRecord(key, aad, util::AsBytes("inode record"));
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), 12 + kRecordOverhead);
  auto opened = OpenRecord(key, aad, *sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->view(), "inode record");
  for (size_t i = 0; i < sealed->size(); ++i) {
    util::Bytes bad = *sealed;
    bad[i] ^= 1;
    EXPECT_EQ(OpenRecord(key, aad, bad).code(), util::Errc::kCorrupt) << i;
  }
  util::Bytes other_aad = {1, 2, 4};
  EXPECT_EQ(OpenRecord(key, other_aad, *sealed).code(), util::Errc::kCorrupt);
  EXPECT_EQ(OpenRecord(key, aad, util::ByteSpan(sealed->data(), 27)).code(), util::Errc::kCorrupt);
}

TEST(RecordTest, HmacSha256Rfc4231Case2) {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  SecretBytes key = SecretBytes::CopyOf(std::string_view("Jefe"));
  auto mac = HmacSha256(key, util::AsBytes("what do ya want for nothing?"));
  EXPECT_EQ(util::ToHex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace shardfs::crypto
