// Helpers shared by the golden-file tests (tests/data/golden/): whether to rewrite the goldens
// instead of comparing (SHARDFS_UPDATE_GOLDEN=1, after a deliberate format version bump), and
// the counting byte patterns the fixed inputs are made of. Test-only.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fs/util/bytes.h"
#include "fs/util/ids.h"

namespace shardfs::golden {

inline bool Updating() {
  const char* v = std::getenv("SHARDFS_UPDATE_GOLDEN");
  return v != nullptr && std::string_view(v) == "1";
}

// n bytes start, start+1, ... (wrapping).
inline util::Bytes Counting(uint8_t start, size_t n) {
  util::Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(start + i);
  return b;
}

// An object id of counting bytes from start.
inline util::ObjectId CountingId(uint8_t start) {
  util::ObjectId id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(start + i);
  return id;
}

}  // namespace shardfs::golden
