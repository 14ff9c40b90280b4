// BlockPatches: the bytes written into one block that was not read first — byte ranges, kept
// sorted, disjoint and not touching (a write that overlaps or touches ranges merges with them;
// the newest bytes win). A random 4 KiB write then costs a copy of 4 KiB, not a read and
// decryption of the whole stored block; the stored block is read once, when the patches are
// sealed on top of it or a reader needs the block. Not thread-safe (CoreFs guards it).
#pragma once

#include <cstdint>
#include <map>

#include "fs/util/bytes.h"

namespace shardfs::core {

class BlockPatches {
 public:
  // Writes data at offset. Appending at the end of a range grows that range in place
  // (amortized: a run of small sequential writes costs linear time).
  void Write(uint32_t offset, util::ByteSpan data);
  // Drops every byte at or past keep.
  void Truncate(uint32_t keep);
  // Copies every range into block, which must hold at least end() bytes.
  void ApplyTo(util::Bytes& block) const;

  bool empty() const { return ranges_.empty(); }
  uint32_t end() const;                      // one past the last byte written; 0 when empty
  uint64_t bytes() const { return bytes_; }  // bytes held
  size_t ranges() const { return ranges_.size(); }
  // Whether [offset, offset + length) is written whole.
  bool Covers(uint32_t offset, uint32_t length) const;
  // The bytes of the only range, which starts at 0 (checked); leaves the patches empty.
  util::Bytes TakeOnly();

 private:
  std::map<uint32_t, util::Bytes> ranges_;  // start -> bytes
  uint64_t bytes_ = 0;
};

}  // namespace shardfs::core
