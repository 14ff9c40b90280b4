// S3Store against a fake HTTP server that misbehaves on demand: retries, timeouts,
// cancellation, pooling, error mapping and malformed replies.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fs/remote/s3/sigv4.h"
#include "fs/remote/s3/xml.h"
#include "fs/remote/s3_store.h"
#include "fs/util/cancel.h"
#include "tests/s3/fake_http_server.h"

namespace shardfs::remote {
namespace {

using std::chrono::milliseconds;
using testing::FakeHttpServer;
using testing::FakeReply;
using testing::FakeRequest;
using util::Errc;

S3Options FakeOptions(const std::string& url) {
  S3Options o;
  o.endpoint = url;
  o.bucket = "bucket";
  o.access_key = "AKFAKE";
  o.secret_key = util::SecretBytes::CopyOf("fake-secret");
  o.connect_timeout = milliseconds(1000);
  o.request_timeout = milliseconds(2000);
  o.backoff_base = milliseconds(5);
  o.backoff_max = milliseconds(20);
  return o;
}

std::unique_ptr<S3Store> Open(S3Options o) {
  auto s = S3Store::Open(std::move(o));
  SHARDFS_CHECK(s.ok(), "cannot open the S3Store under test");
  return std::move(s).value();
}

FakeReply ErrorReply(int status, const std::string& code) {
  FakeReply r;
  r.status = status;
  r.body = s3::BuildError({code, "a message from the server", "/bucket/x", "req-1"});
  return r;
}

FakeReply Ok(std::string body) {
  FakeReply r;
  r.body = std::move(body);
  return r;
}

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

TEST(S3StoreTest, SignsRequestsTheNodeCanVerify) {
  std::atomic<int> verified{0};
  std::mutex mu;
  std::string refusal;
  FakeHttpServer server([&](const FakeRequest& req) {
    const std::string path = req.target.substr(0, req.target.find('?'));
    s3::RequestView view{req.method, path, "", {}};
    for (const auto& [name, value] : req.headers) view.headers.push_back({name, value});
    auto lookup = [](std::string_view) { return util::SecretBytes::CopyOf("fake-secret"); };
    auto result = s3::VerifyRequest(view, "us-east-1", lookup, std::chrono::system_clock::now());
    // Bodies go unsigned (shards carry their own checksums); an empty one is signed as such.
    const std::string want_hash =
        req.body.empty() ? std::string(s3::kEmptySha256) : std::string(s3::kUnsignedPayload);
    bool etag_asked = false;
    for (const auto& [name, value] : req.headers) {
      if (name == "x-shardfs-etag" && value == "xxh3") etag_asked = true;
    }
    if (!result.ok() || result.payload_hash != want_hash || (req.method == "PUT" && !etag_asked)) {
      std::lock_guard lock(mu);
      refusal = result.message;
      return ErrorReply(403, "SignatureDoesNotMatch");
    }
    ++verified;
    return Ok("");
  });
  auto store = Open(FakeOptions(server.url()));
  ASSERT_TRUE(store->Put("obj", util::AsBytes("signed body")).ok()) << refusal;
  ASSERT_TRUE(store->Delete("obj").ok()) << refusal;
  EXPECT_EQ(verified.load(), 2);
}

TEST(S3StoreTest, RefusedCredentialsAreAPermissionErrorNamingTheNode) {
  FakeHttpServer server(
      [](const FakeRequest&) { return ErrorReply(403, "SignatureDoesNotMatch"); });
  auto store = Open(FakeOptions(server.url()));
  auto got = store->Get("obj");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.code(), Errc::kPermission);
  EXPECT_NE(got.error().message.find(server.url()), std::string::npos) << got.error().message;
  EXPECT_NE(got.error().message.find("403 SignatureDoesNotMatch"), std::string::npos);
  EXPECT_EQ(server.requests(), 1) << "a 403 is never retried";
}

TEST(S3StoreTest, MapsErrorsWithoutRetryingClientErrors) {
  struct Case {
    int status;
    std::string code;
    Errc want;
  };
  for (const Case& c : std::vector<Case>{{404, "NoSuchKey", Errc::kNotFound},
                                         {404, "NoSuchBucket", Errc::kNotFound},
                                         {412, "PreconditionFailed", Errc::kInvalid},
                                         {507, "InsufficientStorage", Errc::kNoSpace},
                                         {403, "QuotaExceeded", Errc::kNoSpace},
                                         {400, "EntityTooLarge", Errc::kNoSpace}}) {
    SCOPED_TRACE(c.code);
    FakeHttpServer server([&](const FakeRequest&) { return ErrorReply(c.status, c.code); });
    auto store = Open(FakeOptions(server.url()));
    auto put = store->Put("obj", util::AsBytes("x"));
    EXPECT_EQ(put.code(), c.want) << put.error().message;
    EXPECT_EQ(server.requests(), 1);
  }
  FakeHttpServer server([](const FakeRequest&) { return ErrorReply(404, "NoSuchBucket"); });
  auto store = Open(FakeOptions(server.url()));
  auto list = store->List("");
  EXPECT_EQ(list.code(), Errc::kNotFound);
  EXPECT_NE(list.error().message.find("has no bucket bucket"), std::string::npos)
      << list.error().message;
}

TEST(S3StoreTest, RetriesServiceUnavailableThenSucceeds) {
  std::atomic<int> calls{0};
  FakeHttpServer server([&](const FakeRequest&) {
    int n = calls++;
    if (n == 0) return ErrorReply(503, "SlowDown");
    if (n == 1) return ErrorReply(500, "InternalError");
    return Ok("payload");
  });
  auto store = Open(FakeOptions(server.url()));
  auto got = store->Get("obj");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(util::AsStringView(*got), "payload");
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(store->stats().retries, 2u);
}

TEST(S3StoreTest, GivesUpAfterMaxAttempts) {
  FakeHttpServer server([](const FakeRequest&) { return ErrorReply(503, "ServiceUnavailable"); });
  S3Options o = FakeOptions(server.url());
  o.max_attempts = 3;
  auto store = Open(std::move(o));
  auto got = store->Get("obj");
  EXPECT_EQ(got.code(), Errc::kUnavailable);
  EXPECT_EQ(server.requests(), 3);
}

TEST(S3StoreTest, DownServerIsUnavailableQuickly) {
  int port;
  {
    FakeHttpServer gone([](const FakeRequest&) { return FakeReply(); });
    port = gone.port();
  }  // nothing listens there now
  S3Options o = FakeOptions("http://127.0.0.1:" + std::to_string(port));
  o.max_attempts = 3;
  auto store = Open(std::move(o));
  auto start = std::chrono::steady_clock::now();
  auto got = store->Get("obj");
  EXPECT_LT(SecondsSince(start), 1.0);
  ASSERT_EQ(got.code(), Errc::kUnavailable);
  EXPECT_NE(got.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << got.error().message;
  EXPECT_NE(got.error().message.find("3 attempts"), std::string::npos) << got.error().message;
}

TEST(S3StoreTest, SlowServerHitsTheRequestTimeout) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeReply r = Ok("late");
    r.delay = milliseconds(3000);
    return r;
  });
  S3Options o = FakeOptions(server.url());
  o.request_timeout = milliseconds(300);
  o.max_attempts = 2;
  auto store = Open(std::move(o));
  auto start = std::chrono::steady_clock::now();
  auto got = store->Get("obj");
  double took = SecondsSince(start);
  ASSERT_EQ(got.code(), Errc::kUnavailable);
  EXPECT_NE(got.error().message.find("no reply within 300 ms"), std::string::npos)
      << got.error().message;
  EXPECT_GT(took, 0.55);
  EXPECT_LT(took, 1.5);
}

TEST(S3StoreTest, CancelAbortsARangeReadInFlight) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeReply r = Ok("slow");
    r.delay = milliseconds(5000);
    return r;
  });
  auto store = Open(FakeOptions(server.url()));
  util::CancelSource cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(150));
    cancel.Cancel();
  });
  auto start = std::chrono::steady_clock::now();
  auto got = store->GetRangeCancellable("obj", 0, 4, cancel.token());
  double took = SecondsSince(start);
  canceller.join();
  ASSERT_EQ(got.code(), Errc::kUnavailable);
  EXPECT_TRUE(util::IsCancelledError(got.error())) << got.error().message;
  EXPECT_LT(took, 1.0);
  EXPECT_EQ(server.requests(), 1) << "a cancelled read is not retried";
}

TEST(S3StoreTest, ConcurrentGetsShareABoundedPool) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeReply r = Ok("data");
    r.delay = milliseconds(5);
    return r;
  });
  S3Options o = FakeOptions(server.url());
  o.max_connections = 8;
  auto store = Open(std::move(o));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 100; ++i) {
    threads.emplace_back([&] {
      auto got = store->Get("obj");
      if (!got.ok() || util::AsStringView(*got) != "data") ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server.requests(), 100);
  EXPECT_LE(server.accepted(), 8);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store->Get("obj").ok());
  EXPECT_LE(server.accepted(), 8) << "sequential requests reuse pooled connections";
}

TEST(S3StoreTest, ResendsOnceWhenTheServerDroppedAKeepAliveConnection) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeReply r = Ok("data");
    r.close = true;  // closes without saying "Connection: close"
    return r;
  });
  auto store = Open(FakeOptions(server.url()));
  for (int i = 0; i < 5; ++i) {
    auto got = store->Get("obj");
    ASSERT_TRUE(got.ok()) << got.error().message;
  }
  EXPECT_EQ(store->stats().retries, 0u);
}

TEST(S3StoreTest, TruncatedBodyIsRetried) {
  std::atomic<int> calls{0};
  FakeHttpServer server([&](const FakeRequest&) {
    FakeReply r = Ok(std::string(1000, 'z'));
    if (calls++ == 0) r.send_only = 10;
    return r;
  });
  auto store = Open(FakeOptions(server.url()));
  auto got = store->Get("obj");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->size(), 1000u);
  EXPECT_EQ(server.requests(), 2);
}

TEST(S3StoreTest, MalformedRepliesAreErrorsNotCrashes) {
  FakeHttpServer garbage_xml([](const FakeRequest&) { return Ok("<ListBucketResult><Contents>"); });
  auto store = Open(FakeOptions(garbage_xml.url()));
  EXPECT_EQ(store->List("").code(), Errc::kCorrupt);

  FakeHttpServer not_http([](const FakeRequest&) {
    FakeReply r;
    r.raw = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
    return r;
  });
  S3Options o = FakeOptions(not_http.url());
  o.max_attempts = 1;
  auto store2 = Open(std::move(o));
  auto got = store2->Get("obj");
  EXPECT_FALSE(got.ok());

  FakeHttpServer garbage_error([](const FakeRequest&) {
    FakeReply r = Ok("<<<not xml");
    r.status = 404;
    return r;
  });
  auto store3 = Open(FakeOptions(garbage_error.url()));
  EXPECT_EQ(store3->Get("obj").code(), Errc::kNotFound);
}

TEST(S3StoreTest, RefusesBodiesOverTheLimit) {
  FakeHttpServer server([](const FakeRequest&) { return Ok(std::string(4096, 'x')); });
  S3Options o = FakeOptions(server.url());
  o.max_object_bytes = 1024;
  auto store = Open(std::move(o));
  EXPECT_EQ(store->Get("obj").code(), Errc::kTooLarge);
  EXPECT_EQ(store->Put("obj", util::Bytes(2048)).code(), Errc::kTooLarge);
  EXPECT_EQ(server.requests(), 1);
}

TEST(S3StoreTest, RangeReadsAcceptFullRepliesAndCheckPartialOnes) {
  FakeHttpServer server([](const FakeRequest& req) {
    std::string name = req.target.substr(req.target.rfind('/') + 1);
    if (name == "ignores-range") return Ok("0123456789");
    if (name == "past-end") return ErrorReply(416, "InvalidRange");
    FakeReply r = Ok("2345");
    r.status = 206;
    r.headers.push_back({"Content-Range", name == "lies" ? "bytes 0-3/10" : "bytes 2-5/10"});
    return r;
  });
  auto store = Open(FakeOptions(server.url()));
  auto full = store->GetRange("ignores-range", 3, 4);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(util::AsStringView(*full), "3456");
  EXPECT_EQ(store->GetRange("ignores-range", 20, 4)->size(), 0u);
  EXPECT_EQ(store->GetRange("past-end", 20, 4)->size(), 0u);
  auto part = store->GetRange("honest", 2, 4);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(util::AsStringView(*part), "2345");
  EXPECT_EQ(store->GetRange("lies", 2, 4).code(), Errc::kCorrupt);
}

TEST(S3StoreTest, ListFollowsContinuationTokens) {
  FakeHttpServer server([](const FakeRequest& req) {
    s3::ListObjectsResult page;
    page.bucket = "bucket";
    if (req.target.find("continuation-token=page2") == std::string::npos) {
      page.contents = {{"b", 2, "\"e\"", ""}, {"a", 1, "\"e\"", ""}, {"Not-Valid", 1, "", ""}};
      page.is_truncated = true;
      page.next_continuation_token = "page2";
    } else {
      page.contents = {{"c", 3, "\"e\"", ""}};
    }
    return Ok(s3::BuildListObjectsV2(page));
  });
  auto store = Open(FakeOptions(server.url()));
  auto names = store->List("");
  ASSERT_TRUE(names.ok()) << names.error().message;
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(S3StoreTest, UsageFromTheNodeOrByListing) {
  FakeHttpServer node([](const FakeRequest& req) {
    if (req.target == "/_shardfs/usage") {
      return Ok(R"({"used_bytes":300,"quota_bytes":1000,"objects":3})");
    }
    return ErrorReply(500, "InternalError");
  });
  auto store = Open(FakeOptions(node.url()));
  auto u = store->Usage();
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->used_bytes, 300u);
  EXPECT_EQ(u->capacity_bytes, 1000u);
  EXPECT_EQ(u->available_bytes, 700u);
  EXPECT_EQ(u->objects, 3u);

  FakeHttpServer plain_s3([](const FakeRequest& req) {
    if (req.target.starts_with("/_shardfs")) return ErrorReply(404, "NoSuchBucket");
    s3::ListObjectsResult page;
    page.contents = {{"a", 10, "", ""}, {"b", 20, "", ""}};
    return Ok(s3::BuildListObjectsV2(page));
  });
  auto store2 = Open(FakeOptions(plain_s3.url()));
  u = store2->Usage();
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->used_bytes, 30u);
  EXPECT_EQ(u->objects, 2u);
  EXPECT_EQ(u->capacity_bytes, 0u);
  int before = plain_s3.requests();
  ASSERT_TRUE(store2->Usage().ok());
  EXPECT_EQ(plain_s3.requests(), before) << "a fresh answer is reused";
}

TEST(S3StoreTest, OpenChecksItsOptions) {
  S3Options o = FakeOptions("ftp://x:1");
  EXPECT_EQ(S3Store::Open(std::move(o)).code(), Errc::kInvalid);
  o = FakeOptions("https://x:1");
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(S3Store::Open(std::move(o)).code(), Errc::kInvalid);
  o = FakeOptions("http://x:1");
  o.bucket = "Bad_Bucket";
  EXPECT_EQ(S3Store::Open(std::move(o)).code(), Errc::kInvalid);
  o = FakeOptions("http://127.0.0.1:9000/");
  auto ok = S3Store::Open(std::move(o));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->Describe(), "s3://127.0.0.1:9000/bucket");
}

}  // namespace
}  // namespace shardfs::remote
