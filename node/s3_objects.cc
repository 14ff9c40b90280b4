// S3Handler's object requests: PUT (streamed into an Upload through a BodySink), GET and HEAD
// (with ranges), DELETE.
#include <openssl/evp.h>

#include "fs/remote/s3/range.h"
#include "fs/util/encoding.h"
#include "node/s3_handler.h"

namespace shardfs::node {
namespace s3 = remote::s3;
namespace {

// "abc, \"def\"" -> {"abc", "\"def\""}
std::vector<std::string> SplitEtags(std::string_view v) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= v.size()) {
    size_t comma = v.find(',', pos);
    if (comma == std::string_view::npos) comma = v.size();
    std::string_view item = v.substr(pos, comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    pos = comma + 1;
  }
  return out;
}

// Content-MD5 is base64 of the 16-byte digest; nullopt if malformed.
std::optional<std::array<uint8_t, 16>> DecodeContentMd5(std::string_view b64) {
  if (b64.size() != 24) return std::nullopt;
  uint8_t out[18];
  int n = EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(b64.data()), 24);
  if (n != 18) return std::nullopt;
  std::array<uint8_t, 16> md5{};
  std::copy_n(out, 16, md5.begin());
  return md5;
}

class PutSink : public BodySink {
 public:
  PutSink(std::unique_ptr<Upload> upload, std::string path, std::string payload_hash,
          std::optional<std::array<uint8_t, 16>> content_md5, PutConditions conditions)
      : upload_(std::move(upload)),
        path_(std::move(path)),
        payload_hash_(std::move(payload_hash)),
        content_md5_(content_md5),
        conditions_(std::move(conditions)) {}

  util::Status Write(util::ByteSpan data) override {
    if (hashing()) sha_.Update(data);
    util::Status st = upload_->Write(data);
    if (!st.ok()) failed_ = st.error();
    return st;
  }

  Reply Finish() override {
    if (failed_) return StoreErrorReply(*failed_, path_, true, false);
    if (hashing() && sha_.FinishHex() != payload_hash_) {
      return S3Handler::Error(400, "XAmzContentSHA256Mismatch",
                              "the body does not match x-amz-content-sha256", path_, false);
    }
    util::Result<ObjectMeta> meta = upload_->Commit(conditions_, content_md5_);
    if (meta.code() == util::Errc::kCorrupt) {
      return S3Handler::Error(400, "BadDigest", meta.error().message, path_, false);
    }
    if (!meta.ok()) return StoreErrorReply(meta.error(), path_, true, false);
    Reply r;
    r.headers.push_back({"ETag", meta->ETag()});
    return r;
  }

 private:
  bool hashing() const { return s3::IsSha256Hex(payload_hash_); }

  std::unique_ptr<Upload> upload_;
  std::string path_;
  std::string payload_hash_;
  std::optional<std::array<uint8_t, 16>> content_md5_;
  PutConditions conditions_;
  s3::Sha256Hasher sha_;
  std::optional<util::Error> failed_;
};

}  // namespace

Action S3Handler::PutObject(const RequestHead& req, const Target& t, const Caller& caller) {
  if (req.Find("x-amz-copy-source") != nullptr) {
    return {Error(501, "NotImplemented", "CopyObject is not supported", t.path, false), nullptr};
  }
  if (caller.payload_hash == s3::kStreamingPayload) {
    return {Error(501, "NotImplemented",
                  "aws-chunked uploads are not supported; sign the payload or use "
                  "UNSIGNED-PAYLOAD",
                  t.path, false),
            nullptr};
  }
  if (!req.content_length) {
    return {Error(411, "MissingContentLength", "PUT needs a Content-Length", t.path, false),
            nullptr};
  }
  if (*req.content_length > config_.max_object_bytes) {
    return {Error(400, "EntityTooLarge",
                  "the object is larger than this node's limit of " +
                      std::to_string(config_.max_object_bytes) + " bytes",
                  t.path, false),
            nullptr};
  }
  std::optional<std::array<uint8_t, 16>> md5;
  if (const std::string* m = req.Find("content-md5")) {
    md5 = DecodeContentMd5(*m);
    if (!md5)
      return {Error(400, "InvalidDigest", "Content-MD5 is malformed", t.path, false), nullptr};
  }
  PutConditions cond;
  if (const std::string* v = req.Find("if-none-match")) {
    if (*v != "*") {
      return {Error(501, "NotImplemented", "If-None-Match on PUT supports only '*'", t.path, false),
              nullptr};
    }
    cond.if_none_match_star = true;
  }
  if (const std::string* v = req.Find("if-match")) cond.if_match = SplitEtags(*v);
  // x-shardfs-etag: xxh3 (docs/node.md) asks for an XXH3-128 ETag instead of MD5; a
  // Content-MD5 to check needs the MD5 anyway.
  EtagDigest digest = EtagDigest::kMd5;
  if (const std::string* e = req.Find("x-shardfs-etag")) {
    if (*e != "xxh3" && *e != "md5") {
      return {Error(400, "InvalidArgument", "x-shardfs-etag must be xxh3 or md5", t.path, false),
              nullptr};
    }
    if (*e == "xxh3" && !md5) digest = EtagDigest::kXxh3;
  }
  util::Result<std::unique_ptr<Upload>> up = store_->BeginPut(
      t.bucket, t.key, caller.access_key, *req.content_length, caller.quota_bytes, cond, digest);
  if (!up.ok()) return {StoreErrorReply(up.error(), t.path, true, false), nullptr};
  return {Reply{}, std::make_unique<PutSink>(std::move(up).value(), t.path, caller.payload_hash,
                                             md5, std::move(cond))};
}

Reply S3Handler::GetObject(const RequestHead& req, const Target& t, bool head) {
  util::Result<OpenObject> obj = store_->OpenForRead(t.bucket, t.key);
  if (!obj.ok()) return StoreErrorReply(obj.error(), t.path, true, head);
  const ObjectMeta meta = obj->meta;
  Reply r;
  r.head = head;
  r.headers.push_back({"Content-Type", "application/octet-stream"});
  r.headers.push_back({"ETag", meta.ETag()});
  r.headers.push_back({"Last-Modified", FormatHttpDate(meta.mtime_ms)});
  r.headers.push_back({"Accept-Ranges", "bytes"});
  s3::ByteRange range{0, meta.size == 0 ? 0 : meta.size - 1};
  bool partial = false;
  if (const std::string* rh = req.Find("range")) {
    util::Result<s3::RangeSpec> spec = s3::ParseRange(*rh);
    if (spec.ok()) {  // malformed or multiple ranges: ignored, the whole object is served
      std::optional<s3::ByteRange> resolved = s3::Resolve(*spec, meta.size);
      if (!resolved) {
        Reply e =
            Error(416, "InvalidRange", "the requested range is not satisfiable", t.path, head);
        e.headers.push_back({"Content-Range", s3::FormatUnsatisfiedContentRange(meta.size)});
        return e;
      }
      range = *resolved;
      partial = true;
    }
  }
  uint64_t length = meta.size == 0 ? 0 : range.length();
  if (partial) {
    r.status = 206;
    r.headers.push_back({"Content-Range", s3::FormatContentRange(range, meta.size)});
  }
  r.content_length = length;
  if (!head) {
    r.file_offset = obj->data_offset + range.first;
    r.file_length = length;
    r.file = std::move(obj).value();
  }
  return r;
}

Reply S3Handler::DeleteObject(const Target& t) {
  util::Status st = store_->Delete(t.bucket, t.key);
  if (!st.ok()) return StoreErrorReply(st.error(), t.path, false, false);
  Reply r;
  r.status = 204;
  return r;
}

}  // namespace shardfs::node
