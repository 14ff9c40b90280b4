// Keyfile: the drive's mnemonic wrapped under a key derived from the user's password with
// Argon2id (random salt, parameters stored in the file), sealed with AES-256-GCM. Format v1 is
// in docs/keyfile.md. A trailing SHA-256 of the file tells a damaged keyfile (kCorrupt) apart
// from a wrong password (kPermission). Parsing never trusts sizes or costs from the file
// beyond fixed bounds. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::crypto {

inline constexpr uint8_t kKeyfileVersion = 1;

struct KdfParams {
  uint32_t t_cost = 3;          // Argon2id passes
  uint32_t m_cost_kib = 65536;  // memory, KiB (64 MiB)
  uint32_t parallelism = 1;     // lanes
};

// Limits accepted when reading a keyfile (a garbled file must not make us allocate 1 TiB).
inline constexpr uint32_t kMaxKdfTCost = 64;
inline constexpr uint32_t kMaxKdfMCostKib = 4u << 20;  // 4 GiB
inline constexpr uint32_t kMaxKdfParallelism = 64;

// Serialized keyfile wrapping `secret` (the normalized mnemonic) under `password`.
util::Result<util::Bytes> WrapSecret(const util::SecretBytes& secret,
                                     const util::SecretBytes& password, const KdfParams& params);
// Deterministic variant for golden-file tests: salt is 16 bytes, nonce 12.
util::Result<util::Bytes> WrapSecretWith(const util::SecretBytes& secret,
                                         const util::SecretBytes& password, const KdfParams& params,
                                         util::ByteSpan salt, util::ByteSpan nonce);
// Errors: kCorrupt (truncated, garbled, checksum mismatch), kUnsupported (a newer version),
// kPermission (the password does not open it). `name` (usually the path) goes into messages.
util::Result<util::SecretBytes> UnwrapSecret(util::ByteSpan keyfile,
                                             const util::SecretBytes& password,
                                             const std::string& name);
// The KDF parameters stored in a keyfile, without the password (kCorrupt if unreadable).
util::Result<KdfParams> ReadKdfParams(util::ByteSpan keyfile, const std::string& name);

// Writes a keyfile atomically with mode 0600 (temp file, fsync, rename); refuses to replace an
// existing file unless `replace`.
util::Status WriteKeyfile(const std::string& path, util::ByteSpan keyfile, bool replace);
// Reads and unwraps the keyfile at path; kNotFound names the path when it is missing.
util::Result<util::SecretBytes> ReadKeyfile(const std::string& path,
                                            const util::SecretBytes& password);

}  // namespace shardfs::crypto
