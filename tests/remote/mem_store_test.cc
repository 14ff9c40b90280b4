// MemStore beyond the shared contract: call counts and capacity.
#include "fs/remote/testing/mem_store.h"

#include <gtest/gtest.h>

namespace shardfs::remote::testing {
namespace {

using util::Bytes;
using util::Errc;

TEST(MemStoreTest, CountsCalls) {
  MemStore store;
  ASSERT_TRUE(store.Put("a", Bytes(3)).ok());
  ASSERT_TRUE(store.Put("b", Bytes(3)).ok());
  EXPECT_TRUE(store.Get("a").ok());
  EXPECT_TRUE(store.GetRange("a", 1, 1).ok());
  EXPECT_EQ(store.Get("missing").code(), Errc::kNotFound);  // failures count too
  EXPECT_TRUE(store.Delete("a").ok());
  EXPECT_TRUE(store.List("").ok());
  MemStore::Counts c = store.counts();
  EXPECT_EQ(c.puts, 2u);
  EXPECT_EQ(c.gets, 3u);
  EXPECT_EQ(c.deletes, 1u);
  EXPECT_EQ(c.lists, 1u);
  store.ResetCounts();
  EXPECT_EQ(store.counts().puts, 0u);
  EXPECT_EQ(store.counts().gets, 0u);
}

TEST(MemStoreTest, CapacityGivesNoSpace) {
  MemStore store(100, "node7");
  EXPECT_EQ(store.Describe(), "mem:node7");
  ASSERT_TRUE(store.Put("a", Bytes(60)).ok());
  auto full = store.Put("b", Bytes(41));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.code(), Errc::kNoSpace);
  EXPECT_NE(full.error().message.find("mem:node7"), std::string::npos) << full.error().message;
  EXPECT_EQ(store.Get("b").code(), Errc::kNotFound);
  ASSERT_TRUE(store.Put("b", Bytes(40)).ok());  // exactly full
  ASSERT_TRUE(store.Put("a", Bytes(60)).ok());  // a replacement counts only the difference
  EXPECT_EQ(store.Put("a", Bytes(61)).code(), Errc::kNoSpace);
  EXPECT_EQ(store.Get("a")->size(), 60u);  // a failed replacement keeps the old object
  auto u = store.Usage();
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->used_bytes, 100u);
  EXPECT_EQ(u->capacity_bytes, 100u);
  EXPECT_EQ(u->objects, 2u);
  ASSERT_TRUE(store.Delete("a").ok());
  EXPECT_TRUE(store.Put("c", Bytes(60)).ok());
}

}  // namespace
}  // namespace shardfs::remote::testing
