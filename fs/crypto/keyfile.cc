#include "fs/crypto/keyfile.h"

#include <argon2.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

#include "fs/crypto/aead.h"
#include "fs/crypto/random.h"
#include "fs/util/encoding.h"
#include "fs/util/files.h"

namespace shardfs::crypto {

using util::Bytes;
using util::ByteSpan;
using util::Errc;
using util::MakeError;
using util::Result;
using util::SecretBytes;

namespace {

// Layout v1 (docs/keyfile.md). Offsets are fixed up to the ciphertext.
constexpr std::array<uint8_t, 6> kMagic = {'S', 'F', 'K', 'E', 'Y', 'F'};
constexpr uint8_t kKdfArgon2id = 1;
constexpr size_t kVersionOffset = 6;
constexpr size_t kKdfOffset = 7;
constexpr size_t kTCostOffset = 8;
constexpr size_t kMCostOffset = 12;
constexpr size_t kParallelismOffset = 16;
constexpr size_t kSaltOffset = 20;
constexpr size_t kSaltSize = 16;
constexpr size_t kNonceOffset = kSaltOffset + kSaltSize;
constexpr size_t kCtLengthOffset = kNonceOffset + kAeadNonceSize;
constexpr size_t kHeaderSize = kCtLengthOffset + 4;  // 52: everything before the ciphertext
constexpr size_t kChecksumSize = 32;                 // SHA-256
// A mnemonic is a few hundred bytes; anything near this cap is damage, not a secret.
constexpr size_t kMaxCiphertext = 4096;
// What ReadKeyfile reads at most: well over a v1 keyfile, so that a larger file of a newer
// version still gets "written by a newer shardfs" rather than "damaged".
constexpr uint64_t kReadLimit = 64 * 1024;
constexpr size_t kKekSize = 32;
static_assert(kHeaderSize == 52);

std::string Recovery() {
  return "restore the keyfile from a backup, or recreate it from the mnemonic with "
         "`shardfs init DRIVE --restore`";
}

util::Error Damaged(const std::string& name, std::string_view why) {
  return MakeError(Errc::kCorrupt,
                   fmt::format("keyfile {} is damaged ({}); {}", name, why, Recovery()));
}

std::array<uint8_t, kChecksumSize> Sha256(ByteSpan data) {
  std::array<uint8_t, kChecksumSize> digest{};
  unsigned int len = 0;
  // SHA-256 over a few KiB cannot fail short of a broken OpenSSL install.
  SHARDFS_CHECK(
      EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr) == 1 &&
          len == kChecksumSize,
      "SHA-256 failed");
  return digest;
}

// Bounds shared by writing (kInvalid: the caller's mistake) and reading (kCorrupt).
const char* ParamsProblem(const KdfParams& p) {
  if (p.t_cost < 1 || p.t_cost > kMaxKdfTCost) return "Argon2id passes out of range";
  if (p.parallelism < 1 || p.parallelism > kMaxKdfParallelism) {
    return "Argon2id parallelism out of range";
  }
  // Argon2 needs at least 8 KiB per lane.
  if (p.m_cost_kib < 8 * p.parallelism || p.m_cost_kib > kMaxKdfMCostKib) {
    return "Argon2id memory cost out of range";
  }
  return nullptr;
}

struct Parsed {
  KdfParams params;
  ByteSpan salt;
  ByteSpan nonce;
  ByteSpan header;      // AAD: every byte before the ciphertext
  ByteSpan ciphertext;  // with its tag
};

// Checks everything that can be checked without the password. The version is looked at before
// the checksum because a newer format may not put a checksum where v1 does.
Result<Parsed> Parse(ByteSpan file, const std::string& name) {
  if (file.size() < kMagic.size() || !std::equal(kMagic.begin(), kMagic.end(), file.begin())) {
    return Damaged(name, "it does not start with the shardfs keyfile magic");
  }
  if (file.size() <= kVersionOffset) return Damaged(name, "truncated");
  const uint8_t version = file[kVersionOffset];
  if (version > kKeyfileVersion) {
    return MakeError(Errc::kUnsupported,
                     fmt::format("keyfile {} was written by a newer shardfs (format version {}, "
                                 "this build reads up to {}); upgrade shardfs to open it",
                                 name, version, kKeyfileVersion));
  }
  if (version != kKeyfileVersion) return Damaged(name, fmt::format("format version {}", version));
  if (file.size() < kHeaderSize + kAeadTagSize + kChecksumSize) return Damaged(name, "truncated");
  const size_t ct_len = util::LoadU32Le(file.data() + kCtLengthOffset);
  if (ct_len < kAeadTagSize || ct_len > kMaxCiphertext) {
    return Damaged(name, fmt::format("implausible ciphertext length {}", ct_len));
  }
  const size_t expected = kHeaderSize + ct_len + kChecksumSize;
  if (file.size() < expected) return Damaged(name, "truncated");
  if (file.size() > expected) return Damaged(name, "unexpected bytes after the end");
  const auto digest = Sha256(file.first(expected - kChecksumSize));
  if (!util::ConstantTimeEqual(digest, file.last(kChecksumSize))) {
    return Damaged(name, "checksum mismatch");
  }
  // With a good checksum these only fail for a file written by a buggy or hostile tool, but
  // they must still be refused before the KDF allocates m_cost_kib of memory.
  if (file[kKdfOffset] != kKdfArgon2id) {
    return Damaged(name, fmt::format("unknown key derivation function {}", file[kKdfOffset]));
  }
  Parsed out;
  out.params.t_cost = util::LoadU32Le(file.data() + kTCostOffset);
  out.params.m_cost_kib = util::LoadU32Le(file.data() + kMCostOffset);
  out.params.parallelism = util::LoadU32Le(file.data() + kParallelismOffset);
  if (const char* problem = ParamsProblem(out.params)) return Damaged(name, problem);
  out.salt = file.subspan(kSaltOffset, kSaltSize);
  out.nonce = file.subspan(kNonceOffset, kAeadNonceSize);
  out.header = file.first(kHeaderSize);
  out.ciphertext = file.subspan(kHeaderSize, ct_len);
  return out;
}

Result<SecretBytes> DeriveKek(const SecretBytes& password, const KdfParams& params, ByteSpan salt) {
  SecretBytes kek(kKekSize);
  int rc = argon2id_hash_raw(params.t_cost, params.m_cost_kib, params.parallelism, password.data(),
                             password.size(), salt.data(), salt.size(), kek.data(), kek.size());
  if (rc != ARGON2_OK) {
    return MakeError(Errc::kInternal,
                     fmt::format("Argon2id (t={}, m={} KiB, p={}) failed: {}", params.t_cost,
                                 params.m_cost_kib, params.parallelism, argon2_error_message(rc)));
  }
  return kek;
}

}  // namespace

Result<Bytes> WrapSecret(const SecretBytes& secret, const SecretBytes& password,
                         const KdfParams& params) {
  std::array<uint8_t, kSaltSize> salt{};
  std::array<uint8_t, kAeadNonceSize> nonce{};
  SHARDFS_TRY(FillRandom(salt));
  SHARDFS_TRY(FillRandom(nonce));
  return WrapSecretWith(secret, password, params, salt, nonce);
}

Result<Bytes> WrapSecretWith(const SecretBytes& secret, const SecretBytes& password,
                             const KdfParams& params, ByteSpan salt, ByteSpan nonce) {
  if (const char* problem = ParamsProblem(params)) {
    return MakeError(Errc::kInvalid,
                     fmt::format("{} (t={}, m={} KiB, p={})", problem, params.t_cost,
                                 params.m_cost_kib, params.parallelism));
  }
  if (salt.size() != kSaltSize || nonce.size() != kAeadNonceSize) {
    return MakeError(Errc::kInvalid, fmt::format("keyfile salt must be {} bytes and nonce {}",
                                                 kSaltSize, kAeadNonceSize));
  }
  if (secret.size() + kAeadTagSize > kMaxCiphertext) {
    return MakeError(Errc::kInvalid,
                     fmt::format("a {} byte secret is too large for a keyfile", secret.size()));
  }
  Bytes out;
  out.reserve(kHeaderSize + secret.size() + kAeadTagSize + kChecksumSize);
  out.insert(out.end(), kMagic.begin(), kMagic.end());
  out.push_back(kKeyfileVersion);
  out.push_back(kKdfArgon2id);
  util::AppendU32Le(out, params.t_cost);
  util::AppendU32Le(out, params.m_cost_kib);
  util::AppendU32Le(out, params.parallelism);
  out.insert(out.end(), salt.begin(), salt.end());
  out.insert(out.end(), nonce.begin(), nonce.end());
  util::AppendU32Le(out, static_cast<uint32_t>(secret.size() + kAeadTagSize));

  SHARDFS_ASSIGN_OR_RETURN(SecretBytes kek, DeriveKek(password, params, salt));
  SHARDFS_ASSIGN_OR_RETURN(Bytes sealed, AesGcmEncrypt(kek, nonce, out, secret.span()));
  out.insert(out.end(), sealed.begin(), sealed.end());
  const auto digest = Sha256(out);
  out.insert(out.end(), digest.begin(), digest.end());
  return out;
}

Result<SecretBytes> UnwrapSecret(ByteSpan keyfile, const SecretBytes& password,
                                 const std::string& name) {
  SHARDFS_ASSIGN_OR_RETURN(Parsed parsed, Parse(keyfile, name));
  SHARDFS_ASSIGN_OR_RETURN(SecretBytes kek, DeriveKek(password, parsed.params, parsed.salt));
  auto secret = AesGcmDecrypt(kek, parsed.nonce, parsed.header, parsed.ciphertext);
  // The checksum matched, so the bytes are as written: a tag failure means the wrong password.
  if (!secret.ok() && secret.code() == Errc::kCorrupt) {
    return MakeError(Errc::kPermission, fmt::format("the password does not open keyfile {}", name));
  }
  return secret;
}

Result<KdfParams> ReadKdfParams(ByteSpan keyfile, const std::string& name) {
  SHARDFS_ASSIGN_OR_RETURN(Parsed parsed, Parse(keyfile, name));
  return parsed.params;
}

util::Status WriteKeyfile(const std::string& path, ByteSpan keyfile, bool replace) {
  return util::WriteFileAtomic(path, keyfile, 0600,
                               replace ? util::Overwrite::kAllow : util::Overwrite::kRefuse);
}

Result<SecretBytes> ReadKeyfile(const std::string& path, const SecretBytes& password) {
  auto file = util::ReadFile(path, kReadLimit);
  if (!file.ok()) {
    switch (file.code()) {
      case Errc::kNotFound:
        return MakeError(Errc::kNotFound, fmt::format("keyfile {} does not exist", path));
      case Errc::kInvalid:  // over kReadLimit
        return Damaged(path, "far larger than any keyfile");
      default:
        return util::Context(file, "cannot read keyfile");
    }
  }
  return UnwrapSecret(*file, password, path);
}

}  // namespace shardfs::crypto
