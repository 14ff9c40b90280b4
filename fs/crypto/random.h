// OS randomness (getrandom(2)) for keys, salts, nonces and mnemonics. Thread-safe.
#pragma once

#include <cstddef>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::crypto {

// Fills out from the kernel's CSPRNG; blocks only until the pool is first seeded at boot.
util::Status FillRandom(util::MutableByteSpan out);
util::Result<util::Bytes> RandomBytes(size_t n);
util::Result<util::SecretBytes> RandomSecret(size_t n);

}  // namespace shardfs::crypto
