// AWS Signature Version 4 (header auth) for S3 requests, for both ends of the wire. Pure
// functions over plain values; no shared state, so everything here is thread-safe.
//
// Client: sign a request, then add every header of the result to the request.
//   s3::SignInput in{.method = "PUT", .path = "/bucket/my key", .query = "",
//                    .headers = {{"host", "127.0.0.1:9000"}},
//                    .payload_hash = s3::Sha256Hex(body),   // or s3::kUnsignedPayload
//                    .region = "us-east-1", .service = "s3", .time = clock.Now()};
//   SHARDFS_ASSIGN_OR_RETURN(s3::SignedHeaders sh, s3::Sign(in, creds));
//   for (auto& h : sh.headers) req.set(h.name, h.value);  // x-amz-date, x-amz-content-sha256,
//                                                         // authorization
//   The wire target is s3::UriEncodePath(in.path) + (query.empty() ? "" : "?" + query).
// Server: s3::VerifyRequest(req_view, lookup_secret, now) -> access key or an AuthFailure that
//   names the S3 error (SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed...).
//
// Paths are the DECODED object path ("/bucket/a b"): S3 encodes each byte once (RFC 3986
// unreserved bytes kept, '/' kept) and never normalizes "." / ".." or "//" segments.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::remote::s3 {

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
// Hex SHA-256 of the empty string.
inline constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// Requests whose x-amz-date is further than this from the server's clock are refused.
inline constexpr std::chrono::minutes kMaxClockSkew{15};

struct Header {
  std::string name;
  std::string value;
};

struct Credentials {
  std::string access_key;
  util::SecretBytes secret_key;
};

// ---- Client side -------------------------------------------------------------------------

struct SignInput {
  std::string_view method;  // "GET", "PUT"...
  std::string_view path;    // decoded path, starting with '/': "/bucket/key"
  std::string_view query;   // raw query as sent on the wire, without '?'; any order
  // Headers to sign (host is required). Names in any case; values are trimmed when signed.
  // x-amz-date and (if add_content_sha256) x-amz-content-sha256 are added by Sign.
  std::vector<Header> headers;
  std::string_view payload_hash;  // lowercase hex SHA-256 of the body, or kUnsignedPayload
  std::string_view region;        // "us-east-1"
  std::string_view service;       // "s3"
  std::chrono::system_clock::time_point time;
  // S3 requires x-amz-content-sha256 and signs it; the generic AWS test suite does not use it.
  bool add_content_sha256 = true;
};

struct SignedHeaders {
  // The headers to add to the request, in this order: x-amz-date, x-amz-content-sha256 (when
  // asked for), authorization.
  std::vector<Header> headers;
  std::string authorization;      // the same value as the authorization entry in headers
  std::string amz_date;           // "20150830T123600Z"
  std::string canonical_request;  // for debugging and tests
  std::string string_to_sign;     // for debugging and tests
};

// kInvalid if the input cannot be signed (no host header, bad path, bad payload hash).
util::Result<SignedHeaders> Sign(const SignInput& in, const Credentials& creds);

// ---- Server side -------------------------------------------------------------------------

// A parsed "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/s3/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=hex" header.
struct Authorization {
  std::string access_key;
  std::string date;  // yyyymmdd from the credential scope
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;  // lowercase, as listed
  std::string signature;                    // lowercase hex, 64 chars
};
// kInvalid with a message saying what is wrong. Accepts spaces or none after the commas.
util::Result<Authorization> ParseAuthorization(std::string_view header);

// What the server knows about a request. Header names in any case; repeated names allowed.
struct RequestView {
  std::string_view method;
  std::string_view path;   // decoded path
  std::string_view query;  // raw query as received, without '?'
  std::vector<Header> headers;
};

enum class AuthFailure {
  kNone,
  kMissing,            // no Authorization header: AccessDenied
  kMalformed,          // unparsable header, bad scope, missing x-amz-date or content hash
  kUnknownAccessKey,   // InvalidAccessKeyId
  kWrongRegion,        // AuthorizationHeaderMalformed (region in the scope is not ours)
  kTimeSkewed,         // RequestTimeTooSkewed
  kSignatureMismatch,  // SignatureDoesNotMatch
  kBadContentHash,     // x-amz-content-sha256 is neither a hex hash nor a known keyword
};
// The S3 error code for a failure ("SignatureDoesNotMatch"...); "" for kNone.
std::string_view AuthFailureCode(AuthFailure f);

struct VerifyResult {
  AuthFailure failure = AuthFailure::kNone;
  std::string message;       // why, for logs and the error document
  std::string access_key;    // set when the key was found
  std::string payload_hash;  // the signed x-amz-content-sha256 value
  bool ok() const { return failure == AuthFailure::kNone; }
};

// Returns the secret of an access key, or nullopt if unknown. Called at most once.
using SecretLookup = std::function<std::optional<util::SecretBytes>(std::string_view)>;

// Checks the Authorization header of req: parses it, checks the scope (date matches
// x-amz-date, region == expected_region, service "s3"), that x-amz-date is within kMaxClockSkew
// of now, recomputes the signature with the key's secret and compares in constant time.
VerifyResult VerifyRequest(const RequestView& req, std::string_view expected_region,
                           const SecretLookup& lookup, std::chrono::system_clock::time_point now);

// ---- Building blocks (exposed for tests and for the S3 client) -----------------------------

// AWS URI encoding: unreserved bytes (A-Z a-z 0-9 - _ . ~) as they are, every other byte as
// %XX (upper case); '/' kept unless encode_slash.
std::string UriEncode(std::string_view s, bool encode_slash);
// Encodes a decoded path for the wire and for the canonical request ('/' kept).
inline std::string UriEncodePath(std::string_view path) { return UriEncode(path, false); }
// Decodes %XX escapes; plus_is_space for query strings. kInvalid on a bad escape.
util::Result<std::string> UriDecode(std::string_view s, bool plus_is_space);

// The pairs of a raw query string ("a=1&b&c=%20"), decoded, in their order; a name without '='
// has an empty value. kInvalid on a bad escape.
util::Result<std::vector<std::pair<std::string, std::string>>> DecodeQuery(
    std::string_view raw_query);
// The canonical query string: pairs decoded, re-encoded, sorted by name then value.
util::Result<std::string> CanonicalQuery(std::string_view raw_query);
// "20150830T123600Z" (UTC).
std::string FormatAmzDate(std::chrono::system_clock::time_point t);
// Parses "20150830T123600Z"; nullopt if malformed.
std::optional<std::chrono::system_clock::time_point> ParseAmzDate(std::string_view s);

std::string Sha256Hex(util::ByteSpan data);
inline std::string Sha256Hex(std::string_view data) { return Sha256Hex(util::AsBytes(data)); }
// True for 64 lowercase or uppercase hex characters.
bool IsSha256Hex(std::string_view s);

// Incremental SHA-256, for bodies hashed while they stream. Move-only; not synchronized.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher&& other) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&& other) noexcept;
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(util::ByteSpan data);
  std::string FinishHex();  // lowercase hex; the hasher is spent afterwards

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so callers need no OpenSSL headers
};

}  // namespace shardfs::remote::s3
