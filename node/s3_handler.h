// S3Handler: the S3 subset of shardfs-node, independent of the HTTP library. The server hands it
// a request head; it authenticates it (SigV4), routes it and answers with an Action: a complete
// Reply, or a BodySink that takes the body of a PUT as it streams in and gives the Reply at the
// end. Errors are S3 XML documents. Thread-safe: the handler holds only const config and a
// thread-safe ObjectStore; each BodySink belongs to one request.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/remote/s3/sigv4.h"
#include "node/config.h"
#include "node/object_store.h"
#include "node/s3_target.h"

namespace shardfs::node {

struct RequestHead {
  std::string method;  // "GET", "PUT"...
  std::string target;  // as received: "/bucket/key%20x?list-type=2"
  std::vector<remote::s3::Header> headers;
  std::optional<uint64_t> content_length;  // nullopt for chunked or absent
  bool chunked = false;

  // The first header with this name (case-insensitive), or nullptr.
  const std::string* Find(std::string_view name) const;
};

struct Reply {
  int status = 200;
  std::vector<remote::s3::Header> headers;  // Content-Type included when there is a body
  std::string body;
  // A streamed object body: `file_length` bytes of `file` from `file_offset`.
  std::optional<OpenObject> file;
  uint64_t file_offset = 0;
  uint64_t file_length = 0;
  // HEAD: Content-Length says content_length, no body is sent.
  bool head = false;
  uint64_t content_length = 0;
};

// Receives a request body in order. Write may fail (the server then stops reading and answers
// with Finish()'s error). Finish is called once, after the whole body or a failed Write.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual util::Status Write(util::ByteSpan data) = 0;
  virtual Reply Finish() = 0;
};

struct Action {
  Reply reply;                     // used when sink is null
  std::unique_ptr<BodySink> sink;  // PUT object
};

class S3Handler {
 public:
  // config and store must outlive the handler.
  S3Handler(const NodeConfig& config, ObjectStore* store);

  Action Begin(const RequestHead& req);

  // An S3 error document reply (no body for HEAD).
  static Reply Error(int status, std::string_view code, std::string_view message,
                     std::string_view resource, bool head);

 private:
  struct Caller {
    std::string access_key;
    uint64_t quota_bytes = 0;
    std::string payload_hash;
  };
  Action Route(const RequestHead& req, const Target& t, const Caller& caller);
  Reply ServiceOp(const RequestHead& req, const Target& t, const Caller& caller);
  Reply BucketOp(const RequestHead& req, const Target& t, const Caller& caller);
  Reply ListObjects(const Target& t, bool v1);
  Action PutObject(const RequestHead& req, const Target& t, const Caller& caller);
  Reply GetObject(const RequestHead& req, const Target& t, bool head);
  Reply DeleteObject(const Target& t);
  Reply Usage(const Caller& caller);
  const KeyConfig* FindKey(std::string_view access_key) const;

  const NodeConfig& config_;
  ObjectStore* store_;
};

// The S3 error for a store error in the context of an object or bucket request.
Reply StoreErrorReply(const util::Error& e, std::string_view resource, bool object, bool head);

}  // namespace shardfs::node
