// SigV4 beyond the published vectors: server-side verification of requests signed by Sign
// (round trip, wrong secret, unknown key, clock skew, tampering), Authorization parsing of
// hostile input, URI encoding.
#include "fs/remote/s3/sigv4.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

using namespace std::string_literals;

namespace shardfs::remote::s3 {
namespace {

using std::chrono::minutes;

const auto kNow = *ParseAmzDate("20240501T120000Z");

SecretLookup Lookup(std::string secret) {
  return [secret](std::string_view ak) -> std::optional<util::SecretBytes> {
    if (ak != "AK1") return std::nullopt;
    return util::SecretBytes::CopyOf(secret);
  };
}

RequestView SignedRequest(std::string_view secret, std::chrono::system_clock::time_point t,
                          std::string_view path = "/bucket/a b+c",
                          std::string_view query = "list-type=2&prefix=x%2By") {
  SignInput in{.method = "GET",
               .path = path,
               .query = query,
               .headers = {{"Host", "127.0.0.1:9000"}, {"Range", "bytes=0-9"}},
               .payload_hash = kUnsignedPayload,
               .region = "us-east-1",
               .service = "s3",
               .time = t};
  auto s = Sign(in, Credentials{"AK1", util::SecretBytes::CopyOf(secret)});
  SHARDFS_CHECK(s.ok(), "sign failed");
  RequestView req{"GET", path, query, in.headers};
  for (const Header& h : s->headers) req.headers.push_back(h);
  return req;
}

TEST(SigV4Verify, AcceptsWhatSignProduces) {
  RequestView req = SignedRequest("secret", kNow);
  VerifyResult r = VerifyRequest(req, "us-east-1", Lookup("secret"), kNow + minutes(3));
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.access_key, "AK1");
  EXPECT_EQ(r.payload_hash, kUnsignedPayload);
}

TEST(SigV4Verify, HeaderNamesAreCaseInsensitive) {
  RequestView req = SignedRequest("secret", kNow);
  for (Header& h : req.headers) {
    for (char& c : h.name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_TRUE(VerifyRequest(req, "us-east-1", Lookup("secret"), kNow).ok());
}

TEST(SigV4Verify, WrongSecretIsSignatureMismatch) {
  RequestView req = SignedRequest("other", kNow);
  VerifyResult r = VerifyRequest(req, "us-east-1", Lookup("secret"), kNow);
  EXPECT_EQ(r.failure, AuthFailure::kSignatureMismatch);
  EXPECT_EQ(AuthFailureCode(r.failure), "SignatureDoesNotMatch");
}

TEST(SigV4Verify, UnknownKey) {
  RequestView req = SignedRequest("secret", kNow);
  auto none = [](std::string_view) -> std::optional<util::SecretBytes> { return std::nullopt; };
  VerifyResult r = VerifyRequest(req, "us-east-1", none, kNow);
  EXPECT_EQ(r.failure, AuthFailure::kUnknownAccessKey);
  EXPECT_EQ(AuthFailureCode(r.failure), "InvalidAccessKeyId");
}

TEST(SigV4Verify, ClockSkewOverFifteenMinutesIsRefused) {
  RequestView req = SignedRequest("secret", kNow);
  EXPECT_TRUE(VerifyRequest(req, "us-east-1", Lookup("secret"), kNow + minutes(15)).ok());
  EXPECT_EQ(VerifyRequest(req, "us-east-1", Lookup("secret"), kNow + minutes(16)).failure,
            AuthFailure::kTimeSkewed);
  EXPECT_EQ(VerifyRequest(req, "us-east-1", Lookup("secret"), kNow - minutes(16)).failure,
            AuthFailure::kTimeSkewed);
}

TEST(SigV4Verify, TamperingBreaksTheSignature) {
  {
    RequestView req = SignedRequest("secret", kNow);
    req.path = "/bucket/other";
    EXPECT_EQ(VerifyRequest(req, "us-east-1", Lookup("secret"), kNow).failure,
              AuthFailure::kSignatureMismatch);
  }
  {
    RequestView req = SignedRequest("secret", kNow);
    req.query = "list-type=2&prefix=z";
    EXPECT_EQ(VerifyRequest(req, "us-east-1", Lookup("secret"), kNow).failure,
              AuthFailure::kSignatureMismatch);
  }
  {
    RequestView req = SignedRequest("secret", kNow);
    for (Header& h : req.headers) {
      if (h.name == "Range") h.value = "bytes=0-99";
    }
    EXPECT_EQ(VerifyRequest(req, "us-east-1", Lookup("secret"), kNow).failure,
              AuthFailure::kSignatureMismatch);
  }
  {
    RequestView req = SignedRequest("secret", kNow);
    for (Header& h : req.headers) {
      if (h.name == "x-amz-content-sha256") h.value = kEmptySha256;
    }
    EXPECT_EQ(VerifyRequest(req, "us-east-1", Lookup("secret"), kNow).failure,
              AuthFailure::kSignatureMismatch);
  }
}

TEST(SigV4Verify, QueryOrderAndEncodingDoNotMatter) {
  RequestView req = SignedRequest("secret", kNow, "/b/k", "b=2&a=%7e1");
  req.query = "a=~1&b=2";
  EXPECT_TRUE(VerifyRequest(req, "us-east-1", Lookup("secret"), kNow).ok());
}

TEST(SigV4Verify, WrongRegionAndMissingPieces) {
  RequestView req = SignedRequest("secret", kNow);
  EXPECT_EQ(VerifyRequest(req, "eu-west-1", Lookup("secret"), kNow).failure,
            AuthFailure::kWrongRegion);
  RequestView unsigned_req{"GET", "/b", "", {{"Host", "x"}}};
  EXPECT_EQ(VerifyRequest(unsigned_req, "us-east-1", Lookup("secret"), kNow).failure,
            AuthFailure::kMissing);
  RequestView no_date = SignedRequest("secret", kNow);
  std::erase_if(no_date.headers, [](const Header& h) { return h.name == "x-amz-date"; });
  EXPECT_EQ(VerifyRequest(no_date, "us-east-1", Lookup("secret"), kNow).failure,
            AuthFailure::kMalformed);
}

TEST(SigV4Parse, ParsesWithAndWithoutSpaces) {
  auto a = ParseAuthorization(
      "AWS4-HMAC-SHA256 Credential=AK/20240501/us-east-1/s3/aws4_request,SignedHeaders=host;"
      "x-amz-date,Signature=" +
      std::string(64, 'a'));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->access_key, "AK");
  EXPECT_EQ(a->date, "20240501");
  EXPECT_EQ(a->region, "us-east-1");
  EXPECT_EQ(a->service, "s3");
  EXPECT_EQ(a->signed_headers, (std::vector<std::string>{"host", "x-amz-date"}));
}

TEST(SigV4Parse, RejectsHostileHeaders) {
  const std::string sig = "Signature=" + std::string(64, 'a');
  for (std::string bad : {std::string(""), std::string("AWS4-HMAC-SHA256"),
                          std::string("AWS AK:sig"), std::string("AWS4-HMAC-SHA256 ,,,,"),
                          "AWS4-HMAC-SHA256 Credential=AK/2024/us/s3/aws4_request, "
                          "SignedHeaders=host, " +
                              sig,
                          "AWS4-HMAC-SHA256 Credential=AK/20240501/us/s3/aws4_request/x, "
                          "SignedHeaders=host, " +
                              sig,
                          "AWS4-HMAC-SHA256 Credential=AK/20240501/us/s3/aws4_request, "
                          "SignedHeaders=host;;x, " +
                              sig,
                          "AWS4-HMAC-SHA256 Credential=AK/20240501/us/s3/aws4_request, "
                          "SignedHeaders=host, Signature=zz"s,
                          "AWS4-HMAC-SHA256 Credential=AK/20240501/us/s3/aws4_request, "
                          "SignedHeaders=host, " +
                              sig + ", " + sig,
                          std::string("AWS4-HMAC-SHA256 Credential=\0/", 30)}) {
    EXPECT_FALSE(ParseAuthorization(bad).ok()) << bad;
  }
}

TEST(SigV4Uri, EncodesOnceAndKeepsSlashes) {
  EXPECT_EQ(UriEncodePath("/b/a b+c/~x"), "/b/a%20b%2Bc/~x");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(UriEncodePath("//x/../."), "//x/../.");  // S3: no normalization
  EXPECT_EQ(*UriDecode("a%20b+c", true), "a b c");
  EXPECT_EQ(*UriDecode("a%2fb+c", false), "a/b+c");
  EXPECT_FALSE(UriDecode("%", false).ok());
  EXPECT_FALSE(UriDecode("%4", false).ok());
  EXPECT_FALSE(UriDecode("%zz", false).ok());
  EXPECT_EQ(*CanonicalQuery("b=&a&c=%2f"), "a=&b=&c=%2F");
}

TEST(SigV4Date, FormatsAndParses) {
  EXPECT_EQ(FormatAmzDate(kNow), "20240501T120000Z");
  EXPECT_FALSE(ParseAmzDate("20240230T120000Z").has_value());
  EXPECT_FALSE(ParseAmzDate("2024050xT120000Z").has_value());
  EXPECT_FALSE(ParseAmzDate("20240501T1200000").has_value());
}

TEST(SigV4Hash, StreamingMatchesOneShot) {
  Sha256Hasher h;
  h.Update(util::AsBytes("hello "));
  h.Update(util::AsBytes("world"));
  EXPECT_EQ(h.FinishHex(), Sha256Hex("hello world"));
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
  EXPECT_TRUE(IsSha256Hex(kEmptySha256));
  EXPECT_FALSE(IsSha256Hex(kUnsignedPayload));
}

}  // namespace
}  // namespace shardfs::remote::s3
