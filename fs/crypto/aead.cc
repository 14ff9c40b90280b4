#include "fs/crypto/aead.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cstddef>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "fs/crypto/random.h"
#include "fs/util/encoding.h"

namespace shardfs::crypto {

using util::Bytes;
using util::ByteSpan;
using util::Errc;
using util::MakeError;
using util::Result;
using util::SecretBytes;

namespace {

constexpr std::array<uint8_t, 4> kBlockMagic = {'S', 'F', 'B', 'K'};
constexpr std::array<uint8_t, 4> kAadMagic = {'S', 'F', 'B', 'A'};
constexpr uint8_t kCipherAes256Gcm = 1;
constexpr uint8_t kBlockAadVersion = 1;
constexpr size_t kLengthPrefixSize = 4;
// Small payloads all look alike: below this, every block has the same sealed size.
constexpr size_t kMinPaddedPlaintext = 256;
constexpr size_t kNonceOffset = 8;
// EVP takes int lengths; feeding at most this much per call keeps every cast exact.
constexpr size_t kEvpChunk = size_t{1} << 30;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

util::Error OpenSslError(const char* what) {
  return MakeError(Errc::kInternal, fmt::format("OpenSSL AES-256-GCM: {} failed", what));
}

util::Status CheckKey(const SecretBytes& key) {
  if (key.size() != kAeadKeySize) {
    return MakeError(Errc::kInvalid, fmt::format("AES-256-GCM key is {} bytes, expected {}",
                                                 key.size(), kAeadKeySize));
  }
  return util::Ok();
}

util::Status CheckKeyAndNonce(const SecretBytes& key, ByteSpan nonce) {
  SHARDFS_TRY(CheckKey(key));
  if (nonce.size() != kAeadNonceSize) {
    return MakeError(Errc::kInvalid, fmt::format("AES-256-GCM nonce is {} bytes, expected {}",
                                                 nonce.size(), kAeadNonceSize));
  }
  return util::Ok();
}

// AES-256-GCM fetched from the provider once: EVP_aes_256_gcm() makes OpenSSL 3 look the
// algorithm up again at every init, a cost that dominates sealing small metadata records.
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

// A GCM context keyed and with its nonce set, for encryption or decryption.
Result<CipherCtx> NewGcm(const SecretBytes& key, ByteSpan nonce, bool encrypt) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslError("context allocation");
  if (Aes256Gcm() == nullptr) return OpenSslError("AES-256-GCM fetch");
  // The default GCM IV length is 12, which is ours; no EVP_CTRL_GCM_SET_IVLEN needed.
  if (EVP_CipherInit_ex(ctx.get(), Aes256Gcm(), nullptr, key.data(), nonce.data(),
                        encrypt ? 1 : 0) != 1) {
    return OpenSslError("init");
  }
  return ctx;
}

// AAD may be fed in several calls: GCM authenticates their concatenation.
util::Status AddAad(EVP_CIPHER_CTX* ctx, ByteSpan aad) {
  while (!aad.empty()) {
    size_t n = std::min(aad.size(), kEvpChunk);
    int out_len = 0;
    if (EVP_CipherUpdate(ctx, nullptr, &out_len, aad.data(), static_cast<int>(n)) != 1) {
      return OpenSslError("AAD update");
    }
    aad = aad.subspan(n);
  }
  return util::Ok();
}

// Encrypts or decrypts in.size() bytes to out (same size; in == out is allowed by GCM).
util::Status Crypt(EVP_CIPHER_CTX* ctx, const uint8_t* in, uint8_t* out, size_t size) {
  while (size > 0) {
    size_t n = std::min(size, kEvpChunk);
    int out_len = 0;
    if (EVP_CipherUpdate(ctx, out, &out_len, in, static_cast<int>(n)) != 1 ||
        static_cast<size_t>(out_len) != n) {
      return OpenSslError("update");
    }
    in += n;
    out += n;
    size -= n;
  }
  return util::Ok();
}

util::Status FinishEncrypt(EVP_CIPHER_CTX* ctx, uint8_t* tag) {
  int out_len = 0;
  uint8_t dummy[16];
  if (EVP_EncryptFinal_ex(ctx, dummy, &out_len) != 1 || out_len != 0) {
    return OpenSslError("final");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAeadTagSize), tag) != 1) {
    return OpenSslError("get tag");
  }
  return util::Ok();
}

// False when the tag does not verify (or OpenSSL fails: either way nothing may be trusted).
bool FinishDecrypt(EVP_CIPHER_CTX* ctx, const uint8_t* tag) {
  // EVP wants a non-const pointer for SET_TAG but only reads it.
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAeadTagSize),
                          const_cast<uint8_t*>(tag)) != 1) {
    return false;
  }
  int out_len = 0;
  uint8_t dummy[16];
  return EVP_DecryptFinal_ex(ctx, dummy, &out_len) == 1 && out_len == 0;
}

util::Error Corrupt(std::string_view why) {
  return MakeError(Errc::kCorrupt, fmt::format("sealed block does not open: {}", why));
}

// Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication
// with PURBs", PETS 2019): round up so only the top ~log2(log2(n)) bits of the size remain.
uint64_t Padme(uint64_t n) {
  if (n < 2) return n;
  unsigned e = std::bit_width(n) - 1;        // floor(log2 n)
  unsigned s = std::bit_width(uint64_t{e});  // floor(log2 e) + 1
  uint64_t mask = (uint64_t{1} << (e - s)) - 1;
  return (n + mask) & ~mask;
}

}  // namespace

size_t PaddedPayloadSize(size_t plaintext_size) {
  // Padmé pads the plaintext, not plaintext + prefix: a full power-of-two block then costs only
  // the 4 length bytes instead of crossing into the next, coarser Padmé step (3% more).
  return kLengthPrefixSize + std::max<size_t>(kMinPaddedPlaintext, Padme(uint64_t{plaintext_size}));
}

size_t SealedBlockSize(size_t plaintext_size) {
  return kSealedBlockHeaderSize + PaddedPayloadSize(plaintext_size) + kAeadTagSize;
}

Result<Bytes> SealBlock(const SecretBytes& key, ByteSpan aad, ByteSpan plaintext) {
  std::array<uint8_t, kAeadNonceSize> nonce{};
  SHARDFS_TRY(FillRandom(nonce));
  return SealBlockWithNonce(key, nonce, aad, plaintext);
}

Result<Bytes> SealBlockWithNonce(const SecretBytes& key, ByteSpan nonce, ByteSpan aad,
                                 ByteSpan plaintext) {
  SHARDFS_TRY(CheckKeyAndNonce(key, nonce));
  if (plaintext.size() > kMaxBlockPlaintext) {
    return MakeError(Errc::kInvalid, fmt::format("block of {} bytes is over the {} byte limit",
                                                 plaintext.size(), kMaxBlockPlaintext));
  }
  const size_t payload = PaddedPayloadSize(plaintext.size());
  Bytes out(kSealedBlockHeaderSize + payload + kAeadTagSize, 0);  // zeros are the padding
  uint8_t* p = out.data();
  std::memcpy(p, kBlockMagic.data(), kBlockMagic.size());
  p[4] = kSealedBlockVersion;
  p[5] = kCipherAes256Gcm;
  // p[6], p[7]: reserved, zero.
  std::memcpy(p + kNonceOffset, nonce.data(), kAeadNonceSize);

  SHARDFS_ASSIGN_OR_RETURN(CipherCtx ctx, NewGcm(key, nonce, /*encrypt=*/true));
  SHARDFS_TRY(AddAad(ctx.get(), ByteSpan(p, kSealedBlockHeaderSize)));
  SHARDFS_TRY(AddAad(ctx.get(), aad));

  // Encrypt the inner payload piecewise straight into `out`, to spare a copy of a 4 MiB block.
  uint8_t* ct = p + kSealedBlockHeaderSize;
  uint8_t length[kLengthPrefixSize];
  util::StoreU32Le(length, static_cast<uint32_t>(plaintext.size()));
  SHARDFS_TRY(Crypt(ctx.get(), length, ct, kLengthPrefixSize));
  SHARDFS_TRY(Crypt(ctx.get(), plaintext.data(), ct + kLengthPrefixSize, plaintext.size()));
  uint8_t* pad = ct + kLengthPrefixSize + plaintext.size();
  SHARDFS_TRY(Crypt(ctx.get(), pad, pad, payload - kLengthPrefixSize - plaintext.size()));
  SHARDFS_TRY(FinishEncrypt(ctx.get(), ct + payload));
  return out;
}

namespace {

// Checks the header and size of a sealed block; its padded payload size on success.
Result<size_t> CheckSealed(const SecretBytes& key, ByteSpan sealed) {
  SHARDFS_TRY(CheckKey(key));
  const size_t min_size = SealedBlockSize(0);
  if (sealed.size() < min_size) {
    return Corrupt(
        fmt::format("{} bytes is shorter than the {} byte minimum", sealed.size(), min_size));
  }
  // Checked before allocating the output, so a hostile node cannot make us allocate at will.
  if (sealed.size() > SealedBlockSize(kMaxBlockPlaintext)) {
    return Corrupt(fmt::format("{} bytes is larger than any sealed block", sealed.size()));
  }
  const uint8_t* p = sealed.data();
  if (!std::equal(kBlockMagic.begin(), kBlockMagic.end(), p)) return Corrupt("bad magic");
  if (p[4] != kSealedBlockVersion) return Corrupt(fmt::format("unknown version {}", p[4]));
  if (p[5] != kCipherAes256Gcm) return Corrupt(fmt::format("unknown cipher id {}", p[5]));
  if (p[6] != 0 || p[7] != 0) return Corrupt("reserved header bytes are not zero");
  return sealed.size() - kSealedBlockHeaderSize - kAeadTagSize;
}

// Decrypts the payload of a checked sealed block after its length prefix into `out` (payload
// - 4 bytes; it may be the ciphertext itself: in place) and verifies everything. Returns the
// plaintext length; on any error `out` is wiped.
Result<size_t> OpenPayload(const SecretBytes& key, ByteSpan aad, ByteSpan sealed, size_t payload,
                           uint8_t* out) {
  const uint8_t* ct = sealed.data() + kSealedBlockHeaderSize;
  const size_t out_size = payload - kLengthPrefixSize;
  SHARDFS_ASSIGN_OR_RETURN(CipherCtx ctx, NewGcm(key, sealed.subspan(kNonceOffset, kAeadNonceSize),
                                                 /*encrypt=*/false));
  SHARDFS_TRY(AddAad(ctx.get(), sealed.first(kSealedBlockHeaderSize)));
  SHARDFS_TRY(AddAad(ctx.get(), aad));
  uint8_t length[kLengthPrefixSize];
  SHARDFS_TRY(Crypt(ctx.get(), ct, length, kLengthPrefixSize));
  // Decrypted but unverified bytes; wiped before any error return below.
  auto fail = [&](std::string_view why) {
    util::SecureZero(out, out_size);
    return Corrupt(why);
  };
  if (util::Status s = Crypt(ctx.get(), ct + kLengthPrefixSize, out, out_size); !s.ok()) {
    util::SecureZero(out, out_size);
    return s.error();
  }
  if (!FinishDecrypt(ctx.get(), ct + payload)) {
    return fail("authentication failed (wrong key, wrong place, or damaged)");
  }
  // Past this point the payload is authentic; these checks only catch a buggy writer, but a
  // block must have exactly one encoding, so they are errors too.
  const size_t n = util::LoadU32Le(length);
  if (n > out_size) return fail("inner length exceeds the payload");
  if (PaddedPayloadSize(n) != payload) return fail("payload size does not match its length");
  if (std::any_of(out + n, out + out_size, [](uint8_t b) { return b != 0; })) {
    return fail("padding is not zero");
  }
  return n;
}

}  // namespace

Result<Bytes> OpenBlock(const SecretBytes& key, ByteSpan aad, ByteSpan sealed) {
  SHARDFS_ASSIGN_OR_RETURN(size_t payload, CheckSealed(key, sealed));
  Bytes out(payload - kLengthPrefixSize);
  SHARDFS_ASSIGN_OR_RETURN(size_t n, OpenPayload(key, aad, sealed, payload, out.data()));
  out.resize(n);
  return out;
}

Result<Bytes> OpenBlockInPlace(const SecretBytes& key, ByteSpan aad, Bytes sealed) {
  SHARDFS_ASSIGN_OR_RETURN(size_t payload, CheckSealed(key, sealed));
  uint8_t* plain = sealed.data() + kSealedBlockHeaderSize + kLengthPrefixSize;
  SHARDFS_ASSIGN_OR_RETURN(size_t n, OpenPayload(key, aad, sealed, payload, plain));
  std::memmove(sealed.data(), plain, n);
  sealed.resize(n);
  return sealed;
}

Bytes BlockAad(ByteSpan drive_id, uint64_t inode, uint64_t block_index, uint64_t generation) {
  SHARDFS_CHECK(drive_id.size() <= UINT8_MAX, "drive id longer than 255 bytes");
  Bytes aad;
  aad.reserve(kAadMagic.size() + 2 + drive_id.size() + 3 * sizeof(uint64_t));
  aad.insert(aad.end(), kAadMagic.begin(), kAadMagic.end());
  aad.push_back(kBlockAadVersion);
  aad.push_back(static_cast<uint8_t>(drive_id.size()));
  aad.insert(aad.end(), drive_id.begin(), drive_id.end());
  util::AppendU64Le(aad, inode);
  util::AppendU64Le(aad, block_index);
  util::AppendU64Le(aad, generation);
  return aad;
}

Result<Bytes> AesGcmEncrypt(const SecretBytes& key, ByteSpan nonce, ByteSpan aad,
                            ByteSpan plaintext) {
  SHARDFS_TRY(CheckKeyAndNonce(key, nonce));
  SHARDFS_ASSIGN_OR_RETURN(CipherCtx ctx, NewGcm(key, nonce, /*encrypt=*/true));
  SHARDFS_TRY(AddAad(ctx.get(), aad));
  Bytes out(plaintext.size() + kAeadTagSize);
  SHARDFS_TRY(Crypt(ctx.get(), plaintext.data(), out.data(), plaintext.size()));
  SHARDFS_TRY(FinishEncrypt(ctx.get(), out.data() + plaintext.size()));
  return out;
}

Result<SecretBytes> AesGcmDecrypt(const SecretBytes& key, ByteSpan nonce, ByteSpan aad,
                                  ByteSpan ciphertext_and_tag) {
  SHARDFS_TRY(CheckKeyAndNonce(key, nonce));
  if (ciphertext_and_tag.size() < kAeadTagSize) {
    return MakeError(Errc::kCorrupt, "AES-256-GCM ciphertext is shorter than its tag");
  }
  const size_t n = ciphertext_and_tag.size() - kAeadTagSize;
  SHARDFS_ASSIGN_OR_RETURN(CipherCtx ctx, NewGcm(key, nonce, /*encrypt=*/false));
  SHARDFS_TRY(AddAad(ctx.get(), aad));
  SecretBytes out(n);  // wiped on every return path by its destructor
  SHARDFS_TRY(Crypt(ctx.get(), ciphertext_and_tag.data(), out.data(), n));
  if (!FinishDecrypt(ctx.get(), ciphertext_and_tag.data() + n)) {
    return MakeError(Errc::kCorrupt, "AES-256-GCM authentication failed");
  }
  return out;
}

}  // namespace shardfs::crypto
