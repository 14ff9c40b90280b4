// Erasure coding: every loss pattern the code must survive, for many codes and the lengths at
// the edges of the padding, and every bad input it must refuse.
#include "fs/remote/erasure.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace shardfs::remote {
namespace {

using util::Bytes;
using util::Errc;

Bytes RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(n);
  for (auto& c : b) c = static_cast<uint8_t>(rng());
  return b;
}

// Decodes from the shards listed in keep and checks the bytes come back.
void ExpectDecodes(int k, int m, const Bytes& data, const EncodedShards& enc,
                   const std::vector<int>& keep) {
  std::vector<ShardView> views;
  for (int i : keep) views.push_back({i, enc.shard(i)});
  auto out = DecodeShards(k, m, data.size(), views);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_TRUE(*out == data) << k << "+" << m << " length " << data.size() << " first kept "
                            << keep.front();
}

TEST(ErasureTest, ValidatesTheCode) {
  EXPECT_TRUE(ValidateErasureCode(1, 0).ok());
  EXPECT_TRUE(ValidateErasureCode(4, 2).ok());
  EXPECT_TRUE(ValidateErasureCode(32, 16).ok());
  EXPECT_EQ(ValidateErasureCode(0, 2).code(), Errc::kInvalid);
  EXPECT_EQ(ValidateErasureCode(-1, 2).code(), Errc::kInvalid);
  EXPECT_EQ(ValidateErasureCode(33, 2).code(), Errc::kInvalid);
  EXPECT_EQ(ValidateErasureCode(4, -1).code(), Errc::kInvalid);
  EXPECT_EQ(ValidateErasureCode(4, 17).code(), Errc::kInvalid);
  EXPECT_EQ(EncodeShards(0, 2, Bytes(10)).code(), Errc::kInvalid);
  EXPECT_EQ(DecodeShards(4, 17, 10, {}).code(), Errc::kInvalid);
}

TEST(ErasureTest, ShardSizeRoundsUp) {
  EXPECT_EQ(ShardSize(0, 4), 0u);
  EXPECT_EQ(ShardSize(1, 4), 1u);
  EXPECT_EQ(ShardSize(4, 4), 1u);
  EXPECT_EQ(ShardSize(5, 4), 2u);
  EXPECT_EQ(ShardSize(4u << 20, 4), 1u << 20);
  EXPECT_EQ(ShardSize(UINT64_MAX, 1), UINT64_MAX);
  EXPECT_EQ(ShardSize(UINT64_MAX, 2), (UINT64_MAX >> 1) + 1);
}

TEST(ErasureTest, DataShardsAreTheBytesZeroPadded) {
  const Bytes data = RandomBytes(4 * 1000 + 3, 1);
  auto enc = EncodeShards(4, 2, data);
  ASSERT_TRUE(enc.ok());
  ASSERT_EQ(enc->count(), 6);
  EXPECT_EQ(enc->shard_size(), 1001u);
  Bytes joined;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(enc->shard(i).size(), 1001u);
    joined.insert(joined.end(), enc->shard(i).begin(), enc->shard(i).end());
  }
  Bytes padded = data;
  padded.resize(4 * 1001, 0);
  EXPECT_TRUE(joined == padded);
  // Whole data shards are views of the input, not copies.
  EXPECT_EQ(enc->shard(0).data(), data.data());
  EXPECT_EQ(enc->shard(2).data(), data.data() + 2 * 1001);
}

TEST(ErasureTest, MovingKeepsTheShardsValid) {
  const Bytes data = RandomBytes(10, 2);
  auto enc = EncodeShards(4, 2, data);
  ASSERT_TRUE(enc.ok());
  const Bytes parity(enc->shard(5).begin(), enc->shard(5).end());
  EncodedShards moved = std::move(enc).value();
  EXPECT_TRUE(Bytes(moved.shard(5).begin(), moved.shard(5).end()) == parity);
  ExpectDecodes(4, 2, data, moved, {1, 3, 4, 5});
}

TEST(ErasureTest, FourPlusTwoSurvivesEveryLossOfTwo) {
  for (size_t len : {size_t{0}, size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{4099},
                     size_t{(4u << 20) + 1}}) {
    const Bytes data = RandomBytes(len, len);
    auto enc = EncodeShards(4, 2, data);
    ASSERT_TRUE(enc.ok());
    for (int a = 0; a < 6; ++a) {
      for (int b = a + 1; b < 6; ++b) {
        std::vector<int> keep;
        for (int i = 0; i < 6; ++i) {
          if (i != a && i != b) keep.push_back(i);
        }
        ExpectDecodes(4, 2, data, *enc, keep);
      }
    }
    // Losing only one, or none, works too (the extra shards are simply not needed).
    for (int a = 0; a < 6; ++a) {
      std::vector<int> keep;
      for (int i = 0; i < 6; ++i) {
        if (i != a) keep.push_back(i);
      }
      ExpectDecodes(4, 2, data, *enc, keep);
    }
    ExpectDecodes(4, 2, data, *enc, {5, 4, 3, 2, 1, 0});
  }
}

TEST(ErasureTest, ManyCodesSurviveRandomLossOfM) {
  struct Code {
    int k, m;
  };
  std::mt19937_64 rng(42);
  for (Code c : {Code{1, 0}, Code{1, 2}, Code{2, 1}, Code{3, 2}, Code{4, 0}, Code{6, 3},
                 Code{10, 4}, Code{16, 16}, Code{32, 16}}) {
    const auto k = static_cast<size_t>(c.k);
    std::vector<size_t> lengths = {0, 1, k - 1, k, k + 1, 1000};
    if (c.k == 1 || c.k == 3 || c.k == 10) lengths.push_back((4u << 20) + 1);
    for (size_t len : lengths) {
      const Bytes data = RandomBytes(len, rng());
      auto enc = EncodeShards(c.k, c.m, data);
      ASSERT_TRUE(enc.ok()) << c.k << "+" << c.m;
      ASSERT_EQ(enc->count(), c.k + c.m);
      ASSERT_EQ(enc->shard_size(), ShardSize(len, c.k));
      for (int trial = 0; trial < 8; ++trial) {
        std::vector<int> all(static_cast<size_t>(c.k + c.m));
        for (int i = 0; i < c.k + c.m; ++i) all[static_cast<size_t>(i)] = i;
        std::shuffle(all.begin(), all.end(), rng);
        all.resize(k);  // exactly k survivors, in a random order
        ExpectDecodes(c.k, c.m, data, *enc, all);
      }
    }
  }
}

TEST(ErasureTest, OnePlusMIsMirroring) {
  const Bytes data = RandomBytes(777, 3);
  auto enc = EncodeShards(1, 3, data);
  ASSERT_TRUE(enc.ok());
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(Bytes(enc->shard(i).begin(), enc->shard(i).end()) == data) << i;
    ExpectDecodes(1, 3, data, *enc, {i});
  }
}

TEST(ErasureTest, RefusesTooFewRepeatedOrOutOfRangeShards) {
  const Bytes data = RandomBytes(100, 4);
  auto enc = EncodeShards(4, 2, data);
  ASSERT_TRUE(enc.ok());
  auto view = [&](int i) { return ShardView{i, enc->shard(i)}; };
  std::vector<ShardView> three = {view(0), view(1), view(5)};
  EXPECT_EQ(DecodeShards(4, 2, 100, three).code(), Errc::kInvalid);
  std::vector<ShardView> repeated = {view(0), view(1), view(1), view(5)};
  EXPECT_EQ(DecodeShards(4, 2, 100, repeated).code(), Errc::kInvalid);
  std::vector<ShardView> out_of_range = {view(0), view(1), view(2), {6, enc->shard(5)}};
  EXPECT_EQ(DecodeShards(4, 2, 100, out_of_range).code(), Errc::kInvalid);
  std::vector<ShardView> negative = {view(0), view(1), view(2), {-1, enc->shard(5)}};
  EXPECT_EQ(DecodeShards(4, 2, 100, negative).code(), Errc::kInvalid);
  EXPECT_EQ(DecodeShards(4, 2, 100, {}).code(), Errc::kInvalid);
}

TEST(ErasureTest, WrongShardSizesAreCorrupt) {
  const Bytes data = RandomBytes(100, 5);
  auto enc = EncodeShards(4, 2, data);
  ASSERT_TRUE(enc.ok());
  const Bytes shorter(enc->shard(1).begin(), enc->shard(1).end() - 1);
  std::vector<ShardView> views = {
      {0, enc->shard(0)}, {1, shorter}, {2, enc->shard(2)}, {3, enc->shard(3)}};
  EXPECT_EQ(DecodeShards(4, 2, 100, views).code(), Errc::kCorrupt);
  // The caller's length decides the shard size: a wrong length is a mismatch, not wrong bytes.
  std::vector<ShardView> good = {
      {0, enc->shard(0)}, {1, enc->shard(1)}, {2, enc->shard(2)}, {3, enc->shard(3)}};
  EXPECT_EQ(DecodeShards(4, 2, 200, good).code(), Errc::kCorrupt);
  // Same shard size but shorter: the last data bytes would be dropped as "padding"; they are
  // not zero, so that is refused too.
  EXPECT_EQ(DecodeShards(4, 2, 97, good).code(), Errc::kCorrupt);
}

TEST(ErasureTest, NonZeroRebuiltPaddingIsCorrupt) {
  // 5 bytes in 4+2: shards of 2 bytes; shard 3 is pure padding, so rebuilding it from a damaged
  // parity shard gives non-zero padding.
  const Bytes data = RandomBytes(5, 6);
  auto enc = EncodeShards(4, 2, data);
  ASSERT_TRUE(enc.ok());
  Bytes parity(enc->shard(4).begin(), enc->shard(4).end());
  parity[0] ^= 0x40;
  std::vector<ShardView> views = {
      {0, enc->shard(0)}, {1, enc->shard(1)}, {2, enc->shard(2)}, {4, parity}};
  EXPECT_EQ(DecodeShards(4, 2, 5, views).code(), Errc::kCorrupt);
}

TEST(ErasureTest, ChecksumIsXxh3) {
  EXPECT_EQ(ShardChecksum({}), 0x2D06800538D394C2ULL);  // XXH3_64bits of nothing
  const Bytes a = RandomBytes(64, 7);
  Bytes b = a;
  b[63] ^= 1;
  EXPECT_NE(ShardChecksum(a), ShardChecksum(b));
}

}  // namespace
}  // namespace shardfs::remote
