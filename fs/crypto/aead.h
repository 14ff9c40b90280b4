// Sealed blocks: AES-256-GCM with a random 96-bit nonce, caller-given AAD, and padding so the
// object size hides the exact plaintext size (padding is inside the ciphertext, so it is
// authenticated). Format v1 is documented in docs/sealed-block.md. Opening never returns
// plaintext unless the whole sealed block, its header and the AAD verify: any failure is
// kCorrupt. Pure functions (plus OS randomness for nonces); thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::crypto {

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;
inline constexpr uint8_t kSealedBlockVersion = 1;
inline constexpr size_t kSealedBlockHeaderSize = 20;  // magic, version, cipher, reserved, nonce
// Largest plaintext a sealed block carries (the inner length field is 32 bits).
inline constexpr size_t kMaxBlockPlaintext = size_t{1} << 30;

// Size of the padded inner payload (4-byte length + plaintext + zero padding) for n bytes.
size_t PaddedPayloadSize(size_t plaintext_size);
// Total sealed size for n plaintext bytes: header + padded payload + tag.
size_t SealedBlockSize(size_t plaintext_size);

// Seals with a fresh random nonce. key must be 32 bytes (kInvalid otherwise).
util::Result<util::Bytes> SealBlock(const util::SecretBytes& key, util::ByteSpan aad,
                                    util::ByteSpan plaintext);
// Same with a given nonce: for golden-file tests only; reusing a nonce under one key breaks GCM.
util::Result<util::Bytes> SealBlockWithNonce(const util::SecretBytes& key, util::ByteSpan nonce,
                                             util::ByteSpan aad, util::ByteSpan plaintext);
// kCorrupt for a wrong key, a wrong AAD, any changed byte, truncation or an unknown header.
util::Result<util::Bytes> OpenBlock(const util::SecretBytes& key, util::ByteSpan aad,
                                    util::ByteSpan sealed);
// The same, decrypting in the sealed block's own memory (no second allocation of a block's
// size): the plaintext on success; on failure the buffer's decrypted bytes are wiped.
util::Result<util::Bytes> OpenBlockInPlace(const util::SecretBytes& key, util::ByteSpan aad,
                                           util::Bytes sealed);

// The AAD binding a block to its place: drive id | inode | block index | generation
// (docs/sealed-block.md). A node or cache cannot swap, move or replay blocks undetected.
util::Bytes BlockAad(util::ByteSpan drive_id, uint64_t inode, uint64_t block_index,
                     uint64_t generation);

// Raw AES-256-GCM, for the other sealed formats (keyfile, wrapped keys). Output is
// ciphertext || 16-byte tag; Decrypt gives kCorrupt when the tag does not verify.
util::Result<util::Bytes> AesGcmEncrypt(const util::SecretBytes& key, util::ByteSpan nonce,
                                        util::ByteSpan aad, util::ByteSpan plaintext);
util::Result<util::SecretBytes> AesGcmDecrypt(const util::SecretBytes& key, util::ByteSpan nonce,
                                              util::ByteSpan aad,
                                              util::ByteSpan ciphertext_and_tag);

}  // namespace shardfs::crypto
