#include "fs/remote/location_record.h"

#include <fmt/format.h>

#include <algorithm>

#include "fs/remote/erasure.h"
#include "fs/util/encoding.h"

namespace shardfs::remote {
namespace {

using util::Errc;
using util::MakeError;

constexpr size_t kHeaderSize = 20;     // version, k, m, node count, length u64, shard size u64
constexpr size_t kShardEntrySize = 9;  // node table index, XXH3-64
constexpr size_t kTrailerSize = 8;     // XXH3-64 of everything before it

util::Error Corrupt(std::string_view why) {
  return MakeError(Errc::kCorrupt, fmt::format("damaged location record: {}", why));
}

// Reads forward through the record; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(util::ByteSpan b) : b_(b) {}
  bool U8(uint8_t& v) {
    if (pos_ + 1 > b_.size()) return false;
    v = b_[pos_++];
    return true;
  }
  bool U64(uint64_t& v) {
    if (b_.size() - pos_ < 8) return false;
    v = util::LoadU64Le(b_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool String(size_t n, std::string& v) {
    if (b_.size() - pos_ < n) return false;
    v.assign(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == b_.size(); }

 private:
  util::ByteSpan b_;
  size_t pos_ = 0;
};

}  // namespace

util::Result<util::Bytes> SerializeLocationRecord(const LocationRecord& r) {
  SHARDFS_TRY(ValidateErasureCode(r.k, r.m));
  if (r.shards.size() != static_cast<size_t>(r.k + r.m)) {
    return MakeError(Errc::kInvalid, fmt::format("a {}+{} location record needs {} shards, not {}",
                                                 r.k, r.m, r.k + r.m, r.shards.size()));
  }
  if (r.shard_size != ShardSize(r.length, r.k)) {
    return MakeError(Errc::kInvalid, "the shard size does not match the block length");
  }
  // The node table lists each node once, in order of first use, so the encoding is canonical.
  std::vector<std::string> table;
  std::vector<uint8_t> refs;
  for (const ShardLocation& s : r.shards) {
    if (s.node.empty() || s.node.size() > kMaxNodeNameLength) {
      return MakeError(Errc::kInvalid, fmt::format("node name of {} bytes (1-{} allowed)",
                                                   s.node.size(), kMaxNodeNameLength));
    }
    auto it = std::find(table.begin(), table.end(), s.node);
    refs.push_back(static_cast<uint8_t>(it - table.begin()));
    if (it == table.end()) table.push_back(s.node);
  }
  util::Bytes out;
  out.push_back(kLocationRecordVersion);
  out.push_back(static_cast<uint8_t>(r.k));
  out.push_back(static_cast<uint8_t>(r.m));
  out.push_back(static_cast<uint8_t>(table.size()));
  util::AppendU64Le(out, r.length);
  util::AppendU64Le(out, r.shard_size);
  for (const std::string& name : table) {
    out.push_back(static_cast<uint8_t>(name.size()));
    out.insert(out.end(), name.begin(), name.end());
  }
  for (size_t i = 0; i < r.shards.size(); ++i) {
    out.push_back(refs[i]);
    util::AppendU64Le(out, r.shards[i].checksum);
  }
  util::AppendU64Le(out, ShardChecksum(out));
  return out;
}

util::Result<LocationRecord> ParseLocationRecord(util::ByteSpan bytes) {
  if (bytes.size() < kHeaderSize + kTrailerSize) {
    return Corrupt(fmt::format("{} bytes is too short", bytes.size()));
  }
  // The checksum first: any flipped byte is damage, whatever field it hit.
  const util::ByteSpan body = bytes.first(bytes.size() - kTrailerSize);
  if (util::LoadU64Le(bytes.data() + body.size()) != ShardChecksum(body)) {
    return Corrupt("checksum mismatch");
  }
  Reader in(body);
  uint8_t version = 0, k = 0, m = 0, nodes = 0;
  LocationRecord r;
  if (!in.U8(version) || !in.U8(k) || !in.U8(m) || !in.U8(nodes) || !in.U64(r.length) ||
      !in.U64(r.shard_size)) {
    return Corrupt("truncated header");
  }
  if (version != kLocationRecordVersion) {
    return MakeError(Errc::kUnsupported,
                     fmt::format("location record version {} is not supported (this build reads "
                                 "version {})",
                                 version, kLocationRecordVersion));
  }
  r.k = k;
  r.m = m;
  if (!ValidateErasureCode(r.k, r.m).ok()) return Corrupt(fmt::format("code {}+{}", r.k, r.m));
  if (r.shard_size != ShardSize(r.length, r.k)) {
    return Corrupt(fmt::format("shard size {} for a block of {} bytes", r.shard_size, r.length));
  }
  const size_t total = static_cast<size_t>(r.k + r.m);
  if (nodes == 0 || nodes > total) return Corrupt(fmt::format("{} nodes", nodes));
  std::vector<std::string> table(nodes);
  for (std::string& name : table) {
    uint8_t len = 0;
    if (!in.U8(len) || len == 0 || !in.String(len, name)) return Corrupt("bad node table");
  }
  std::vector<bool> used(nodes, false);
  size_t next_new = 0;  // canonical: table entries appear in order of first use
  r.shards.resize(total);
  for (ShardLocation& s : r.shards) {
    uint8_t ref = 0;
    if (!in.U8(ref) || !in.U64(s.checksum)) return Corrupt("truncated shard list");
    if (ref >= nodes) return Corrupt(fmt::format("node reference {} of {}", ref, nodes));
    if (!used[ref]) {
      if (ref != next_new) return Corrupt("node table out of order");
      used[ref] = true;
      ++next_new;
    }
    s.node = table[ref];
  }
  if (next_new != nodes) return Corrupt("unused node table entry");
  if (!in.done()) return Corrupt("trailing bytes");
  for (size_t i = 0; i < table.size(); ++i) {
    for (size_t j = i + 1; j < table.size(); ++j) {
      if (table[i] == table[j]) return Corrupt("node listed twice");
    }
  }
  return r;
}

}  // namespace shardfs::remote
