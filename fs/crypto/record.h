// Small sealed records for local metadata (inode records, sealed names, block-map entries,
// xattrs): AES-256-GCM with a random nonce and caller AAD, no padding. Layout: nonce (12) |
// ciphertext | tag (16). And HMAC-SHA256, for lookup keys that reveal nothing of the name.
// Pure functions (plus OS randomness); thread-safe.
#pragma once

#include <array>
#include <cstdint>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::crypto {

inline constexpr size_t kRecordOverhead = 12 + 16;

util::Result<util::Bytes> SealRecord(const util::SecretBytes& key, util::ByteSpan aad,
                                     util::ByteSpan plaintext);
// kCorrupt unless the record verifies under key and aad.
util::Result<util::SecretBytes> OpenRecord(const util::SecretBytes& key, util::ByteSpan aad,
                                           util::ByteSpan sealed);

std::array<uint8_t, 32> HmacSha256(const util::SecretBytes& key, util::ByteSpan data);

}  // namespace shardfs::crypto
