// The S3 XML documents shardfs speaks: ListObjectsV2 results, ListAllMyBuckets results and Error
// documents, each built (node) and parsed (client). Parsing takes untrusted bytes: it is bounded
// (input size, nesting depth, element count), never reads past the input, and answers kCorrupt
// for anything it cannot read. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fs/util/result.h"

namespace shardfs::remote::s3 {

// Escapes & < > " ' as entities, so the result is safe in text and in attribute values.
std::string XmlEscape(std::string_view text);
// Replaces the five named entities and &#N; / &#xH; (emitted as UTF-8; no NUL, no surrogates,
// nothing over U+10FFFF). kCorrupt for an unknown or unterminated entity.
util::Result<std::string> XmlUnescape(std::string_view text);

struct ObjectEntry {
  std::string key;
  uint64_t size = 0;
  std::string etag;           // with its quotes, as S3 sends it: "\"9e107d9d...\""
  std::string last_modified;  // ISO 8601 UTC, "2024-05-01T12:00:00.000Z"
};

// A ListObjectsV2 result; with v1 set, the older ListObjects (V1) form that s3cmd still uses:
// Marker / NextMarker instead of the continuation tokens, no KeyCount or StartAfter.
struct ListObjectsResult {
  bool v1 = false;
  std::string marker;       // v1 only
  std::string next_marker;  // v1 only; set when is_truncated
  std::string bucket;
  std::string prefix;
  std::string delimiter;
  std::string start_after;
  std::string continuation_token;       // the token of this request
  std::string next_continuation_token;  // set when is_truncated
  uint64_t max_keys = 1000;
  bool is_truncated = false;
  // With url_encoding (the request said encoding-type=url) keys, prefixes, the delimiter and
  // start-after travel %-encoded; Build encodes them and Parse decodes them.
  bool url_encoding = false;
  std::vector<ObjectEntry> contents;
  std::vector<std::string> common_prefixes;
};

std::string BuildListObjectsV2(const ListObjectsResult& result);  // honours result.v1
// Reads both forms; v1 is set when the document has a Marker and no KeyCount.
util::Result<ListObjectsResult> ParseListObjectsV2(std::string_view xml);

struct BucketEntry {
  std::string name;
  std::string creation_date;  // ISO 8601 UTC
};
std::string BuildListBuckets(std::string_view owner_id, const std::vector<BucketEntry>& buckets);
util::Result<std::vector<BucketEntry>> ParseListBuckets(std::string_view xml);

// <Error><Code>NoSuchKey</Code><Message>...</Message><Resource>/b/k</Resource>
// <RequestId>...</RequestId></Error>
struct ErrorDocument {
  std::string code;
  std::string message;
  std::string resource;
  std::string request_id;
};
std::string BuildError(const ErrorDocument& error);
util::Result<ErrorDocument> ParseError(std::string_view xml);

// Limits on what the parser accepts.
inline constexpr size_t kMaxXmlBytes = 64 << 20;
inline constexpr int kMaxXmlDepth = 32;
inline constexpr size_t kMaxXmlElements = 1 << 20;

}  // namespace shardfs::remote::s3
