// The ErasureStore test fixture: six in-memory nodes, each behind a FaultyStore, a FakeClock for
// backoff, and helpers to read a location record and wipe a node. Shared by the erasure_store
// test files; not synchronized (tests that start threads only call the store).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fs/remote/erasure_store.h"
#include "fs/remote/location_record.h"
#include "fs/remote/testing/faulty_store.h"
#include "fs/remote/testing/mem_store.h"

namespace shardfs::remote::erasure_test {

inline util::Bytes Block(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  util::Bytes b(n);
  for (auto& c : b) c = static_cast<uint8_t>(rng());
  return b;
}

class ErasureStoreTest : public ::testing::Test {
 protected:
  static constexpr int kNodes = 6;

  ErasureStoreTest() {
    for (int i = 0; i < kNodes; ++i) {
      mems_.push_back(std::make_unique<testing::MemStore>(0, "n" + std::to_string(i)));
      faulty_.push_back(std::make_unique<testing::FaultyStore>(mems_.back().get(), i + 1));
    }
  }

  ErasureOptions Options() {
    ErasureOptions o;
    o.shard_name = [](std::string_view block, int i) {
      return std::string(block) + "." + std::to_string(i);
    };
    o.clock = &clock_;
    return o;
  }

  std::unique_ptr<ErasureStore> Make(ErasureOptions o, std::vector<std::string> names = {}) {
    std::vector<ErasureNode> nodes;
    for (int i = 0; i < kNodes; ++i) {
      nodes.push_back({names.empty() ? "node" + std::to_string(i) : names[static_cast<size_t>(i)],
                       faulty_[static_cast<size_t>(i)].get()});
    }
    auto store = ErasureStore::Create(std::move(nodes), std::move(o));
    EXPECT_TRUE(store.ok()) << store.error().message;
    return store.ok() ? std::move(store).value() : nullptr;
  }
  std::unique_ptr<ErasureStore> Make() { return Make(Options()); }

  static LocationRecord Record(const util::Bytes& location) {
    auto r = ParseLocationRecord(location);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : LocationRecord{};
  }
  // The node (0..5) holding a shard.
  static int Holder(const util::Bytes& location, int shard) {
    return std::stoi(Record(location).shards[static_cast<size_t>(shard)].node.substr(4));
  }
  uint64_t Objects(int node) { return mems_[static_cast<size_t>(node)]->Usage()->objects; }
  void Wipe(int node) {
    auto& mem = *mems_[static_cast<size_t>(node)];
    auto names = mem.List("");
    ASSERT_TRUE(names.ok());
    const std::vector<std::string> all = std::move(names).value();
    for (const std::string& name : all) ASSERT_TRUE(mem.Delete(name).ok());
  }
  testing::FaultyStore& Node(int i) { return *faulty_[static_cast<size_t>(i)]; }
  void RestoreAll() {
    for (auto& f : faulty_) f->ClearFaults();
  }
  void ExpectReads(ErasureStore& store, std::string_view name, const util::Bytes& location,
                   const util::Bytes& want) {
    auto got = store.Get(name, location);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_TRUE(*got == want);
  }

  util::FakeClock clock_;
  std::vector<std::unique_ptr<testing::MemStore>> mems_;
  std::vector<std::unique_ptr<testing::FaultyStore>> faulty_;
};

}  // namespace shardfs::remote::erasure_test
