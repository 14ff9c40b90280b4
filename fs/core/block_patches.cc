#include "fs/core/block_patches.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "fs/util/check.h"

namespace shardfs::core {

void BlockPatches::Write(uint32_t offset, util::ByteSpan data) {
  if (data.empty()) return;
  const uint64_t end = uint64_t{offset} + data.size();
  // The first range that overlaps or touches [offset, end): the one starting at or before
  // offset if it reaches offset, else the first starting after it.
  auto it = ranges_.upper_bound(offset);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second.size() >= offset) it = prev;
  }
  if (it == ranges_.end() || it->first > end) {  // touches nothing: a range of its own
    ranges_.emplace(offset, util::Bytes(data.begin(), data.end()));
    bytes_ += data.size();
    return;
  }
  // Merge into the range at it, extended to its new start (if the write starts before it)
  // and end.
  if (it->first > offset) {
    util::Bytes merged(data.begin(), data.end());
    const uint64_t old_end = it->first + it->second.size();
    if (old_end > end) {
      merged.insert(merged.end(), it->second.end() - static_cast<ptrdiff_t>(old_end - end),
                    it->second.end());
    }
    bytes_ -= it->second.size();
    it = ranges_.erase(it);
    it = ranges_.emplace_hint(it, offset, std::move(merged));
    bytes_ += it->second.size();
  } else {
    util::Bytes& bytes = it->second;
    const size_t at = offset - it->first;
    if (at + data.size() > bytes.size()) {
      bytes_ += at + data.size() - bytes.size();
      bytes.resize(at + data.size());
    }
    std::memcpy(bytes.data() + at, data.data(), data.size());
  }
  // Absorb the ranges the merged one now overlaps or touches.
  util::Bytes& merged = it->second;
  const uint32_t start = it->first;
  for (auto next = std::next(it); next != ranges_.end();) {
    const uint64_t merged_end = start + merged.size();
    if (next->first > merged_end) break;
    const uint64_t next_end = next->first + next->second.size();
    bytes_ -= next->second.size();
    if (next_end > merged_end) {
      const size_t tail = static_cast<size_t>(next_end - merged_end);
      merged.insert(merged.end(), next->second.end() - static_cast<ptrdiff_t>(tail),
                    next->second.end());
      bytes_ += tail;
    }
    next = ranges_.erase(next);
  }
}

void BlockPatches::Truncate(uint32_t keep) {
  auto it = ranges_.lower_bound(keep);
  for (auto gone = it; gone != ranges_.end(); ++gone) bytes_ -= gone->second.size();
  ranges_.erase(it, ranges_.end());
  if (ranges_.empty()) return;
  auto last = std::prev(ranges_.end());
  if (last->first + last->second.size() > keep) {
    const size_t now = keep - last->first;
    bytes_ -= last->second.size() - now;
    last->second.resize(now);
    last->second.shrink_to_fit();
  }
}

void BlockPatches::ApplyTo(util::Bytes& block) const {
  for (const auto& [start, bytes] : ranges_) {
    std::memcpy(block.data() + start, bytes.data(), bytes.size());
  }
}

uint32_t BlockPatches::end() const {
  if (ranges_.empty()) return 0;
  const auto& [start, bytes] = *ranges_.rbegin();
  return static_cast<uint32_t>(start + bytes.size());
}

bool BlockPatches::Covers(uint32_t offset, uint32_t length) const {
  if (length == 0) return true;
  auto it = ranges_.upper_bound(offset);
  if (it == ranges_.begin()) return false;
  --it;
  return uint64_t{it->first} + it->second.size() >= uint64_t{offset} + length;
}

util::Bytes BlockPatches::TakeOnly() {
  SHARDFS_CHECK(ranges_.size() == 1 && ranges_.begin()->first == 0,
                "TakeOnly needs a single range at offset 0");
  util::Bytes out = std::move(ranges_.begin()->second);
  ranges_.clear();
  bytes_ = 0;
  return out;
}

}  // namespace shardfs::core
