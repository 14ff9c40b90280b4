#include "fs/crypto/record.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fs/crypto/aead.h"
#include "fs/crypto/random.h"
#include "fs/util/check.h"

namespace shardfs::crypto {

using util::Bytes;
using util::Result;

Result<Bytes> SealRecord(const util::SecretBytes& key, util::ByteSpan aad,
                         util::ByteSpan plaintext) {
  uint8_t nonce[kAeadNonceSize];
  SHARDFS_TRY(FillRandom(nonce));
  SHARDFS_ASSIGN_OR_RETURN(Bytes ct, AesGcmEncrypt(key, nonce, aad, plaintext));
  Bytes out(nonce, nonce + kAeadNonceSize);
  out.insert(out.end(), ct.begin(), ct.end());
  return out;
}

Result<util::SecretBytes> OpenRecord(const util::SecretBytes& key, util::ByteSpan aad,
                                     util::ByteSpan sealed) {
  if (sealed.size() < kRecordOverhead) {
    return util::MakeError(util::Errc::kCorrupt, "sealed record is shorter than its overhead");
  }
  return AesGcmDecrypt(key, sealed.first(kAeadNonceSize), aad, sealed.subspan(kAeadNonceSize));
}

std::array<uint8_t, 32> HmacSha256(const util::SecretBytes& key, util::ByteSpan data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  const uint8_t* r = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(),
                          data.size(), out.data(), &len);
  SHARDFS_CHECK(r != nullptr && len == out.size(), "HMAC-SHA256 failed in OpenSSL");
  return out;
}

}  // namespace shardfs::crypto
