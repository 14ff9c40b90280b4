#include "fs/crypto/hkdf.h"

#include <gtest/gtest.h>

#include <numeric>

#include "fs/util/encoding.h"

namespace shardfs::crypto {
namespace {

util::Bytes Range(uint8_t first, size_t n) {
  util::Bytes b(n);
  std::iota(b.begin(), b.end(), first);
  return b;
}

util::Bytes Hex(std::string_view hex) {
  auto b = util::FromHex(hex);
  EXPECT_TRUE(b.has_value()) << hex;
  return b.value_or(util::Bytes{});
}

// RFC 5869 Appendix A.1: basic test case with SHA-256.
TEST(HkdfSha256Test, Rfc5869Case1) {
  util::Bytes ikm(22, 0x0b);
  auto okm = HkdfSha256(ikm, Range(0x00, 13), Range(0xf0, 10), 42);
  ASSERT_TRUE(okm.ok()) << okm.error().message;
  EXPECT_EQ(util::ToHex(okm->span()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

// RFC 5869 Appendix A.2: longer inputs and outputs, several HMAC blocks.
TEST(HkdfSha256Test, Rfc5869Case2) {
  auto okm = HkdfSha256(Range(0x00, 80), Range(0x60, 80), Range(0xb0, 80), 82);
  ASSERT_TRUE(okm.ok()) << okm.error().message;
  EXPECT_EQ(util::ToHex(okm->span()),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

// RFC 5869 Appendix A.3: zero-length salt and info (the salt defaults to HashLen zeros).
TEST(HkdfSha256Test, Rfc5869Case3) {
  util::Bytes ikm(22, 0x0b);
  auto okm = HkdfSha256(ikm, {}, {}, 42);
  ASSERT_TRUE(okm.ok()) << okm.error().message;
  EXPECT_EQ(util::ToHex(okm->span()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(HkdfSha256Test, EmptySaltEqualsZeroSalt) {
  util::Bytes ikm(22, 0x0b);
  util::Bytes zeros(32, 0);
  auto a = HkdfSha256(ikm, {}, Hex("0102"), 32);
  auto b = HkdfSha256(ikm, zeros, Hex("0102"), 32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(*a == *b);
}

TEST(HkdfSha256Test, EmptyKeyIsAllowed) {
  // RFC 5869 permits any IKM, including none; the value is pinned from an independent HKDF.
  auto okm = HkdfSha256({}, {}, {}, 32);
  ASSERT_TRUE(okm.ok()) << okm.error().message;
  EXPECT_EQ(util::ToHex(okm->span()),
            "eb70f01dede9afafa449eee1b1286504e1f62388b3f7dd4f956697b0e828fe18");
}

TEST(HkdfSha256Test, LengthLimits) {
  util::Bytes ikm(32, 1);
  auto max = HkdfSha256(ikm, {}, {}, 255 * 32);
  ASSERT_TRUE(max.ok()) << max.error().message;
  EXPECT_EQ(max->size(), 255u * 32);
  auto too_long = HkdfSha256(ikm, {}, {}, 255 * 32 + 1);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.code(), util::Errc::kInvalid);
  auto zero = HkdfSha256(ikm, {}, {}, 0);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.code(), util::Errc::kInvalid);
}

}  // namespace
}  // namespace shardfs::crypto
