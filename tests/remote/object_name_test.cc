// ValidateObjectName's messages: they name the name, briefly and safely.
#include <gtest/gtest.h>

#include <string>

#include "fs/remote/shard_store.h"

namespace shardfs::remote {
namespace {

TEST(ObjectNameTest, MessageQuotesTheName) {
  auto s = ValidateObjectName("../etc/passwd");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), util::Errc::kInvalid);
  EXPECT_NE(s.error().message.find("\"../etc/passwd\""), std::string::npos) << s.error().message;
}

TEST(ObjectNameTest, QuotesAtMost64Characters) {
  auto s = ValidateObjectName(std::string(64, 'a') + std::string(1000, 'b'));
  ASSERT_FALSE(s.ok());
  const std::string& m = s.error().message;
  EXPECT_NE(m.find("\"" + std::string(64, 'a') + "\""), std::string::npos) << m;
  EXPECT_EQ(m.find("bb"), std::string::npos) << m;
  EXPECT_NE(m.find("1064 characters"), std::string::npos) << m;
  EXPECT_LT(m.size(), 250u);
}

TEST(ObjectNameTest, EscapesControlCharacters) {
  auto s = ValidateObjectName("a\nforged log line\x1b[31m");
  ASSERT_FALSE(s.ok());
  const std::string& m = s.error().message;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_EQ(m.find('\x1b'), std::string::npos) << m;
  EXPECT_NE(m.find("\\x0a"), std::string::npos) << m;
}

TEST(ObjectNameTest, Boundaries) {
  EXPECT_TRUE(ValidateObjectName("a").ok());
  EXPECT_TRUE(ValidateObjectName(std::string(200, 'z')).ok());
  EXPECT_TRUE(ValidateObjectName("0123456789abcdefghijklmnopqrstuvwxyz._-").ok());
  EXPECT_FALSE(ValidateObjectName(std::string(201, 'z')).ok());
  EXPECT_FALSE(ValidateObjectName("").ok());
  EXPECT_FALSE(ValidateObjectName(".a").ok());
  EXPECT_TRUE(ValidateObjectName("a.").ok());
  for (char c : std::string("/\\ :*?\"<>|ABZ~+=@#$%^&()[]{},;'`!")) {
    EXPECT_FALSE(ValidateObjectName(std::string("a") + c).ok()) << c;
  }
}

}  // namespace
}  // namespace shardfs::remote
