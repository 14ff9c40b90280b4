// Hex and little-endian helpers for the project's binary formats. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fs/util/bytes.h"

namespace shardfs::util {

std::string ToHex(ByteSpan data);
// nullopt on odd length or a non-hex character. Accepts upper and lower case.
std::optional<Bytes> FromHex(std::string_view hex);

void AppendU16Le(Bytes& out, uint16_t v);
void AppendU32Le(Bytes& out, uint32_t v);
void AppendU64Le(Bytes& out, uint64_t v);
uint16_t LoadU16Le(const uint8_t* p);
uint32_t LoadU32Le(const uint8_t* p);
uint64_t LoadU64Le(const uint8_t* p);
void StoreU32Le(uint8_t* p, uint32_t v);

}  // namespace shardfs::util
