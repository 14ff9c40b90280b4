// Range header parsing and resolution (incl. suffix and open ranges), Content-Range formatting
// and parsing.
#include "fs/remote/s3/range.h"

#include <gtest/gtest.h>

namespace shardfs::remote::s3 {
namespace {

std::optional<ByteRange> R(std::string_view header, uint64_t size) {
  auto spec = ParseRange(header);
  if (!spec.ok()) return std::nullopt;
  return Resolve(*spec, size);
}

TEST(S3Range, ClosedOpenAndSuffix) {
  auto r = R("bytes=0-9", 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 9u);
  EXPECT_EQ(r->length(), 10u);
  r = R("bytes=90-", 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 90u);
  EXPECT_EQ(r->last, 99u);
  r = R("bytes=-10", 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 90u);
  EXPECT_EQ(r->last, 99u);
  r = R(" Bytes=5 - 5 ", 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->length(), 1u);
}

TEST(S3Range, ClampsAndUnsatisfiable) {
  auto r = R("bytes=50-1000", 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->last, 99u);
  r = R("bytes=-1000", 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 0u);
  EXPECT_FALSE(R("bytes=100-", 100));
  EXPECT_FALSE(R("bytes=100-200", 100));
  EXPECT_FALSE(R("bytes=-0", 100));
  EXPECT_FALSE(R("bytes=0-", 0));
  EXPECT_FALSE(R("bytes=-5", 0));
}

TEST(S3Range, MalformedIsAnError) {
  for (const char* bad :
       {"", "bytes", "bytes=", "bytes=-", "items=0-1", "bytes=a-b", "bytes=5-4", "bytes=--1",
        "bytes=+1-2", "bytes=0-99999999999999999999999", "bytes=18446744073709551616-"}) {
    EXPECT_EQ(ParseRange(bad).code(), util::Errc::kInvalid) << bad;
  }
  EXPECT_EQ(ParseRange("bytes=0-1,5-6").code(), util::Errc::kUnsupported);
  auto big = ParseRange("bytes=18446744073709551615-");
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(Resolve(*big, 100));
}

TEST(S3Range, Formats) {
  EXPECT_EQ(FormatRange(RangeSpec::Closed(0, 9)), "bytes=0-9");
  EXPECT_EQ(FormatRange(RangeSpec::From(7)), "bytes=7-");
  EXPECT_EQ(FormatRange(RangeSpec::Suffix(3)), "bytes=-3");
  EXPECT_EQ(FormatContentRange({0, 9}, 100), "bytes 0-9/100");
  EXPECT_EQ(FormatUnsatisfiedContentRange(100), "bytes */100");
}

TEST(S3Range, ParsesContentRange) {
  auto cr = ParseContentRange("bytes 10-19/100");
  ASSERT_TRUE(cr.ok());
  EXPECT_EQ(cr->range.first, 10u);
  EXPECT_EQ(cr->range.last, 19u);
  EXPECT_EQ(cr->total, 100u);
  cr = ParseContentRange("bytes 0-0/*");
  ASSERT_TRUE(cr.ok());
  EXPECT_FALSE(cr->total.has_value());
  for (const char* bad :
       {"bytes 5-4/10", "bytes 0-10/10", "bytes */10", "bytes 0-1", "0-1/2", "bytes a-1/2"}) {
    EXPECT_FALSE(ParseContentRange(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace shardfs::remote::s3
