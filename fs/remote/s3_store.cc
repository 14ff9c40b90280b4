#include "fs/remote/s3_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <thread>

#include "fs/remote/http_pool.h"
#include "fs/remote/s3/range.h"
#include "fs/remote/s3/sigv4.h"
#include "fs/remote/s3/xml.h"

namespace shardfs::remote {

namespace http = boost::beast::http;
using util::Bytes;
using util::Errc;
using util::MakeError;

namespace {

bool IsBucketName(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  if (b.front() == '.' || b.front() == '-' || b.back() == '.' || b.back() == '-') return false;
  return std::all_of(b.begin(), b.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

// Text from a server, safe for a log line: bounded, control bytes escaped.
std::string Printable(std::string_view text, size_t max = 160) {
  std::string out;
  for (char c : text.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? fmt::format("\\x{:02x}", u) : std::string(1, c);
  }
  if (text.size() > max) out += "...";
  return out;
}

bool IsRetryable(unsigned status, std::string_view code) {
  return status == 500 || status == 502 || status == 503 || status == 504 || status == 429 ||
         code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" ||
         code == "ServiceUnavailable";
}

std::chrono::milliseconds Backoff(int attempt, std::chrono::milliseconds base,
                                  std::chrono::milliseconds cap) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t ceiling = base.count() << std::min(attempt, 20);
  ceiling = std::min<int64_t>(ceiling, cap.count());
  std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(ceiling, 0));
  return std::chrono::milliseconds(dist(rng));
}

// Sleeps d, or less when cancel fires. Runs on the caller's thread, never on an Asio thread.
void SleepUnlessCancelled(std::chrono::milliseconds d, const util::CancelToken& cancel) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!cancel.cancelled()) {
    auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) return;
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(10)));
  }
}

}  // namespace

util::Result<std::unique_ptr<S3Store>> S3Store::Open(S3Options options) {
  SHARDFS_ASSIGN_OR_RETURN(HttpEndpoint ep, HttpEndpoint::Parse(options.endpoint));
  if (!IsBucketName(options.bucket)) {
    return MakeError(Errc::kInvalid,
                     fmt::format("bad bucket name \"{}\" (3-63 characters of a-z 0-9 . -)",
                                 Printable(options.bucket)));
  }
  if (options.access_key.empty() || options.secret_key.empty()) {
    return MakeError(Errc::kInvalid, fmt::format("no access key or secret key for {}", ep.Url()));
  }
  HttpPoolOptions po;
  po.connect_timeout = options.connect_timeout;
  po.request_timeout = options.request_timeout;
  po.idle_timeout = options.idle_timeout;
  po.max_connections = options.max_connections;
  po.max_response_bytes = options.max_object_bytes;
  po.io_threads = options.io_threads;
  po.ca_file = options.ca_file;
  std::string url = ep.Url();
  SHARDFS_ASSIGN_OR_RETURN(std::unique_ptr<HttpPool> pool, HttpPool::Create(std::move(ep), po));
  return std::unique_ptr<S3Store>(new S3Store(std::move(options), std::move(pool), url));
}

S3Store::S3Store(S3Options options, std::unique_ptr<HttpPool> pool, std::string endpoint_url)
    : options_(std::move(options)),
      endpoint_url_(std::move(endpoint_url)),
      clock_(options_.clock ? options_.clock : &system_clock_),
      pool_(std::move(pool)) {}

S3Store::~S3Store() = default;

std::string S3Store::Describe() const {
  return fmt::format("s3://{}/{}", pool_->endpoint().HostHeader(), options_.bucket);
}

S3Store::Stats S3Store::stats() const {
  HttpPoolStats ps = pool_->stats();
  util::MutexLock lock(mu_);
  return Stats{ps.connections_opened, ps.exchanges, retries_};
}

std::string S3Store::ObjectPath(std::string_view name) const {
  return fmt::format("/{}/{}", options_.bucket, name);
}

// ---- Requests ------------------------------------------------------------------------------

util::Result<S3Store::Reply> S3Store::ExecuteOnce(
    std::string_view method, std::string_view path, std::string_view query, util::ByteSpan body,
    const std::vector<std::pair<std::string, std::string>>& extra, const util::CancelToken& cancel,
    bool sign) {
  HttpRequest req;
  req.method = http::string_to_verb({method.data(), method.size()});
  req.target = s3::UriEncodePath(path);
  if (!query.empty()) req.target += "?" + std::string(query);
  req.body = body;
  if (sign) {
    s3::Credentials creds{options_.access_key, options_.secret_key.Clone()};
    // A body is sent as UNSIGNED-PAYLOAD: SHA-256 over every shard (on both ends) would cost
    // as much CPU as the erasure coding and sealing together, and protect nothing the shard
    // checksums and the AEAD tags do not (a body changed in flight fails them at read, and is
    // repaired from the other shards like any damaged one). The request line, headers and
    // Content-Length stay signed.
    const std::string hash =
        body.empty() ? std::string(s3::kEmptySha256) : std::string(s3::kUnsignedPayload);
    s3::SignInput in{
        .method = method,
        .path = path,
        .query = query,
        .headers = {{"host", pool_->endpoint().HostHeader()}},
        .payload_hash = hash,
        .region = options_.region,
        .service = "s3",
        .time = std::chrono::time_point_cast<std::chrono::system_clock::duration>(clock_->Now()),
    };
    SHARDFS_ASSIGN_OR_RETURN(s3::SignedHeaders signed_headers, s3::Sign(in, creds));
    for (auto& h : signed_headers.headers) req.headers.emplace_back(h.name, h.value);
  }
  for (const auto& h : extra) req.headers.push_back(h);

  SHARDFS_ASSIGN_OR_RETURN(HttpResponse res, pool_->Send(req, cancel));
  Reply reply;
  reply.status = res.result_int();
  reply.content_range = std::string(res[http::field::content_range]);
  reply.body = std::move(res.body());
  if (reply.status >= 300 && !reply.body.empty()) {
    auto doc = s3::ParseError(util::AsStringView(reply.body));
    if (doc.ok()) {
      reply.code = std::move(doc->code);
      reply.message = std::move(doc->message);
    }
  }
  return reply;
}

util::Result<S3Store::Reply> S3Store::Execute(
    std::string_view method, std::string_view path, std::string_view query, util::ByteSpan body,
    std::vector<std::pair<std::string, std::string>> extra_headers, const util::CancelToken& cancel,
    bool sign) {
  for (int attempt = 1;; ++attempt) {
    auto reply = ExecuteOnce(method, path, query, body, extra_headers, cancel, sign);
    bool retry = reply.ok() ? IsRetryable(reply->status, reply->code)
                            : reply.code() == Errc::kUnavailable && !cancel.cancelled();
    if (!retry || attempt >= std::max(1, options_.max_attempts) || cancel.cancelled()) {
      if (!reply.ok()) {
        std::string ctx = fmt::format("node {}: {} {}", endpoint_url_, method, path);
        if (attempt > 1) ctx += fmt::format(" ({} attempts)", attempt);
        return Context(reply, ctx);
      }
      return reply;
    }
    {
      util::MutexLock lock(mu_);
      ++retries_;
    }
    SleepUnlessCancelled(Backoff(attempt - 1, options_.backoff_base, options_.backoff_max), cancel);
    if (cancel.cancelled()) {  // while waiting to retry: the failure stands, not "cancelled"
      return Context(
          reply, fmt::format("node {}: {} {} ({} attempts)", endpoint_url_, method, path, attempt));
    }
  }
}

util::Error S3Store::ReplyError(const Reply& reply, std::string_view what) const {
  std::string cause = reply.code.empty() ? fmt::format("HTTP {}", reply.status)
                                         : fmt::format("{} {}", reply.status, reply.code);
  if (!reply.message.empty()) cause += ": " + Printable(reply.message);
  const std::string& node = endpoint_url_;
  const std::string& bucket = options_.bucket;
  if (reply.code == "NoSuchBucket") {
    return MakeError(Errc::kNotFound, fmt::format("node {} has no bucket {} ({}); create it first",
                                                  node, bucket, cause));
  }
  if (reply.status == 404) {
    return MakeError(Errc::kNotFound, fmt::format("node {} has no {} ({})", node, what, cause));
  }
  if (reply.status == 507 || reply.code == "QuotaExceeded" || reply.code == "EntityTooLarge" ||
      reply.code == "InsufficientStorage") {
    return MakeError(Errc::kNoSpace,
                     fmt::format("node {} has no room for {} ({})", node, what, cause));
  }
  if (reply.status == 403 || reply.status == 401) {
    if (reply.code == "AccessDenied") {  // the credentials are fine, the bucket is not ours
      return MakeError(Errc::kPermission,
                       fmt::format("node {} denied access to {} ({})", node, what, cause));
    }
    std::string hint = reply.code == "RequestTimeTooSkewed" ? "; check this machine's clock" : "";
    return MakeError(Errc::kPermission,
                     fmt::format("node {} refused the credentials for bucket {} ({}){}", node,
                                 bucket, cause, hint));
  }
  if (IsRetryable(reply.status, reply.code)) {
    return MakeError(Errc::kUnavailable,
                     fmt::format("node {} is unavailable for {} ({})", node, what, cause));
  }
  if (reply.status >= 400 && reply.status < 500) {
    return MakeError(Errc::kInvalid,
                     fmt::format("node {} rejected the request for {} ({})", node, what, cause));
  }
  return MakeError(Errc::kUnavailable,
                   fmt::format("node {} gave an unexpected reply for {} ({})", node, what, cause));
}

// ---- Objects -------------------------------------------------------------------------------

util::Status S3Store::Put(std::string_view name, util::ByteSpan data) {
  SHARDFS_TRY(ValidateObjectName(name));
  const std::string what = fmt::format("object {} in bucket {}", name, options_.bucket);
  if (data.size() > options_.max_object_bytes) {
    return MakeError(Errc::kTooLarge, fmt::format("{} is {} bytes, over the limit of {}", what,
                                                  data.size(), options_.max_object_bytes));
  }
  ForgetUsage();
  // Shards are checked end to end (XXH3 in the location record, the block's AEAD tag), so the
  // node need not hash them again for an MD5 ETag: shardfs-node honours this, others ignore it.
  SHARDFS_ASSIGN_OR_RETURN(
      Reply reply, Execute("PUT", ObjectPath(name), "", data, {{"x-shardfs-etag", "xxh3"}}, {}));
  ForgetUsage();
  if (reply.status != 200 && reply.status != 201 && reply.status != 204) {
    return ReplyError(reply, what);
  }
  return util::Ok();
}

util::Result<Bytes> S3Store::Get(std::string_view name) {
  SHARDFS_TRY(ValidateObjectName(name));
  SHARDFS_ASSIGN_OR_RETURN(Reply reply, Execute("GET", ObjectPath(name), "", {}, {}, {}));
  if (reply.status != 200) {
    return ReplyError(reply, fmt::format("object {} in bucket {}", name, options_.bucket));
  }
  return std::move(reply.body);
}

util::Result<Bytes> S3Store::GetRange(std::string_view name, uint64_t offset, uint64_t length) {
  return FetchRange(name, offset, length, {});
}

util::Result<Bytes> S3Store::GetRangeCancellable(std::string_view name, uint64_t offset,
                                                 uint64_t length, const util::CancelToken& cancel) {
  // A failure seen before the cancel (a refused connection, a 5xx) is returned as it is: the
  // caller keeps node health by it.
  return FetchRange(name, offset, length, cancel);
}

util::Result<Bytes> S3Store::FetchRange(std::string_view name, uint64_t offset, uint64_t length,
                                        const util::CancelToken& cancel) {
  SHARDFS_TRY(ValidateObjectName(name));
  const std::string what = fmt::format("object {} in bucket {}", name, options_.bucket);
  // A zero-length read still asks for one byte, so a missing object is kNotFound.
  const uint64_t want = std::max<uint64_t>(length, 1);
  const bool to_end = want > UINT64_MAX - offset;
  s3::RangeSpec spec =
      to_end ? s3::RangeSpec::From(offset) : s3::RangeSpec::Closed(offset, offset + want - 1);
  SHARDFS_ASSIGN_OR_RETURN(Reply reply, Execute("GET", ObjectPath(name), "", {},
                                                {{"range", s3::FormatRange(spec)}}, cancel));
  if (reply.status == 416) return Bytes();  // the range starts at or past the end
  Bytes body = std::move(reply.body);
  if (reply.status == 200) {  // the server ignored the range: slice the whole object
    uint64_t first = std::min<uint64_t>(offset, body.size());
    uint64_t n = std::min<uint64_t>(length, body.size() - first);
    if (first > 0) body.erase(body.begin(), body.begin() + static_cast<ptrdiff_t>(first));
    body.resize(n);
    return body;
  }
  if (reply.status != 206) return ReplyError(reply, what);
  auto cr = s3::ParseContentRange(reply.content_range);
  if (!cr.ok() || cr->range.first != offset || cr->range.length() != body.size()) {
    return MakeError(
        Errc::kCorrupt,
        fmt::format("node {} sent a bad partial reply for {} (Content-Range \"{}\", "
                    "{} bytes, asked from {})",
                    endpoint_url_, what, Printable(reply.content_range), body.size(), offset));
  }
  if (body.size() > length) body.resize(length);
  return body;
}

util::Status S3Store::Delete(std::string_view name) {
  SHARDFS_TRY(ValidateObjectName(name));
  ForgetUsage();
  SHARDFS_ASSIGN_OR_RETURN(Reply reply, Execute("DELETE", ObjectPath(name), "", {}, {}, {}));
  ForgetUsage();
  if (reply.status == 200 || reply.status == 204 || reply.code == "NoSuchKey") return util::Ok();
  return ReplyError(reply, fmt::format("object {} in bucket {}", name, options_.bucket));
}

}  // namespace shardfs::remote
