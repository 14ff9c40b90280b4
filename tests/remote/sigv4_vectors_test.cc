// Runs the AWS SigV4 test-suite cases in tests/data/sigv4 (see the README there for which
// cases are included and why) through Sign, and checks the canonical request, the string to
// sign and the Authorization header byte for byte.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "fs/remote/s3/sigv4.h"

namespace shardfs::remote::s3 {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ParsedReq {
  std::string method, path, query, body;
  std::vector<Header> headers;
};

// The suite's .req: "METHOD TARGET HTTP/1.1", "Name:value" lines, an empty line, the body.
ParsedReq ParseReq(const std::string& text) {
  ParsedReq r;
  size_t eol = text.find('\n');
  std::string first = text.substr(0, eol);
  size_t sp = first.find(' ');
  size_t proto = first.rfind(" HTTP/");
  r.method = first.substr(0, sp);
  std::string target = first.substr(sp + 1, proto - sp - 1);
  size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  size_t pos = eol == std::string::npos ? text.size() : eol + 1;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      if (pos < text.size()) r.body = text.substr(pos);
      break;
    }
    size_t colon = line.find(':');
    r.headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  return r;
}

class SigV4SuiteTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SigV4SuiteTest, MatchesPublishedVector) {
  std::string name = GetParam();
  std::string dir = std::string(SHARDFS_TEST_DATA_DIR) + "/sigv4/" + name + "/" + name;
  ParsedReq req = ParseReq(ReadText(dir + ".req"));
  std::string payload_hash = Sha256Hex(req.body);
  std::vector<Header> headers;
  for (const Header& h : req.headers) {
    if (h.name != "X-Amz-Date") headers.push_back(h);  // Sign adds it from the time
  }
  SignInput in{.method = req.method,
               .path = req.path,
               .query = req.query,
               .headers = headers,
               .payload_hash = payload_hash,
               .region = "us-east-1",
               .service = "service",
               .time = *ParseAmzDate("20150830T123600Z"),
               .add_content_sha256 = false};
  Credentials creds{"AKIDEXAMPLE",
                    util::SecretBytes::CopyOf("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")};
  auto signed_headers = Sign(in, creds);
  ASSERT_TRUE(signed_headers.ok()) << signed_headers.error().message;
  EXPECT_EQ(signed_headers->canonical_request, ReadText(dir + ".creq"));
  EXPECT_EQ(signed_headers->string_to_sign, ReadText(dir + ".sts"));
  EXPECT_EQ(signed_headers->authorization, ReadText(dir + ".authz"));
  EXPECT_EQ(signed_headers->amz_date, "20150830T123600Z");
}

INSTANTIATE_TEST_SUITE_P(
    AwsSuite, SigV4SuiteTest,
    ::testing::Values("get-vanilla", "get-vanilla-empty-query-key", "get-vanilla-query-order-key",
                      "get-vanilla-query-order-key-case", "get-vanilla-query-order-value",
                      "get-vanilla-query-unreserved", "get-vanilla-utf8-query", "get-unreserved",
                      "get-utf8", "get-space", "get-header-key-duplicate", "get-header-value-order",
                      "get-header-value-trim", "post-vanilla", "post-vanilla-query",
                      "post-header-key-case", "post-header-key-sort", "post-header-value-case",
                      "post-x-www-form-urlencoded", "post-x-www-form-urlencoded-parameters"),
    [](const ::testing::TestParamInfo<const char*>& param_info) {
      std::string n = param_info.param;
      for (char& c : n) {
        if (c == '-') c = '_';
      }
      return n;
    });

}  // namespace
}  // namespace shardfs::remote::s3
