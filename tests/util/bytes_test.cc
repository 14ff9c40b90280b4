#include "fs/util/bytes.h"

#include <gtest/gtest.h>

#include "fs/util/encoding.h"

namespace shardfs::util {
namespace {

TEST(SecretBytesTest, MoveLeavesSourceEmpty) {
  SecretBytes a = SecretBytes::CopyOf(std::string_view("hunter2"));
  SecretBytes b = std::move(a);
  EXPECT_EQ(b.view(), "hunter2");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(a.data(), nullptr);
}

TEST(SecretBytesTest, FormatsRedacted) {
  SecretBytes s = SecretBytes::CopyOf(std::string_view("correct horse"));
  std::string shown = fmt::format("key={}", s);
  EXPECT_EQ(shown, "key=<redacted 13 bytes>");
  EXPECT_EQ(shown.find("horse"), std::string::npos);
}

TEST(SecretBytesTest, CompareAndClone) {
  SecretBytes a = SecretBytes::CopyOf(std::string_view("abc"));
  SecretBytes b = a.Clone();
  EXPECT_TRUE(a == b);
  b.data()[0] = 'x';
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(a == SecretBytes::CopyOf(std::string_view("ab")));
  EXPECT_EQ(a.Prefix(2).view(), "ab");
}

TEST(SecureZeroTest, ZeroesBuffer) {
  uint8_t buf[32];
  std::fill(std::begin(buf), std::end(buf), 0xAB);
  SecureZero(buf, sizeof buf);
  for (uint8_t b : buf) EXPECT_EQ(b, 0);
}

TEST(EncodingTest, HexRoundTrip) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(ToHex(b), "0001abff");
  EXPECT_EQ(*FromHex("0001ABff"), b);
  EXPECT_FALSE(FromHex("abc").has_value());
  EXPECT_FALSE(FromHex("zz").has_value());
}

TEST(EncodingTest, LittleEndian) {
  Bytes out;
  AppendU16Le(out, 0x0102);
  AppendU32Le(out, 0x03040506);
  AppendU64Le(out, 0x0708090a0b0c0d0eULL);
  ASSERT_EQ(out.size(), 14u);
  EXPECT_EQ(out[0], 0x02);
  EXPECT_EQ(LoadU16Le(out.data()), 0x0102);
  EXPECT_EQ(LoadU32Le(out.data() + 2), 0x03040506u);
  EXPECT_EQ(LoadU64Le(out.data() + 6), 0x0708090a0b0c0d0eULL);
}

}  // namespace
}  // namespace shardfs::util
