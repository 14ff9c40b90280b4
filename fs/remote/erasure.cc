#include "fs/remote/erasure.h"

#include <fmt/format.h>
#include <isa-l/erasure_code.h>

#include <algorithm>
#include <climits>
#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace shardfs::remote {
namespace {

using util::Errc;
using util::MakeError;

// The (k + m) x k Cauchy coding matrix, row-major; the top k rows are the identity.
std::vector<uint8_t> CodingMatrix(int k, int m) {
  std::vector<uint8_t> a(static_cast<size_t>((k + m) * k));
  gf_gen_cauchy1_matrix(a.data(), k + m, k);
  return a;
}

util::Status CheckShardSize(uint64_t shard_size) {
  if (shard_size > static_cast<uint64_t>(INT_MAX)) {
    return MakeError(Errc::kInvalid,
                     fmt::format("a shard of {} bytes is too large to erasure-code", shard_size));
  }
  return util::Ok();
}

// rows x k coefficients applied to k sources, writing rows outputs of len bytes.
void ApplyMatrix(int k, int rows, uint8_t* coefficients, int len, uint8_t** sources,
                 uint8_t** outputs) {
  std::vector<uint8_t> tables(static_cast<size_t>(32 * k * rows));
  ec_init_tables(k, rows, coefficients, tables.data());
  ec_encode_data(len, k, rows, tables.data(), sources, outputs);
}

}  // namespace

util::Status ValidateErasureCode(int k, int m) {
  if (k < 1 || k > kMaxDataShards) {
    return MakeError(Errc::kInvalid, fmt::format("erasure code {}+{}: k must be 1 to {} data "
                                                 "shards",
                                                 k, m, kMaxDataShards));
  }
  if (m < 0 || m > kMaxParityShards) {
    return MakeError(Errc::kInvalid, fmt::format("erasure code {}+{}: m must be 0 to {} parity "
                                                 "shards",
                                                 k, m, kMaxParityShards));
  }
  if (k + m > kMaxShards) {
    return MakeError(Errc::kInvalid,
                     fmt::format("erasure code {}+{}: at most {} shards in all", k, m, kMaxShards));
  }
  return util::Ok();
}

uint64_t ShardSize(uint64_t length, int k) {
  const auto kk = static_cast<uint64_t>(k);
  return length / kk + (length % kk != 0 ? 1 : 0);
}

util::Result<EncodedShards> EncodeShards(int k, int m, util::ByteSpan data) {
  SHARDFS_TRY(ValidateErasureCode(k, m));
  const uint64_t size = ShardSize(data.size(), k);
  SHARDFS_TRY(CheckShardSize(size));
  EncodedShards out;
  out.shard_size_ = size;
  out.shards_.resize(static_cast<size_t>(k + m));
  if (k == 1) {  // mirroring: every shard is the input itself
    std::fill(out.shards_.begin(), out.shards_.end(), data);
    return out;
  }
  // Data shards wholly inside the input are views; the rest are copied, zero-padded, into the
  // owned buffer, followed by the parity shards.
  int full = static_cast<int>(size == 0 ? k : std::min<uint64_t>(data.size() / size, k));
  const auto owned_shards = static_cast<size_t>(k - full + m);
  out.owned_ = std::make_unique_for_overwrite<uint8_t[]>(owned_shards * size);
  uint8_t* owned = out.owned_.get();
  std::vector<uint8_t*> sources(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) {
    const uint64_t begin = static_cast<uint64_t>(i) * size;
    uint8_t* shard;
    if (i < full) {
      shard = const_cast<uint8_t*>(data.data() + begin);  // ISA-L only reads its sources
    } else {
      shard = owned + static_cast<size_t>(i - full) * size;
      const uint64_t n = begin < data.size() ? std::min(size, data.size() - begin) : 0;
      if (n > 0) std::memcpy(shard, data.data() + begin, n);
      std::memset(shard + n, 0, size - n);
    }
    sources[static_cast<size_t>(i)] = shard;
    out.shards_[static_cast<size_t>(i)] = util::ByteSpan(shard, size);
  }
  std::vector<uint8_t*> parity(static_cast<size_t>(m));
  for (int j = 0; j < m; ++j) {
    parity[static_cast<size_t>(j)] = owned + static_cast<size_t>(k - full + j) * size;
    out.shards_[static_cast<size_t>(k + j)] = util::ByteSpan(parity[static_cast<size_t>(j)], size);
  }
  if (m > 0 && size > 0) {
    std::vector<uint8_t> a = CodingMatrix(k, m);
    ApplyMatrix(k, m, a.data() + k * k, static_cast<int>(size), sources.data(), parity.data());
  }
  return out;
}

util::Result<util::Bytes> DecodeShards(int k, int m, uint64_t length,
                                       std::span<const ShardView> shards) {
  SHARDFS_TRY(ValidateErasureCode(k, m));
  const uint64_t size = ShardSize(length, k);
  SHARDFS_TRY(CheckShardSize(size));
  // By index, so data shards come first and a repeat is next to its twin.
  std::vector<const ShardView*> sorted;
  sorted.reserve(shards.size());
  for (const ShardView& s : shards) {
    if (s.index < 0 || s.index >= k + m) {
      return MakeError(Errc::kInvalid,
                       fmt::format("shard index {} is out of range for {}+{}", s.index, k, m));
    }
    if (s.data.size() != size) {
      return MakeError(Errc::kCorrupt,
                       fmt::format("shard {} has {} bytes; a block of {} bytes has {}-byte shards",
                                   s.index, s.data.size(), length, size));
    }
    sorted.push_back(&s);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const ShardView* a, const ShardView* b) { return a->index < b->index; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i]->index == sorted[i - 1]->index) {
      return MakeError(Errc::kInvalid, fmt::format("shard {} is given twice", sorted[i]->index));
    }
  }
  if (sorted.size() < static_cast<size_t>(k)) {
    return MakeError(Errc::kInvalid, fmt::format("{}+{} needs {} shards to decode, got {}", k, m, k,
                                                 sorted.size()));
  }
  sorted.resize(static_cast<size_t>(k));

  if (k == 1) {
    return util::Bytes(sorted[0]->data.begin(), sorted[0]->data.end());
  }
  // Rebuild all k data shards in place, padding included, then check the padding and trim. The
  // data shards at hand are laid end to end; a missing one leaves a gap (zeroed: only it) that
  // decoding fills.
  std::vector<int> missing;
  util::Bytes out;
  out.reserve(static_cast<size_t>(size) * static_cast<size_t>(k));
  for (int i = 0, next = 0; i < k; ++i) {
    const ShardView* s = sorted[static_cast<size_t>(next)];
    if (s->index == i) {
      out.insert(out.end(), s->data.begin(), s->data.end());
      ++next;
    } else {
      out.insert(out.end(), static_cast<size_t>(size), uint8_t{0});
      missing.push_back(i);
    }
  }
  if (!missing.empty() && size > 0) {
    // The chosen shards are B * data for B = their rows of the coding matrix, so
    // data = B^-1 * chosen; each missing data shard is one row of B^-1 applied to them.
    const std::vector<uint8_t> a = CodingMatrix(k, m);
    const auto kk = static_cast<size_t>(k);
    std::vector<uint8_t> b(kk * kk), inverse(kk * kk);
    std::vector<uint8_t*> sources(kk);
    for (size_t r = 0; r < kk; ++r) {
      std::memcpy(&b[r * kk], &a[static_cast<size_t>(sorted[r]->index) * kk], kk);
      sources[r] = const_cast<uint8_t*>(sorted[r]->data.data());  // ISA-L only reads its sources
    }
    if (gf_invert_matrix(b.data(), inverse.data(), k) != 0) {
      return MakeError(Errc::kInternal, fmt::format("{}+{} decode matrix is singular", k, m));
    }
    std::vector<uint8_t> rows;
    std::vector<uint8_t*> outputs;
    for (int i : missing) {
      rows.insert(rows.end(), &inverse[static_cast<size_t>(i) * kk],
                  &inverse[static_cast<size_t>(i) * kk] + kk);
      outputs.push_back(out.data() + static_cast<size_t>(i) * size);
    }
    ApplyMatrix(k, static_cast<int>(missing.size()), rows.data(), static_cast<int>(size),
                sources.data(), outputs.data());
  }
  const auto pad_begin = out.begin() + static_cast<ptrdiff_t>(length);
  if (std::any_of(pad_begin, out.end(), [](uint8_t c) { return c != 0; })) {
    return MakeError(Errc::kCorrupt,
                     "the rebuilt block's padding is not zero: the shards do not "
                     "belong together");
  }
  out.resize(static_cast<size_t>(length));
  return out;
}

uint64_t ShardChecksum(util::ByteSpan shard) { return XXH3_64bits(shard.data(), shard.size()); }

}  // namespace shardfs::remote
