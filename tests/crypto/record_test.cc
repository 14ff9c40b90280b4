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

TEST(RecordTest, HmacSha256KeysShorterEqualAndLongerThanABlock) {
  // RFC 4231 test cases 1 and 6 (a 131-byte key is hashed first), and a key of exactly one
  // 64-byte block (used as it is), checked against Python's hmac module.
  SecretBytes k20 = SecretBytes::CopyOf(std::string(20, '\x0b'));
  EXPECT_EQ(util::ToHex(HmacSha256(k20, util::AsBytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  SecretBytes k131 = SecretBytes::CopyOf(std::string(131, '\xaa'));
  EXPECT_EQ(util::ToHex(HmacSha256(
                k131, util::AsBytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  SecretBytes k64 = SecretBytes::CopyOf(std::string(64, '\xaa'));
  EXPECT_EQ(util::ToHex(HmacSha256(k64, util::AsBytes("exactly one block of key"))),
            "6b86dff4b91fe689c94291f9648c1f7cea871c24c0aaee8b7b0f295528e85fe3");
}

}  // namespace
}  // namespace shardfs::crypto
