// The ShardStore contract as a typed, parameterized gtest suite, run against every
// implementation. A binary includes this header in exactly one file and instantiates it:
//   using Harnesses = ::testing::Types<MyHarness>;
//   INSTANTIATE_TYPED_TEST_SUITE_P(Mine, ShardStoreContractTest, Harnesses, HarnessNames);
// A harness is default-constructible, has a static kName and `ShardStore& store()` giving a fresh,
// empty store, and may have `std::string SkipReason()` (non-empty: the tests are skipped).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "fs/remote/shard_store.h"

namespace shardfs::remote::contract {

using util::Bytes;
using util::Errc;

inline Bytes Pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& byte : b) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    byte = static_cast<uint8_t>(x);
  }
  return b;
}

inline Bytes Str(std::string_view s) { return Bytes(s.begin(), s.end()); }

template <typename Harness>
class ShardStoreContractTest : public ::testing::Test {
 protected:
  // A harness may say why its store cannot run here (a server binary is missing).
  void SetUp() override {
    if constexpr (requires(Harness & h) { h.SkipReason(); }) {
      std::string why = harness_.SkipReason();
      if (!why.empty()) GTEST_SKIP() << why;
    }
  }

  ShardStore& store() { return harness_.store(); }

  void PutOk(std::string_view name, const Bytes& data) {
    auto s = store().Put(name, data);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  Bytes GetOk(std::string_view name) {
    auto r = store().Get(name);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : Bytes();
  }
  std::vector<std::string> ListOk(std::string_view prefix) {
    auto r = store().List(prefix);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : std::vector<std::string>();
  }
  StoreUsage UsageOk() {
    auto r = store().Usage();
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : StoreUsage();
  }

 private:
  Harness harness_;
};

struct HarnessNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

TYPED_TEST_SUITE_P(ShardStoreContractTest);

TYPED_TEST_P(ShardStoreContractTest, RoundTripsEmptyOneByteAndLarge) {
  const Bytes big = Pattern(5 << 20, 1);
  this->PutOk("empty", {});
  this->PutOk("one", Str("x"));
  this->PutOk("big", big);
  EXPECT_EQ(this->GetOk("empty"), Bytes());
  EXPECT_EQ(this->GetOk("one"), Str("x"));
  EXPECT_EQ(this->GetOk("big"), big);
}

TYPED_TEST_P(ShardStoreContractTest, PutReplaces) {
  this->PutOk("obj", Str("the old, longer content"));
  this->PutOk("obj", Str("new"));
  EXPECT_EQ(this->GetOk("obj"), Str("new"));
  EXPECT_EQ(this->ListOk(""), std::vector<std::string>{"obj"});
}

TYPED_TEST_P(ShardStoreContractTest, MissingObjectIsNotFound) {
  auto got = this->store().Get("nothing-here");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.code(), Errc::kNotFound);
  EXPECT_NE(got.error().message.find("nothing-here"), std::string::npos) << got.error().message;
  auto range = this->store().GetRange("nothing-here", 0, 10);
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.code(), Errc::kNotFound);
}

TYPED_TEST_P(ShardStoreContractTest, GetRange) {
  this->PutOk("digits", Str("0123456789"));
  this->PutOk("empty", {});
  auto range = [&](std::string_view name, uint64_t offset, uint64_t length) {
    auto r = this->store().GetRange(name, offset, length);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::string(util::AsStringView(*r)) : "<error>";
  };
  EXPECT_EQ(range("digits", 0, 4), "0123");
  EXPECT_EQ(range("digits", 3, 4), "3456");
  EXPECT_EQ(range("digits", 0, 10), "0123456789");
  EXPECT_EQ(range("digits", 8, 10), "89");  // fewer at the end
  EXPECT_EQ(range("digits", 2, UINT64_MAX), "23456789");
  EXPECT_EQ(range("digits", 5, 0), "");
  EXPECT_EQ(range("digits", 10, 5), "");  // at the end
  EXPECT_EQ(range("digits", 11, 5), "");  // past the end
  EXPECT_EQ(range("digits", UINT64_MAX, UINT64_MAX), "");
  EXPECT_EQ(range("empty", 0, 10), "");

  const Bytes big = Pattern(3 << 20, 2);
  this->PutOk("big", big);
  auto mid = this->store().GetRange("big", (1 << 20) + 7, 1 << 20);
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(*mid, Bytes(big.begin() + (1 << 20) + 7, big.begin() + (2 << 20) + 7));
}

TYPED_TEST_P(ShardStoreContractTest, DeleteAndDeleteMissing) {
  this->PutOk("doomed", Str("bye"));
  this->PutOk("kept", Str("hi"));
  ASSERT_TRUE(this->store().Delete("doomed").ok());
  EXPECT_EQ(this->store().Get("doomed").code(), Errc::kNotFound);
  EXPECT_TRUE(this->store().Delete("doomed").ok());
  EXPECT_TRUE(this->store().Delete("never-existed").ok());
  EXPECT_EQ(this->ListOk(""), std::vector<std::string>{"kept"});
  EXPECT_EQ(this->GetOk("kept"), Str("hi"));
}

TYPED_TEST_P(ShardStoreContractTest, ListsByPrefixSorted) {
  for (const char* name : {"b2", "a10", "a1", "zz-top", "a2", "ab-c", "a", "c.x", "ba", "a1_"}) {
    this->PutOk(name, Str(name));
  }
  using V = std::vector<std::string>;
  EXPECT_EQ(this->ListOk(""),
            (V{"a", "a1", "a10", "a1_", "a2", "ab-c", "b2", "ba", "c.x", "zz-top"}));
  EXPECT_EQ(this->ListOk("a"), (V{"a", "a1", "a10", "a1_", "a2", "ab-c"}));
  EXPECT_EQ(this->ListOk("a1"), (V{"a1", "a10", "a1_"}));
  EXPECT_EQ(this->ListOk("ab"), (V{"ab-c"}));
  EXPECT_EQ(this->ListOk("b"), (V{"b2", "ba"}));
  EXPECT_EQ(this->ListOk("c.x"), (V{"c.x"}));
  EXPECT_EQ(this->ListOk("a10x"), V{});
  EXPECT_EQ(this->ListOk("q"), V{});
  // A prefix no valid name can have matches nothing; it is not a path.
  EXPECT_EQ(this->ListOk("../"), V{});
  EXPECT_EQ(this->ListOk("A"), V{});
}

TYPED_TEST_P(ShardStoreContractTest, RejectsInvalidNames) {
  const std::vector<std::string> bad = {"",
                                        "../x",
                                        "a/b",
                                        ".hidden",
                                        ".",
                                        "..",
                                        std::string(201, 'a'),
                                        "Upper",
                                        "a b",
                                        "a\\b",
                                        std::string("a\0b", 3),
                                        "caf\xc3\xa9",
                                        "/abs",
                                        "x\n"};
  for (const std::string& name : bad) {
    SCOPED_TRACE(::testing::PrintToString(name));
    auto put = this->store().Put(name, Str("data"));
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.code(), Errc::kInvalid);
    EXPECT_EQ(this->store().Get(name).code(), Errc::kInvalid);
    EXPECT_EQ(this->store().GetRange(name, 0, 1).code(), Errc::kInvalid);
    EXPECT_EQ(this->store().Delete(name).code(), Errc::kInvalid);
  }
  EXPECT_EQ(this->ListOk(""), std::vector<std::string>{});

  const std::vector<std::string> good = {std::string(200, 'a'), "0", "a.b_c-d", "-x", "_x", "z."};
  for (const std::string& name : good) {
    SCOPED_TRACE(name);
    this->PutOk(name, Str(name));
    EXPECT_EQ(this->GetOk(name), Str(name));
  }
}

TYPED_TEST_P(ShardStoreContractTest, ConcurrentPutsAndGetsSeeWholeObjects) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20;
  constexpr size_t kSharedSize = 64 << 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        Bytes data = Pattern(1000 + static_cast<size_t>(i), static_cast<uint32_t>(t * 100 + i));
        if (!this->store().Put(name, data).ok()) ++failures;
        auto got = this->store().Get(name);
        if (!got.ok() || *got != data) ++failures;
        // Everyone rewrites and reads one shared object: each read is one whole version.
        if (!this->store().Put("shared", Bytes(kSharedSize, static_cast<uint8_t>(t))).ok()) {
          ++failures;
        }
        auto shared = this->store().Get("shared");
        if (!shared.ok() || shared->size() != kSharedSize ||
            std::count(shared->begin(), shared->end(), (*shared)[0]) !=
                static_cast<ptrdiff_t>(kSharedSize)) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(this->ListOk("").size(), static_cast<size_t>(kThreads * kPerThread + 1));
  EXPECT_EQ(this->ListOk("t2-").size(), static_cast<size_t>(kPerThread));
}

TYPED_TEST_P(ShardStoreContractTest, UsageCountsObjectsAndBytes) {
  StoreUsage u = this->UsageOk();
  EXPECT_EQ(u.objects, 0u);
  EXPECT_EQ(u.used_bytes, 0u);

  this->PutOk("ten", Bytes(10, 1));
  this->PutOk("twenty", Bytes(20, 2));
  this->PutOk("zero", {});
  u = this->UsageOk();
  EXPECT_EQ(u.objects, 3u);
  EXPECT_EQ(u.used_bytes, 30u);
  EXPECT_TRUE(u.capacity_bytes == 0 || u.capacity_bytes >= u.used_bytes);

  this->PutOk("twenty", Bytes(5, 3));  // replacing counts the new size only
  u = this->UsageOk();
  EXPECT_EQ(u.objects, 3u);
  EXPECT_EQ(u.used_bytes, 15u);

  ASSERT_TRUE(this->store().Delete("ten").ok());
  ASSERT_TRUE(this->store().Delete("ten").ok());
  ASSERT_FALSE(this->store().Put("Bad", Bytes(100)).ok());
  u = this->UsageOk();
  EXPECT_EQ(u.objects, 2u);
  EXPECT_EQ(u.used_bytes, 5u);
}

TYPED_TEST_P(ShardStoreContractTest, DescribesItself) {
  EXPECT_FALSE(this->store().Describe().empty());
}

REGISTER_TYPED_TEST_SUITE_P(ShardStoreContractTest, RoundTripsEmptyOneByteAndLarge, PutReplaces,
                            MissingObjectIsNotFound, GetRange, DeleteAndDeleteMissing,
                            ListsByPrefixSorted, RejectsInvalidNames,
                            ConcurrentPutsAndGetsSeeWholeObjects, UsageCountsObjectsAndBytes,
                            DescribesItself);

}  // namespace shardfs::remote::contract
