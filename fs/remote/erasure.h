// Reed-Solomon erasure coding over ISA-L: bytes are cut into k data shards (the last ones
// zero-padded) plus m parity shards, all ShardSize(length, k) bytes, and any k distinct shards
// give the bytes back. The matrix is Cauchy (identity on top), so every k x k submatrix is
// invertible; k == 1 is plain mirroring (every shard a copy). Shards do not carry the length:
// the caller keeps it. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::remote {

inline constexpr int kMaxDataShards = 32;
inline constexpr int kMaxParityShards = 16;
inline constexpr int kMaxShards = 48;  // k + m

// kInvalid unless 1 <= k <= 32, 0 <= m <= 16 and k + m <= 48.
util::Status ValidateErasureCode(int k, int m);

// ceil(length / k): the size of every shard of a block of length bytes. k >= 1.
uint64_t ShardSize(uint64_t length, int k);

// The k + m shards of one block, by index (data 0..k-1, then parity). Data shards that lie wholly
// inside the input are views of it, so the input must outlive this; padded data shards and
// parity live in one owned buffer. Move-only; moving keeps every view valid.
class EncodedShards {
 public:
  EncodedShards() = default;
  EncodedShards(EncodedShards&&) = default;
  EncodedShards& operator=(EncodedShards&&) = default;

  int count() const { return static_cast<int>(shards_.size()); }
  uint64_t shard_size() const { return shard_size_; }
  util::ByteSpan shard(int index) const { return shards_[static_cast<size_t>(index)]; }

 private:
  friend util::Result<EncodedShards> EncodeShards(int k, int m, util::ByteSpan data);

  uint64_t shard_size_ = 0;
  std::vector<util::ByteSpan> shards_;
  std::unique_ptr<uint8_t[]> owned_;
};

// kInvalid for a bad (k, m) or a shard over 2^31 - 1 bytes (ISA-L takes an int).
util::Result<EncodedShards> EncodeShards(int k, int m, util::ByteSpan data);

struct ShardView {
  int index = 0;  // 0 .. k + m - 1
  util::ByteSpan data;
};

// The original length bytes from at least k distinct shards (more are allowed; data shards are
// used first, so a block with all its data shards needs no decoding). kInvalid for a bad code,
// an index out of range, a repeated index or fewer than k shards; kCorrupt when a shard is not
// ShardSize(length, k) bytes or the rebuilt padding is not zero.
util::Result<util::Bytes> DecodeShards(int k, int m, uint64_t length,
                                       std::span<const ShardView> shards);

// XXH3-64 of a shard, as kept in the location record.
uint64_t ShardChecksum(util::ByteSpan shard);

}  // namespace shardfs::remote
