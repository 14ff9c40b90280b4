#include "fs/util/result.h"

#include <gtest/gtest.h>

namespace shardfs::util {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return MakeError(Errc::kInvalid, "odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  SHARDFS_ASSIGN_OR_RETURN(int h, Half(x));
  SHARDFS_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  SHARDFS_TRY(Half(x));
  return Ok();
}

TEST(ResultTest, ValueAndError) {
  auto ok = Half(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 4);
  auto bad = Half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), Errc::kInvalid);
  EXPECT_EQ(bad.error().message, "odd");
}

TEST(ResultTest, MacrosPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).code(), Errc::kInvalid);  // 6 -> 3 is odd
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_EQ(CheckEven(1).code(), Errc::kInvalid);
}

TEST(ResultTest, WithContextKeepsCode) {
  Error e = MakeError(Errc::kCorrupt, "bad tag").WithContext("block 7");
  EXPECT_EQ(e.code, Errc::kCorrupt);
  EXPECT_EQ(e.message, "block 7: bad tag");
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  EXPECT_DEATH({ (void)Half(1).value(); }, "value\\(\\) of an error Result");
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(5));
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

}  // namespace
}  // namespace shardfs::util
