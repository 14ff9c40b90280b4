#include "fs/crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>
#include <string>

namespace shardfs::crypto {
namespace {

constexpr size_t kSha256Bytes = 32;

struct KdfDeleter {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

util::Error OpenSslError(std::string_view what) {
  unsigned long code = ERR_get_error();
  char buf[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return util::MakeError(util::Errc::kInternal, std::string(what) + ": " + buf);
}

// OSSL_PARAM takes non-const pointers even for inputs it only reads.
void* Mutable(util::ByteSpan s) { return const_cast<uint8_t*>(s.data()); }

}  // namespace

util::Result<util::SecretBytes> HkdfSha256(util::ByteSpan ikm, util::ByteSpan salt,
                                           util::ByteSpan info, size_t length) {
  if (length == 0 || length > 255 * kSha256Bytes) {
    return util::MakeError(util::Errc::kInvalid, "HKDF-SHA256 output length must be 1.." +
                                                     std::to_string(255 * kSha256Bytes) +
                                                     " bytes, got " + std::to_string(length));
  }
  std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr));
  if (!kdf) return OpenSslError("EVP_KDF_fetch(HKDF)");
  std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return OpenSslError("EVP_KDF_CTX_new");

  // OpenSSL treats an absent salt as HashLen zeros, exactly RFC 5869 2.2, so an empty salt or
  // info is left out rather than passed with length 0. The key is always passed (OpenSSL refuses
  // to derive without one); a zero-length key still needs a non-null pointer.
  static uint8_t empty_key = 0;
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, ikm.empty() ? &empty_key : Mutable(ikm), ikm.size());
  if (!salt.empty()) {
    params[n++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, Mutable(salt), salt.size());
  }
  if (!info.empty()) {
    params[n++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, Mutable(info), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();

  util::SecretBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return OpenSslError("HKDF-SHA256 derive");
  }
  return out;
}

}  // namespace shardfs::crypto
