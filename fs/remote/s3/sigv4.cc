#include "fs/remote/s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <utility>

#include "fs/util/encoding.h"

namespace shardfs::remote::s3 {
namespace {

using util::Errc;
using util::MakeError;
using util::Result;

constexpr char kHexUpper[] = "0123456789ABCDEF";

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLowerAscii(c);
  return out;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Trims and collapses runs of spaces into one, as the canonical headers want.
std::string CanonicalHeaderValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool pending_space = false;
  for (char c : v) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

using Mac = std::array<uint8_t, 32>;

Mac Hmac(util::ByteSpan key, std::string_view data) {
  Mac out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

// The chain of HMACs from the secret to the day's signing key.
Mac SigningKey(const util::SecretBytes& secret, std::string_view date, std::string_view region,
               std::string_view service) {
  util::SecretBytes k(4 + secret.size());
  std::copy_n("AWS4", 4, k.data());
  std::copy_n(secret.data(), secret.size(), k.data() + 4);
  Mac m = Hmac(k.span(), date);
  m = Hmac(m, region);
  m = Hmac(m, service);
  Mac signing = Hmac(m, "aws4_request");
  util::SecureZero(m.data(), m.size());
  return signing;
}

struct Canonical {
  std::string request;
  std::string signed_headers;  // "host;x-amz-date"
};

// headers: (lowercase name, canonical value) pairs, already merged and sorted by name.
Canonical BuildCanonical(std::string_view method, std::string_view path, std::string_view query,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         std::string_view payload_hash) {
  Canonical c;
  c.request.append(method).append("\n");
  c.request.append(UriEncodePath(path)).append("\n");
  c.request.append(query).append("\n");
  for (const auto& [name, value] : headers) {
    c.request.append(name).append(":").append(value).append("\n");
    if (!c.signed_headers.empty()) c.signed_headers.push_back(';');
    c.signed_headers.append(name);
  }
  c.request.append("\n").append(c.signed_headers).append("\n").append(payload_hash);
  return c;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string sts(kAlgorithm);
  sts.append("\n").append(amz_date).append("\n").append(scope).append("\n");
  sts.append(Sha256Hex(canonical_request));
  return sts;
}

std::string Scope(std::string_view date, std::string_view region, std::string_view service) {
  std::string s(date);
  s.append("/").append(region).append("/").append(service).append("/aws4_request");
  return s;
}

// Merges headers with the given (lowercase) names: values of repeated names joined by ','.
// Returns the names that were asked for but are absent in *missing.
std::vector<std::pair<std::string, std::string>> CollectHeaders(
    const std::vector<Header>& headers, const std::vector<std::string>& names,
    std::string* missing) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& name : names) {
    std::string merged;
    bool found = false;
    for (const Header& h : headers) {
      if (Lower(h.name) != name) continue;
      if (found) merged.push_back(',');
      merged.append(CanonicalHeaderValue(h.value));
      found = true;
    }
    if (!found && missing != nullptr && missing->empty()) *missing = name;
    out.emplace_back(name, std::move(merged));
  }
  std::sort(out.begin(), out.end());
  return out;
}

const std::string* FindHeader(const std::vector<Header>& headers, std::string_view lower_name) {
  for (const Header& h : headers) {
    if (Lower(h.name) == lower_name) return &h.value;
  }
  return nullptr;
}

bool IsDigits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string UriEncode(std::string_view s, bool encode_slash) {
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (c == '/' && !encode_slash)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xf]);
    }
  }
  return out;
}

Result<std::string> UriDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return MakeError(Errc::kInvalid, "bad percent escape in URI");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> DecodeQuery(std::string_view raw_query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t pos = 0;
  while (pos < raw_query.size()) {
    size_t amp = raw_query.find('&', pos);
    if (amp == std::string_view::npos) amp = raw_query.size();
    std::string_view piece = raw_query.substr(pos, amp - pos);
    pos = amp + 1;
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    std::string_view value = eq == std::string_view::npos ? "" : piece.substr(eq + 1);
    SHARDFS_ASSIGN_OR_RETURN(std::string name, UriDecode(piece.substr(0, eq), true));
    SHARDFS_ASSIGN_OR_RETURN(std::string decoded_value, UriDecode(value, true));
    pairs.emplace_back(std::move(name), std::move(decoded_value));
  }
  return pairs;
}

Result<std::string> CanonicalQuery(std::string_view raw_query) {
  SHARDFS_ASSIGN_OR_RETURN(auto pairs, DecodeQuery(raw_query));
  for (auto& [n, v] : pairs) {
    n = UriEncode(n, true);
    v = UriEncode(v, true);
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [n, v] : pairs) {
    if (!out.empty()) out.push_back('&');
    out.append(n).append("=").append(v);
  }
  return out;
}

std::string FormatAmzDate(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> ParseAmzDate(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  if (!IsDigits(s.substr(0, 8)) || !IsDigits(s.substr(9, 6))) return std::nullopt;
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  int month = num(4, 2), day = num(6, 2), hour = num(9, 2), minute = num(11, 2), sec = num(13, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60) {
    return std::nullopt;
  }
  std::chrono::year_month_day ymd{std::chrono::year{num(0, 4)},
                                  std::chrono::month{static_cast<unsigned>(month)},
                                  std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days{ymd} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
         std::chrono::seconds{sec};
}

std::string Sha256Hex(util::ByteSpan data) {
  std::array<uint8_t, 32> md{};
  SHA256(data.data(), data.size(), md.data());
  return util::ToHex(md);
}

bool IsSha256Hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return HexValue(c) >= 0; });
}

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  SHARDFS_CHECK(ctx_ != nullptr, "EVP_MD_CTX_new failed");
  SHARDFS_CHECK(EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) == 1,
                "SHA-256 init failed");
}
Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
Sha256Hasher::Sha256Hasher(Sha256Hasher&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)) {}
Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}
void Sha256Hasher::Update(util::ByteSpan data) {
  SHARDFS_CHECK(ctx_ != nullptr, "Update on a moved-from hasher");
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}
std::string Sha256Hasher::FinishHex() {
  SHARDFS_CHECK(ctx_ != nullptr, "FinishHex on a moved-from hasher");
  std::array<uint8_t, 32> md{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md.data(), &len);
  return util::ToHex(md);
}

Result<SignedHeaders> Sign(const SignInput& in, const Credentials& creds) {
  if (in.path.empty() || in.path[0] != '/') {
    return MakeError(Errc::kInvalid, "SigV4: the request path must start with '/'");
  }
  if (!IsSha256Hex(in.payload_hash) && in.payload_hash != kUnsignedPayload &&
      in.payload_hash != kStreamingPayload) {
    return MakeError(Errc::kInvalid, "SigV4: payload hash is neither hex SHA-256 nor a keyword");
  }
  if (FindHeader(in.headers, "host") == nullptr) {
    return MakeError(Errc::kInvalid, "SigV4: the host header must be signed");
  }
  SignedHeaders out;
  out.amz_date = FormatAmzDate(in.time);
  std::vector<Header> all = in.headers;
  all.push_back({"x-amz-date", out.amz_date});
  if (in.add_content_sha256) all.push_back({"x-amz-content-sha256", std::string(in.payload_hash)});
  std::vector<std::string> names;
  for (const Header& h : all) {
    std::string n = Lower(h.name);
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(std::move(n));
  }
  SHARDFS_ASSIGN_OR_RETURN(std::string query, CanonicalQuery(in.query));
  Canonical c = BuildCanonical(in.method, in.path, query, CollectHeaders(all, names, nullptr),
                               in.payload_hash);
  std::string date = out.amz_date.substr(0, 8);
  std::string scope = Scope(date, in.region, in.service);
  out.string_to_sign = StringToSign(out.amz_date, scope, c.request);
  Mac key = SigningKey(creds.secret_key, date, in.region, in.service);
  Mac sig = Hmac(key, out.string_to_sign);
  util::SecureZero(key.data(), key.size());
  out.canonical_request = std::move(c.request);
  out.authorization = std::string(kAlgorithm) + " Credential=" + creds.access_key + "/" + scope +
                      ", SignedHeaders=" + c.signed_headers + ", Signature=" + util::ToHex(sig);
  out.headers.push_back({"x-amz-date", out.amz_date});
  if (in.add_content_sha256) {
    out.headers.push_back({"x-amz-content-sha256", std::string(in.payload_hash)});
  }
  out.headers.push_back({"authorization", out.authorization});
  return out;
}

Result<Authorization> ParseAuthorization(std::string_view header) {
  auto bad = [](std::string what) {
    return MakeError(Errc::kInvalid, "malformed Authorization header: " + std::move(what));
  };
  while (!header.empty() && IsSpace(header.front())) header.remove_prefix(1);
  if (header.substr(0, kAlgorithm.size()) != kAlgorithm)
    return bad("the algorithm is not " + std::string(kAlgorithm));
  header.remove_prefix(kAlgorithm.size());
  if (header.empty() || !IsSpace(header.front())) return bad("no space after the algorithm");
  Authorization a;
  std::string_view credential, signed_headers, signature;
  while (!header.empty()) {
    while (!header.empty() && (IsSpace(header.front()) || header.front() == ',')) {
      header.remove_prefix(1);
    }
    if (header.empty()) break;
    size_t end = header.find(',');
    std::string_view item = header.substr(0, end);
    header.remove_prefix(end == std::string_view::npos ? header.size() : end);
    while (!item.empty() && IsSpace(item.back())) item.remove_suffix(1);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) return bad("a part has no '='");
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    std::string_view* slot = key == "Credential"      ? &credential
                             : key == "SignedHeaders" ? &signed_headers
                             : key == "Signature"     ? &signature
                                                      : nullptr;
    if (slot == nullptr) return bad("unknown part '" + std::string(key.substr(0, 32)) + "'");
    if (!slot->empty()) return bad("a part appears twice");
    *slot = value;
  }
  if (credential.empty() || signed_headers.empty() || signature.empty()) {
    return bad("Credential, SignedHeaders and Signature are all required");
  }
  // Credential = AK/date/region/service/aws4_request; the access key holds no '/'.
  std::vector<std::string_view> parts;
  for (size_t pos = 0;;) {
    size_t slash = credential.find('/', pos);
    parts.push_back(credential.substr(pos, slash == std::string_view::npos ? slash : slash - pos));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  if (parts.size() != 5 || parts[4] != "aws4_request" || parts[0].empty() || parts[1].size() != 8 ||
      !IsDigits(parts[1]) || parts[2].empty() || parts[3].empty()) {
    return bad("the credential is not KEY/yyyymmdd/region/service/aws4_request");
  }
  a.access_key = parts[0];
  a.date = parts[1];
  a.region = parts[2];
  a.service = parts[3];
  for (size_t pos = 0;;) {
    size_t semi = signed_headers.find(';', pos);
    std::string_view name =
        signed_headers.substr(pos, semi == std::string_view::npos ? semi : semi - pos);
    if (name.empty()) return bad("an empty name in SignedHeaders");
    a.signed_headers.push_back(Lower(name));
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  if (!IsSha256Hex(signature)) return bad("the signature is not 64 hex characters");
  a.signature = Lower(signature);
  return a;
}

std::string_view AuthFailureCode(AuthFailure f) {
  switch (f) {
    case AuthFailure::kNone:
      return "";
    case AuthFailure::kMissing:
      return "AccessDenied";
    case AuthFailure::kMalformed:
    case AuthFailure::kWrongRegion:
      return "AuthorizationHeaderMalformed";
    case AuthFailure::kUnknownAccessKey:
      return "InvalidAccessKeyId";
    case AuthFailure::kTimeSkewed:
      return "RequestTimeTooSkewed";
    case AuthFailure::kSignatureMismatch:
      return "SignatureDoesNotMatch";
    case AuthFailure::kBadContentHash:
      return "InvalidArgument";
  }
  return "AccessDenied";
}

VerifyResult VerifyRequest(const RequestView& req, std::string_view expected_region,
                           const SecretLookup& lookup, std::chrono::system_clock::time_point now) {
  VerifyResult r;
  auto fail = [&r](AuthFailure f, std::string message) {
    r.failure = f;
    r.message = std::move(message);
    return r;
  };
  const std::string* header = FindHeader(req.headers, "authorization");
  if (header == nullptr) return fail(AuthFailure::kMissing, "the request is not signed");
  Result<Authorization> parsed = ParseAuthorization(*header);
  if (!parsed.ok()) return fail(AuthFailure::kMalformed, parsed.error().message);
  const Authorization& a = *parsed;
  const std::string* amz_date = FindHeader(req.headers, "x-amz-date");
  if (amz_date == nullptr) return fail(AuthFailure::kMalformed, "x-amz-date header is missing");
  std::optional<std::chrono::system_clock::time_point> when = ParseAmzDate(*amz_date);
  if (!when) return fail(AuthFailure::kMalformed, "x-amz-date is not yyyymmddThhmmssZ");
  if (a.date != std::string_view(*amz_date).substr(0, 8)) {
    return fail(AuthFailure::kMalformed, "the credential date does not match x-amz-date");
  }
  if (a.region != expected_region) {
    return fail(AuthFailure::kWrongRegion, "the region '" + a.region + "' is wrong; expecting '" +
                                               std::string(expected_region) + "'");
  }
  if (a.service != "s3") return fail(AuthFailure::kMalformed, "the service in the scope is not s3");
  auto skew = *when > now ? *when - now : now - *when;
  if (skew > kMaxClockSkew) {
    return fail(AuthFailure::kTimeSkewed,
                "x-amz-date is more than 15 minutes away from the server's clock");
  }
  const std::string* content = FindHeader(req.headers, "x-amz-content-sha256");
  if (content == nullptr) {
    return fail(AuthFailure::kMalformed, "x-amz-content-sha256 header is missing");
  }
  if (!IsSha256Hex(*content) && *content != kUnsignedPayload && *content != kStreamingPayload) {
    return fail(AuthFailure::kBadContentHash, "x-amz-content-sha256 is not a hash or a keyword");
  }
  if (std::find(a.signed_headers.begin(), a.signed_headers.end(), "host") ==
      a.signed_headers.end()) {
    return fail(AuthFailure::kMalformed, "the host header is not signed");
  }
  std::optional<util::SecretBytes> secret = lookup(a.access_key);
  if (!secret) {
    return fail(AuthFailure::kUnknownAccessKey, "the access key is not known to this node");
  }
  r.access_key = a.access_key;
  Result<std::string> query = CanonicalQuery(req.query);
  if (!query.ok()) return fail(AuthFailure::kMalformed, query.error().message);
  std::string missing;
  auto headers = CollectHeaders(req.headers, a.signed_headers, &missing);
  if (!missing.empty()) {
    return fail(AuthFailure::kSignatureMismatch, "signed header '" + missing + "' is absent");
  }
  Canonical c = BuildCanonical(req.method, req.path, *query, headers, *content);
  std::string scope = Scope(a.date, a.region, a.service);
  Mac key = SigningKey(*secret, a.date, a.region, a.service);
  Mac sig = Hmac(key, StringToSign(*amz_date, scope, c.request));
  util::SecureZero(key.data(), key.size());
  std::string expected = util::ToHex(sig);
  if (!util::ConstantTimeEqual(util::AsBytes(expected), util::AsBytes(a.signature))) {
    return fail(AuthFailure::kSignatureMismatch,
                "the signature does not match; check the secret key and the signing method");
  }
  r.payload_hash = IsSha256Hex(*content) ? Lower(*content) : *content;
  return r;
}

}  // namespace shardfs::remote::s3
