#include "node/s3_handler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>

#include "fs/remote/s3/xml.h"
#include "fs/util/encoding.h"
#include "node/s3_target.h"

namespace shardfs::node {
namespace s3 = remote::s3;

const std::string* RequestHead::Find(std::string_view name) const {
  for (const s3::Header& h : headers) {
    if (h.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(h.name[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return &h.value;
  }
  return nullptr;
}

S3Handler::S3Handler(const NodeConfig& config, ObjectStore* store)
    : config_(config), store_(store) {}

Reply S3Handler::Error(int status, std::string_view code, std::string_view message,
                       std::string_view resource, bool head) {
  Reply r;
  r.status = status;
  if (head) {
    r.head = true;
    return r;
  }
  r.headers.push_back({"Content-Type", "application/xml"});
  r.body = s3::BuildError({std::string(code), std::string(message), std::string(resource), ""});
  return r;
}

Reply StoreErrorReply(const util::Error& e, std::string_view resource, bool object, bool head) {
  switch (e.code) {
    case util::Errc::kNotFound:
      return S3Handler::Error(404, object ? "NoSuchKey" : "NoSuchBucket", e.message, resource,
                              head);
    case util::Errc::kExists:
      return S3Handler::Error(object ? 412 : 409,
                              object ? "PreconditionFailed" : "BucketAlreadyExists", e.message,
                              resource, head);
    case util::Errc::kNotEmpty:
      return S3Handler::Error(409, "BucketNotEmpty", e.message, resource, head);
    case util::Errc::kNoSpace:
      return S3Handler::Error(403, "QuotaExceeded", e.message, resource, head);
    case util::Errc::kInvalid:
      return S3Handler::Error(400, "InvalidArgument", e.message, resource, head);
    case util::Errc::kTooLarge:
      return S3Handler::Error(400, "EntityTooLarge", e.message, resource, head);
    default:
      spdlog::error("{}: {}", resource, e.message);
      return S3Handler::Error(500, "InternalError", "the node failed: " + e.message, resource,
                              head);
  }
}

const KeyConfig* S3Handler::FindKey(std::string_view access_key) const {
  for (const KeyConfig& k : config_.keys) {
    if (k.access_key == access_key) return &k;
  }
  return nullptr;
}

Action S3Handler::Begin(const RequestHead& req) {
  const bool head = req.method == "HEAD";
  util::Result<Target> target = ParseTarget(req.target);
  if (!target.ok()) {
    return {Error(400, "InvalidURI", target.error().message, "", head), nullptr};
  }
  const Target& t = *target;
  if (t.path == "/_shardfs/health" && (req.method == "GET" || head)) {
    Action a;
    a.reply.headers.push_back({"Content-Type", "application/json"});
    a.reply.body = "{\"status\":\"ok\"}";
    a.reply.head = head;
    a.reply.content_length = a.reply.body.size();
    return a;
  }
  s3::RequestView view{req.method, t.path, t.raw_query, req.headers};
  s3::SecretLookup lookup = [this](std::string_view ak) -> std::optional<util::SecretBytes> {
    const KeyConfig* k = FindKey(ak);
    if (k == nullptr) return std::nullopt;
    return k->secret_key.Clone();
  };
  s3::VerifyResult auth =
      s3::VerifyRequest(view, config_.region, lookup, std::chrono::system_clock::now());
  if (!auth.ok()) {
    int status = auth.failure == s3::AuthFailure::kMalformed ||
                         auth.failure == s3::AuthFailure::kWrongRegion ||
                         auth.failure == s3::AuthFailure::kBadContentHash
                     ? 400
                     : 403;
    spdlog::info("{} {}: refused: {}", req.method, t.path, auth.message);
    return {Error(status, s3::AuthFailureCode(auth.failure), auth.message, t.path, head), nullptr};
  }
  const KeyConfig* key = FindKey(auth.access_key);
  Caller caller{auth.access_key, key->quota_bytes, auth.payload_hash};
  return Route(req, t, caller);
}

Action S3Handler::Route(const RequestHead& req, const Target& t, const Caller& caller) {
  const bool head = req.method == "HEAD";
  if (t.path == "/_shardfs/usage" && req.method == "GET") return {Usage(caller), nullptr};
  if (t.bucket.empty() || t.bucket.front() == '_') {
    if (t.path == "/" && req.method == "GET") return {ServiceOp(req, t, caller), nullptr};
    return {Error(t.path == "/" ? 405 : 404, t.path == "/" ? "MethodNotAllowed" : "NoSuchBucket",
                  "no such resource", t.path, head),
            nullptr};
  }
  if (t.key.empty()) return {BucketOp(req, t, caller), nullptr};
  util::Result<BucketInfo> b = store_->GetBucket(t.bucket);
  if (!b.ok()) return {StoreErrorReply(b.error(), t.path, false, head), nullptr};
  if (b->owner != caller.access_key) {
    return {Error(403, "AccessDenied", "the bucket belongs to another access key", t.path, head),
            nullptr};
  }
  if (util::Status st = ValidateKey(t.key); !st.ok()) {
    return {Error(400, t.key.size() > kMaxKeyBytes ? "KeyTooLongError" : "InvalidArgument",
                  st.error().message, t.path, head),
            nullptr};
  }
  if (t.Has("uploadId") || t.Has("uploads") || t.Has("partNumber") || t.Has("acl") ||
      t.Has("tagging") || t.Has("retention")) {
    return {Error(501, "NotImplemented", "this node supports plain objects only", t.path, head),
            nullptr};
  }
  if (req.method == "PUT") return PutObject(req, t, caller);
  if (req.method == "GET" || head) return {GetObject(req, t, head), nullptr};
  if (req.method == "DELETE") return {DeleteObject(t), nullptr};
  return {Error(405, "MethodNotAllowed", "method not allowed on an object", t.path, head), nullptr};
}

Reply S3Handler::ServiceOp(const RequestHead&, const Target&, const Caller& caller) {
  std::vector<s3::BucketEntry> entries;
  for (const BucketInfo& b : store_->ListBuckets(caller.access_key)) {
    entries.push_back({b.name, FormatIso8601(b.created_ms)});
  }
  Reply r;
  r.headers.push_back({"Content-Type", "application/xml"});
  r.body = s3::BuildListBuckets(caller.access_key, entries);
  return r;
}

Reply S3Handler::BucketOp(const RequestHead& req, const Target& t, const Caller& caller) {
  const bool head = req.method == "HEAD";
  if (req.method == "PUT") {
    if (!t.raw_query.empty()) {
      return Error(501, "NotImplemented", "bucket sub-resources are not supported", t.path, head);
    }
    if (util::Status st = ValidateBucketName(t.bucket); !st.ok()) {
      return Error(400, "InvalidBucketName", st.error().message, t.path, head);
    }
    if (util::Status st = store_->CreateBucket(t.bucket, caller.access_key); !st.ok()) {
      return StoreErrorReply(st.error(), t.path, false, head);
    }
    Reply r;
    r.headers.push_back({"Location", "/" + t.bucket});
    return r;
  }
  util::Result<BucketInfo> b = store_->GetBucket(t.bucket);
  if (!b.ok()) return StoreErrorReply(b.error(), t.path, false, head);
  if (b->owner != caller.access_key) {
    return Error(403, "AccessDenied", "the bucket belongs to another access key", t.path, head);
  }
  if (head) {
    Reply r;
    r.head = true;
    r.headers.push_back({"x-amz-bucket-region", config_.region});
    return r;
  }
  if (req.method == "DELETE") {
    if (util::Status st = store_->DeleteBucket(t.bucket); !st.ok()) {
      return StoreErrorReply(st.error(), t.path, false, head);
    }
    Reply r;
    r.status = 204;
    return r;
  }
  if (req.method != "GET") {
    return Error(req.method == "POST" ? 501 : 405,
                 req.method == "POST" ? "NotImplemented" : "MethodNotAllowed",
                 "not supported on a bucket by this node", t.path, head);
  }
  if (t.Has("location")) {
    Reply r;
    r.headers.push_back({"Content-Type", "application/xml"});
    r.body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" +
        s3::XmlEscape(config_.region) + "</LocationConstraint>";
    return r;
  }
  for (const char* sub : {"acl", "versioning", "policy", "cors", "lifecycle", "tagging", "uploads",
                          "versions", "website", "logging", "encryption"}) {
    if (t.Has(sub)) {
      return Error(501, "NotImplemented", std::string("?") + sub + " is not supported", t.path,
                   head);
    }
  }
  return ListObjects(t, t.Get("list-type") != "2");
}

Reply S3Handler::ListObjects(const Target& t, bool v1) {
  s3::ListObjectsResult out;
  out.v1 = v1;
  out.bucket = t.bucket;
  out.prefix = t.Get("prefix");
  out.delimiter = t.Get("delimiter");
  out.url_encoding = t.Get("encoding-type") == "url";
  ListQuery q{out.prefix, out.delimiter, "", 1000};
  if (t.Has("max-keys")) {
    std::string mk = t.Get("max-keys");
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(mk.data(), mk.data() + mk.size(), n);
    if (mk.empty() || ec != std::errc() || p != mk.data() + mk.size()) {
      return Error(400, "InvalidArgument", "max-keys is not a number", t.path, false);
    }
    q.max_keys = std::min<uint64_t>(n, 1000);
  }
  out.max_keys = q.max_keys;
  if (v1) {
    out.marker = t.Get("marker");
    q.after = out.marker;
  } else {
    out.start_after = t.Get("start-after");
    out.continuation_token = t.Get("continuation-token");
    q.after = out.start_after;
    if (!out.continuation_token.empty()) {
      std::optional<util::Bytes> k = util::FromHex(out.continuation_token);
      if (!k) return Error(400, "InvalidArgument", "bad continuation-token", t.path, false);
      q.after = std::max(q.after, std::string(k->begin(), k->end()));
    }
  }
  util::Result<ListPage> page = store_->List(t.bucket, q);
  if (!page.ok()) return StoreErrorReply(page.error(), t.path, false, false);
  for (const auto& [key, meta] : page->objects) {
    out.contents.push_back({key, meta.size, meta.ETag(), FormatIso8601(meta.mtime_ms)});
  }
  out.common_prefixes = page->common_prefixes;
  out.is_truncated = page->truncated;
  if (out.is_truncated) {
    out.next_marker = page->last;
    out.next_continuation_token = util::ToHex(util::AsBytes(page->last));
  }
  Reply r;
  r.headers.push_back({"Content-Type", "application/xml"});
  r.body = s3::BuildListObjectsV2(out);
  return r;
}

Reply S3Handler::Usage(const Caller& caller) {
  node::Usage u = store_->GetUsage(caller.access_key);
  Reply r;
  r.headers.push_back({"Content-Type", "application/json"});
  r.body = "{\"used_bytes\":" + std::to_string(u.bytes) +
           ",\"quota_bytes\":" + std::to_string(caller.quota_bytes) +
           ",\"objects\":" + std::to_string(u.objects) + "}";
  return r;
}

}  // namespace shardfs::node
