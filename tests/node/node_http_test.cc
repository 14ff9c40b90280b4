// shardfs-node over raw HTTP, signed with our SigV4 code: auth failures, object and bucket
// operations, ranges, conditional PUTs, quotas, hostile keys and targets, listing.
#include <gtest/gtest.h>

#include <dirent.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/node/node_harness.h"

namespace shardfs::node::testing {
namespace {

std::set<std::string> TreeOf(const std::string& dir, const std::string& skip) {
  std::set<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    std::string p = dir + "/" + n;
    if (p == skip) continue;
    out.insert(p);
    if (e->d_type == DT_DIR) {
      for (const std::string& s : TreeOf(p, skip)) out.insert(s);
    }
  }
  ::closedir(d);
  return out;
}

class NodeHttpTest : public ::testing::Test {
 protected:
  NodeHttpTest() : node_({{"AK1", "secret-one", 0}, {"AK2", "secret-two", 1000}}) {}
  void SetUp() override {
    node_.Start();
    ASSERT_EQ(c1().Put("/bkt", "").status, 200);
  }
  S3Client c1() const { return S3Client(node_.port(), "AK1", "secret-one"); }
  S3Client c2() const { return S3Client(node_.port(), "AK2", "secret-two"); }

  NodeProcess node_;
};

TEST_F(NodeHttpTest, HealthIsOpenUsageIsSigned) {
  Request h;
  h.path = "/_shardfs/health";
  h.unsigned_request = true;
  Response r = c1().Send(h);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"status\":\"ok\"}");
  Request u;
  u.path = "/_shardfs/usage";
  u.unsigned_request = true;
  EXPECT_EQ(c1().Send(u).status, 403);
  ASSERT_EQ(c2().Put("/bkt2", "").status, 200);
  ASSERT_EQ(c2().Put("/bkt2/x", "12345").status, 200);
  r = c2().Get("/_shardfs/usage");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"used_bytes\":5,\"quota_bytes\":1000,\"objects\":1}");
}

TEST_F(NodeHttpTest, WrongSecretAndUnknownKeyAreRefused) {
  Response r = S3Client(node_.port(), "AK1", "wrong").Get("/bkt");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(XmlField(r.body, "Code"), "SignatureDoesNotMatch");
  r = S3Client(node_.port(), "NOPE", "x").Get("/bkt");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(XmlField(r.body, "Code"), "InvalidAccessKeyId");
  Request unsigned_req;
  unsigned_req.path = "/bkt";
  unsigned_req.unsigned_request = true;
  r = c1().Send(unsigned_req);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(XmlField(r.body, "Code"), "AccessDenied");
  // Another key's bucket.
  r = c2().Get("/bkt/x");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(XmlField(r.body, "Code"), "AccessDenied");
}

TEST_F(NodeHttpTest, PutGetHeadDelete) {
  Response r = c1().Put("/bkt/dir/a b+c", "hello world");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("etag"), "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");  // MD5
  r = c1().Get("/bkt/dir/a b+c");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello world");
  Request head;
  head.method = "HEAD";
  head.path = "/bkt/dir/a b+c";
  r = c1().Send(head);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-length"), "11");
  EXPECT_EQ(r.body, "");
  Request del;
  del.method = "DELETE";
  del.path = "/bkt/dir/a b+c";
  EXPECT_EQ(c1().Send(del).status, 204);
  EXPECT_EQ(c1().Send(del).status, 204);  // missing is fine
  r = c1().Get("/bkt/dir/a b+c");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(XmlField(r.body, "Code"), "NoSuchKey");
  r = c1().Get("/nobucket/x");
  EXPECT_EQ(XmlField(r.body, "Code"), "NoSuchBucket");
  // Empty objects and a payload hash that lies.
  EXPECT_EQ(c1().Put("/bkt/empty", "").status, 200);
  EXPECT_EQ(c1().Get("/bkt/empty").body, "");
  Request lie;
  lie.method = "PUT";
  lie.path = "/bkt/lie";
  lie.body = "abc";
  lie.unsigned_request = true;  // sign by hand below with the false hash
  {
    const std::string false_hash = remote::s3::Sha256Hex("xyz");
    remote::s3::SignInput in{.method = "PUT",
                             .path = "/bkt/lie",
                             .query = "",
                             .headers = {{"Host", "127.0.0.1:" + std::to_string(node_.port())}},
                             .payload_hash = false_hash,
                             .region = "us-east-1",
                             .service = "s3",
                             .time = std::chrono::system_clock::now()};
    auto s = remote::s3::Sign(in, {"AK1", util::SecretBytes::CopyOf("secret-one")});
    ASSERT_TRUE(s.ok());
    lie.headers = s->headers;
  }
  r = c1().Send(lie);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(XmlField(r.body, "Code"), "XAmzContentSHA256Mismatch");
  EXPECT_EQ(c1().Get("/bkt/lie").status, 404);
}

TEST_F(NodeHttpTest, Ranges) {
  ASSERT_EQ(c1().Put("/bkt/r", "0123456789").status, 200);
  Response r = c1().Get("/bkt/r", {{"Range", "bytes=2-4"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "234");
  EXPECT_EQ(r.Header("content-range"), "bytes 2-4/10");
  r = c1().Get("/bkt/r", {{"Range", "bytes=-3"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "789");
  r = c1().Get("/bkt/r", {{"Range", "bytes=7-"}});
  EXPECT_EQ(r.body, "789");
  r = c1().Get("/bkt/r", {{"Range", "bytes=5-100"}});
  EXPECT_EQ(r.body, "56789");
  r = c1().Get("/bkt/r", {{"Range", "bytes=-100"}});
  EXPECT_EQ(r.body, "0123456789");
  r = c1().Get("/bkt/r", {{"Range", "bytes=10-"}});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(XmlField(r.body, "Code"), "InvalidRange");
  EXPECT_EQ(r.Header("content-range"), "bytes */10");
  r = c1().Get("/bkt/r", {{"Range", "bytes=x-y"}});  // ignored
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "0123456789");
}

TEST_F(NodeHttpTest, AnXxh3EtagWhenTheClientAsksForIt) {
  Response r = c1().Put("/bkt/x", "hello world", {{"x-shardfs-etag", "xxh3"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string xxh3 = "\"df8d09e93f874900a99b8775cc15b6c7\"";  // XXH3-128, canonical
  EXPECT_EQ(r.Header("etag"), xxh3);
  EXPECT_EQ(c1().Get("/bkt/x").Header("etag"), xxh3);  // kept with the object
  EXPECT_EQ(c1().Put("/bkt/x", "v2", {{"If-Match", xxh3}}).status, 200);
  // A Content-MD5 to check needs MD5, and then the ETag is MD5 too.
  r = c1().Put("/bkt/y", "hello world",
               {{"x-shardfs-etag", "xxh3"}, {"Content-MD5", "XrY7u+Ae7tCTyyK7j1rNww=="}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("etag"), "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");
  r = c1().Put("/bkt/z", "x", {{"x-shardfs-etag", "sha1"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(XmlField(r.body, "Code"), "InvalidArgument");
  EXPECT_EQ(c1().Get("/bkt/z").status, 404);
}

TEST_F(NodeHttpTest, ConditionalPuts) {
  Response r = c1().Put("/bkt/c", "v1", {{"If-None-Match", "*"}});
  ASSERT_EQ(r.status, 200);
  std::string etag = r.Header("etag");
  r = c1().Put("/bkt/c", "v2", {{"If-None-Match", "*"}});
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(XmlField(r.body, "Code"), "PreconditionFailed");
  EXPECT_EQ(c1().Put("/bkt/c", "v2", {{"If-Match", "\"0000\""}}).status, 412);
  EXPECT_EQ(c1().Get("/bkt/c").body, "v1");
  EXPECT_EQ(c1().Put("/bkt/c", "v2", {{"If-Match", etag}}).status, 200);
  std::string unquoted = etag.substr(1, etag.size() - 2);
  EXPECT_EQ(c1().Put("/bkt/c", "v3", {{"If-Match", unquoted}}).status, 412);  // v2's etag now
  EXPECT_EQ(c1().Get("/bkt/c").body, "v2");
  EXPECT_EQ(c1().Put("/bkt/missing", "x", {{"If-Match", etag}}).status, 404);
}

// Uploads commit under the node's lock but sync outside it: racing conditional PUTs of one key
// still leave exactly one winner, and racing uploads and deletes of many keys (new object
// directories among them) all land, each readable with its own contents.
TEST_F(NodeHttpTest, ConcurrentUploadsAndDeletes) {
  constexpr int kThreads = 8;
  std::atomic<int> won{0}, refused{0};
  std::vector<std::thread> racers;
  for (int t = 0; t < kThreads; ++t) {
    racers.emplace_back([&, t] {
      int status = c1().Put("/bkt/race", "v" + std::to_string(t), {{"If-None-Match", "*"}}).status;
      if (status == 200) ++won;
      if (status == 412) ++refused;
    });
  }
  for (auto& r : racers) r.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(refused.load(), kThreads - 1);

  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string key = "/bkt/k" + std::to_string(t) + "-" + std::to_string(i);
        if (c1().Put(key, key + " body").status != 200) ++failures;
        if (i % 2 == 0) continue;
        Request del;
        del.method = "DELETE";
        del.path = key;
        if (c1().Send(del).status != 204) ++failures;
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < 20; ++i) {
      std::string key = "/bkt/k" + std::to_string(t) + "-" + std::to_string(i);
      Response r = c1().Get(key);
      if (i % 2 == 1) {
        EXPECT_EQ(r.status, 404) << key;
      } else {
        EXPECT_EQ(r.body, key + " body");
      }
    }
  }
  std::string usage = c1().Get("/_shardfs/usage").body;
  EXPECT_NE(usage.find("\"objects\":81"), std::string::npos) << usage;
}

TEST_F(NodeHttpTest, QuotaRefusesAndLeavesNothing) {
  ASSERT_EQ(c2().Put("/qq2", "").status, 200);
  ASSERT_EQ(c2().Put("/qq2/a", std::string(600, 'a')).status, 200);
  Response r = c2().Put("/qq2/b", std::string(600, 'b'));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(XmlField(r.body, "Code"), "QuotaExceeded");
  EXPECT_EQ(c2().Get("/qq2/b").status, 404);
  // Overwriting its own object only needs the difference.
  EXPECT_EQ(c2().Put("/qq2/a", std::string(900, 'c')).status, 200);
  EXPECT_EQ(c2().Get("/_shardfs/usage").body,
            "{\"used_bytes\":900,\"quota_bytes\":1000,\"objects\":1}");
  EXPECT_TRUE(TreeOf(node_.data_dir() + "/tmp", "").empty());
  // Usage survives a restart.
  EXPECT_EQ(node_.Stop(SIGTERM), 0);
  node_.Start();
  EXPECT_EQ(c2().Get("/_shardfs/usage").body,
            "{\"used_bytes\":900,\"quota_bytes\":1000,\"objects\":1}");
}

// At start a node reads every object's header, many at a time: every object and each key's
// usage come back, whichever thread read them.
TEST_F(NodeHttpTest, ARestartLoadsEveryObject) {
  uint64_t bytes = 0;
  for (int i = 0; i < 300; ++i) {
    std::string body(static_cast<size_t>(i % 17), static_cast<char>('a' + i % 26));
    bytes += body.size();
    ASSERT_EQ(c1().Put("/bkt/k" + std::to_string(i), body).status, 200);
  }
  ASSERT_EQ(c2().Put("/bkt2", "").status, 200);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c2().Put("/bkt2/o" + std::to_string(i), "xy").status, 200);
  EXPECT_EQ(node_.Stop(SIGTERM), 0);
  node_.Start();
  Request l;
  l.path = "/bkt";
  l.query = "list-type=2";
  Response r = c1().Send(l);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(XmlField(r.body, "KeyCount"), "300");
  for (int i : {0, 1, 150, 299}) {
    r = c1().Get("/bkt/k" + std::to_string(i));
    EXPECT_EQ(r.body, std::string(static_cast<size_t>(i % 17), static_cast<char>('a' + i % 26)));
  }
  EXPECT_EQ(c2().Get("/_shardfs/usage").body,
            "{\"used_bytes\":6,\"quota_bytes\":1000,\"objects\":3}");
  r = c1().Get("/_shardfs/usage");
  EXPECT_NE(r.body.find("\"used_bytes\":" + std::to_string(bytes) + ","), std::string::npos)
      << r.body;
}

TEST_F(NodeHttpTest, HostileKeysAndTargetsAreRefused) {
  std::set<std::string> before = TreeOf(node_.root(), node_.data_dir());
  for (const char* raw : {"/bkt/../../escape", "/bkt/%2e%2e/%2e%2e/escape", "/bkt/a/../../../x",
                          "/bkt//etc/passwd", "/bkt/a%00b", "/bkt/%2Fabs", "/bkt/./x",
                          "/bkt/ctl%01x", "/bkt/bad%ffutf8", "/../escape", "/bkt/%zz"}) {
    Request r;
    r.method = "PUT";
    r.raw_target = raw;
    auto decoded = remote::s3::UriDecode(raw, false);
    r.path = decoded.ok() ? *decoded : std::string(raw);
    r.body = "evil";
    Response resp = c1().Send(r);
    EXPECT_GE(resp.status, 400) << raw;
    EXPECT_LT(resp.status, 500) << raw;
  }
  Response r = c1().Put("/bkt/" + std::string(1025, 'k'), "x");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(XmlField(r.body, "Code"), "KeyTooLongError");
  EXPECT_EQ(c1().Put("/Bad_Bucket", "").status, 400);
  EXPECT_EQ(c1().Put("/_shardfs", "").status, 404);
  EXPECT_EQ(before, TreeOf(node_.root(), node_.data_dir()));
  // Only the empty bucket is there.
  r = c1().Get("/bkt", {});
  EXPECT_EQ(XmlField(r.body, "KeyCount"), "") << r.body;  // V1 listing has no KeyCount
  EXPECT_EQ(r.body.find("<Contents>"), std::string::npos);
}

TEST_F(NodeHttpTest, ListingV1AndV2) {
  for (const char* k : {"a/1", "a/2", "b/1", "c", "d"})
    ASSERT_EQ(c1().Put(std::string("/bkt/") + k, k).status, 200);
  Request l;
  l.path = "/bkt";
  l.query = "list-type=2&delimiter=%2F";
  Response r = c1().Send(l);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes>"), std::string::npos);
  EXPECT_EQ(XmlField(r.body, "KeyCount"), "4");
  l.query = "list-type=2&max-keys=2";
  r = c1().Send(l);
  EXPECT_EQ(XmlField(r.body, "IsTruncated"), "true");
  std::string token = XmlField(r.body, "NextContinuationToken");
  l.query = "continuation-token=" + token + "&list-type=2&max-keys=2";
  r = c1().Send(l);
  EXPECT_NE(r.body.find("<Key>b/1</Key>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<Key>c</Key>"), std::string::npos);
  l.query = "list-type=2&prefix=a%2F&start-after=a%2F1";
  r = c1().Send(l);
  EXPECT_EQ(XmlField(r.body, "KeyCount"), "1");
  EXPECT_NE(r.body.find("<Key>a/2</Key>"), std::string::npos);
  l.query = "marker=c";  // V1
  r = c1().Send(l);
  EXPECT_NE(r.body.find("<Key>d</Key>"), std::string::npos);
  EXPECT_EQ(r.body.find("<Key>c</Key>"), std::string::npos);
  // Bucket not empty, then empty.
  Request del;
  del.method = "DELETE";
  del.path = "/bkt";
  EXPECT_EQ(c1().Send(del).status, 409);
}

}  // namespace
}  // namespace shardfs::node::testing
