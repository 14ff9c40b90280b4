// Human sizes: "32M", "4K", "1G", "4096", "1.5G" -> bytes (binary multiples: K = 1024), and back.
// Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fs/util/result.h"

namespace shardfs::util {

// Accepts an optional "B"/"iB" after the suffix (4M, 4MB, 4MiB) and no negative numbers.
Result<uint64_t> ParseSize(std::string_view text);
// Shortest exact form when the size is a whole multiple ("4M"), else bytes ("4097").
std::string FormatSize(uint64_t bytes);
// For people, not configs: "0 B", "4.0 KiB", "47.7 MiB", "1.2 GiB" (one decimal).
std::string HumanSize(uint64_t bytes);

}  // namespace shardfs::util
