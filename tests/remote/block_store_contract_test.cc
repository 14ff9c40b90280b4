// The BlockStore contract (fs/remote/block_store.h), one typed suite run against every
// implementation: a whole block in one object (over the in-memory store and over a dir: store)
// and erasure coding (4+2 over six nodes, and 1+2 mirroring over three).
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fs/remote/dir_store.h"
#include "fs/remote/erasure_store.h"
#include "fs/remote/testing/mem_store.h"
#include "fs/remote/whole_block_store.h"
#include "fs/util/files.h"
#include "tests/temp_dir.h"

namespace shardfs::remote {
namespace {

using util::Bytes;
using util::Errc;

Bytes Block(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(n);
  for (auto& c : b) c = static_cast<uint8_t>(rng());
  return b;
}

struct WholeInMemory {
  std::unique_ptr<BlockStore> Make() {
    return std::make_unique<WholeBlockStore>(std::make_unique<testing::MemStore>());
  }
};
struct WholeInDirectory {
  std::unique_ptr<BlockStore> Make() {
    auto dir = DirStore::Open(tmp.Sub("store"));
    EXPECT_TRUE(dir.ok()) << dir.error().message;
    return std::make_unique<WholeBlockStore>(std::move(dir).value());
  }
  testutil::TempDir tmp{"blockstore"};
};
template <int K, int M>
struct Erasure {
  std::unique_ptr<BlockStore> Make() {
    std::vector<ErasureNode> nodes;
    for (int i = 0; i < K + M; ++i) {
      mems.push_back(std::make_unique<testing::MemStore>(0, "n" + std::to_string(i)));
      nodes.push_back({"node" + std::to_string(i), mems.back().get()});
    }
    ErasureOptions o;
    o.k = K;
    o.m = M;
    o.shard_name = [](std::string_view block, int i) {
      return std::string(block) + "." + std::to_string(i);
    };
    auto store = ErasureStore::Create(std::move(nodes), std::move(o));
    EXPECT_TRUE(store.ok()) << store.error().message;
    return std::move(store).value();
  }
  std::vector<std::unique_ptr<testing::MemStore>> mems;  // outlive the store
};

template <typename Impl>
class BlockStoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = impl_.Make();
    ASSERT_TRUE(store_);
  }
  // Members in reverse: the store goes before what it uses.
  Impl impl_;
  std::unique_ptr<BlockStore> store_;
};
using Implementations =
    ::testing::Types<WholeInMemory, WholeInDirectory, Erasure<4, 2>, Erasure<1, 2>>;
TYPED_TEST_SUITE(BlockStoreContractTest, Implementations);

TYPED_TEST(BlockStoreContractTest, GetReturnsExactlyWhatPutStored) {
  BlockStore& store = *this->store_;
  for (size_t size : {size_t{1}, size_t{4096}, size_t{4097}, (size_t{1} << 20) + 3}) {
    const std::string name = "b" + std::to_string(size);
    const Bytes block = Block(size, size);
    auto location = store.Put(name, block);
    ASSERT_TRUE(location.ok()) << location.error().message;
    auto got = store.Get(name, *location);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, block) << size;
  }
}

TYPED_TEST(BlockStoreContractTest, ADeletedBlockIsGoneAndDeletingAgainIsNoError) {
  BlockStore& store = *this->store_;
  const Bytes block = Block(10000, 7);
  auto location = store.Put("gone", block);
  ASSERT_TRUE(location.ok());
  ASSERT_TRUE(store.Delete("gone", *location).ok());
  auto got = store.Get("gone", *location);
  ASSERT_FALSE(got.ok()) << "a deleted block was read back";
  EXPECT_TRUE(got.code() == Errc::kNotFound || got.code() == Errc::kUnavailable ||
              got.code() == Errc::kCorrupt)
      << got.error().message;
  EXPECT_TRUE(store.Delete("gone", *location).ok());
}

TYPED_TEST(BlockStoreContractTest, BlocksAreKeptApart) {
  BlockStore& store = *this->store_;
  const Bytes a = Block(5000, 1), b = Block(5000, 2);
  auto la = store.Put("a", a);
  auto lb = store.Put("b", b);
  ASSERT_TRUE(la.ok() && lb.ok());
  ASSERT_TRUE(store.Delete("a", *la).ok());
  auto got = store.Get("b", *lb);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, b);
}

TYPED_TEST(BlockStoreContractTest, UsageCountsTheBlocksStored) {
  BlockStore& store = *this->store_;
  auto before = store.Usage();
  ASSERT_TRUE(before.ok()) << before.error().message;
  const Bytes block = Block(1 << 20, 3);
  ASSERT_TRUE(store.Put("used", block).ok());
  auto after = store.Usage();
  ASSERT_TRUE(after.ok());
  // In bytes of blocks (parity not counted): about the block's size, never less.
  EXPECT_GE(after->used_bytes - before->used_bytes, block.size());
  EXPECT_LE(after->used_bytes - before->used_bytes, block.size() * 5 / 4);
}

TYPED_TEST(BlockStoreContractTest, NamesOutsideTheRulesAreRefused) {
  BlockStore& store = *this->store_;
  for (const char* bad : {"", "../up", "a/b"}) {
    auto location = store.Put(bad, Block(10, 1));
    ASSERT_FALSE(location.ok()) << "'" << bad << "' was taken";
    EXPECT_EQ(location.code(), Errc::kInvalid) << bad;
  }
}

TYPED_TEST(BlockStoreContractTest, PutFileStoresTheFileOrSaysToPutTheBytes) {
  BlockStore& store = *this->store_;
  testutil::TempDir tmp("putfile");
  const Bytes block = Block(70000, 9);
  const std::string path = tmp.Sub("block");
  ASSERT_TRUE(util::WriteFileAtomic(path, block, 0600).ok());
  auto location = store.PutFile("filed", path, block.size());
  if (!location.ok()) {
    EXPECT_TRUE(location.code() == Errc::kUnsupported || location.code() == Errc::kCrossDevice)
        << location.error().message;
    return;
  }
  auto got = store.Get("filed", *location);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, block);
}

TYPED_TEST(BlockStoreContractTest, DescribesItselfAndItsNodes) {
  EXPECT_FALSE(this->store_->Describe().empty());
  EXPECT_FALSE(this->store_->Nodes().empty());
}

}  // namespace
}  // namespace shardfs::remote
