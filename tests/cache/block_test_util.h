// Helpers for BlockCache tests: ids and block contents derived from a number, so any thread can
// check what it reads without shared state.
#pragma once

#include <cstdint>
#include <string>

#include "fs/util/bytes.h"
#include "fs/util/ids.h"

namespace shardfs::cache {

inline util::ObjectId Id(uint32_t n) {
  util::ObjectId id;
  for (int i = 0; i < 4; ++i) id.bytes[i] = static_cast<uint8_t>(n >> (8 * i));  // spread dirs
  id.bytes[15] = 0x42;
  return id;
}

inline util::Bytes Block(uint32_t n, size_t size) {
  util::Bytes b(size);
  uint64_t x = n * 0x9e3779b97f4a7c15ULL + size;
  for (size_t i = 0; i < size; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    b[i] = static_cast<uint8_t>(x >> 56);
  }
  return b;
}

// Where BlockCache keeps the file of id under cache directory dir.
inline std::string BlockFileOf(const std::string& dir, const util::ObjectId& id) {
  std::string hex = id.Hex();
  return dir + "/blocks/" + hex.substr(0, 2) + "/" + hex;
}

}  // namespace shardfs::cache
