// BlockPatches against a plain array that records which bytes were written: random writes and
// truncates, checked after each step (contents, coverage, byte count and the disjoint ranges).
#include "fs/core/block_patches.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace shardfs::core {
namespace {

constexpr uint32_t kBlock = 4096;

struct Shadow {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(kBlock, 0);
  std::vector<bool> written = std::vector<bool>(kBlock, false);
};

void ExpectSame(const BlockPatches& p, const Shadow& s, uint64_t seed) {
  util::Bytes block(kBlock, 0xee);  // bytes never written keep this
  p.ApplyTo(block);
  uint64_t written = 0, runs = 0;
  uint32_t end = 0;
  for (uint32_t i = 0; i < kBlock; ++i) {
    if (s.written[i]) {
      ASSERT_EQ(block[i], s.bytes[i]) << "byte " << i << ", seed " << seed;
      ++written;
      end = i + 1;
      if (i == 0 || !s.written[i - 1]) ++runs;
    } else {
      ASSERT_EQ(block[i], 0xee) << "byte " << i << " was never written, seed " << seed;
    }
  }
  EXPECT_EQ(p.bytes(), written) << "seed " << seed;
  EXPECT_EQ(p.ranges(), runs) << "ranges must be disjoint and not touch; seed " << seed;
  EXPECT_EQ(p.end(), end) << "seed " << seed;
  EXPECT_EQ(p.empty(), written == 0);
}

TEST(BlockPatchesTest, RandomWritesAndTruncatesMatchAPlainArray) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](uint32_t lo, uint32_t hi) {
      return std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
    };
    BlockPatches p;
    Shadow s;
    for (int step = 0; step < 300; ++step) {
      if (pick(0, 19) == 0) {
        const uint32_t keep = pick(0, kBlock);
        p.Truncate(keep);
        for (uint32_t i = keep; i < kBlock; ++i) s.written[i] = false;
      } else {
        const uint32_t off = pick(0, kBlock - 1);
        const uint32_t len =
            pick(0, 3) == 0 ? pick(1, kBlock - off) : pick(1, std::min(64u, kBlock - off));
        util::Bytes data(len);
        for (auto& b : data) b = static_cast<uint8_t>(rng());
        p.Write(off, data);
        for (uint32_t i = 0; i < len; ++i) {
          s.bytes[off + i] = data[i];
          s.written[off + i] = true;
        }
      }
      ExpectSame(p, s, seed);
      if (HasFatalFailure()) return;
      const uint32_t off = pick(0, kBlock - 1), len = pick(0, kBlock - off);
      bool all = true;
      for (uint32_t i = off; i < off + len; ++i) all = all && s.written[i];
      EXPECT_EQ(p.Covers(off, len), all) << off << "+" << len << ", seed " << seed;
    }
  }
}

TEST(BlockPatchesTest, AdjacentWritesMergeAndAnAppendGrowsInPlace) {
  BlockPatches p;
  p.Write(100, util::Bytes(10, 1));
  p.Write(120, util::Bytes(10, 2));
  EXPECT_EQ(p.ranges(), 2u);
  p.Write(110, util::Bytes(10, 3));  // touches both: one range [100, 130)
  EXPECT_EQ(p.ranges(), 1u);
  EXPECT_EQ(p.bytes(), 30u);
  EXPECT_TRUE(p.Covers(100, 30));
  EXPECT_FALSE(p.Covers(99, 2));
  for (uint32_t at = 130; at < 1130; ++at) p.Write(at, util::Bytes(1, 4));
  EXPECT_EQ(p.ranges(), 1u);
  EXPECT_EQ(p.end(), 1130u);
  p.Write(50, util::Bytes(60, 5));  // starts before the range and overlaps it
  EXPECT_EQ(p.ranges(), 1u);
  EXPECT_EQ(p.bytes(), 1080u);
  p.Truncate(80);
  EXPECT_EQ(p.bytes(), 30u);
  EXPECT_EQ(p.end(), 80u);
  p.Truncate(0);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.bytes(), 0u);
}

}  // namespace
}  // namespace shardfs::core
