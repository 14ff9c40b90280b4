// HKDF-SHA256 (RFC 5869) through OpenSSL's EVP_KDF. Pure and thread-safe.
#pragma once

#include <cstddef>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::crypto {

// length at most 255 * 32 bytes; an empty salt means HashLen zero bytes (RFC 5869 2.2).
util::Result<util::SecretBytes> HkdfSha256(util::ByteSpan ikm, util::ByteSpan salt,
                                           util::ByteSpan info, size_t length);

}  // namespace shardfs::crypto
