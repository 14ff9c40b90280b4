#include "fs/util/units.h"

#include <gtest/gtest.h>

namespace shardfs::util {
namespace {

TEST(ParseSizeTest, Suffixes) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("4K"), 4096u);
  EXPECT_EQ(*ParseSize("4k"), 4096u);
  EXPECT_EQ(*ParseSize("32M"), 32u << 20);
  EXPECT_EQ(*ParseSize("32MiB"), 32u << 20);
  EXPECT_EQ(*ParseSize("32MB"), 32u << 20);
  EXPECT_EQ(*ParseSize("2G"), 2ull << 30);
  EXPECT_EQ(*ParseSize("1T"), 1ull << 40);
  EXPECT_EQ(*ParseSize("1.5G"), 3ull << 29);
  EXPECT_EQ(*ParseSize("10B"), 10u);
}

TEST(ParseSizeTest, RejectsGarbageWithReason) {
  for (const char* bad :
       {"", "M", "-1", "12Q", "1.2.3M", "0.1", "99999999999999999999", "16777216T"}) {
    auto r = ParseSize(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.code(), Errc::kInvalid);
    EXPECT_NE(r.error().message.find("32M"), std::string::npos) << r.error().message;
  }
}

TEST(HumanSizeTest, OneDecimalInBinaryUnits) {
  EXPECT_EQ(HumanSize(0), "0 B");
  EXPECT_EQ(HumanSize(1023), "1023 B");
  EXPECT_EQ(HumanSize(1024), "1.0 KiB");
  EXPECT_EQ(HumanSize(50004448), "47.7 MiB");
  EXPECT_EQ(HumanSize(uint64_t{3} << 30), "3.0 GiB");
  EXPECT_EQ(HumanSize(~uint64_t{0}), "16.0 EiB");
}

TEST(FormatSizeTest, ShortestExact) {
  EXPECT_EQ(FormatSize(0), "0");
  EXPECT_EQ(FormatSize(4096), "4K");
  EXPECT_EQ(FormatSize(4u << 20), "4M");
  EXPECT_EQ(FormatSize(1ull << 30), "1G");
  EXPECT_EQ(FormatSize(4097), "4097");
  EXPECT_EQ(*ParseSize(FormatSize(123456789)), 123456789u);
}

}  // namespace
}  // namespace shardfs::util
