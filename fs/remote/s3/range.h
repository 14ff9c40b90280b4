// HTTP byte ranges for S3 GET (RFC 9110 section 14): parsing a Range header, resolving it against
// an object's size, and formatting Range / Content-Range headers. Only single ranges: S3 does not
// serve multipart/byteranges. Pure functions; thread-safe.
//
// Server:  auto spec = ParseRange(req["Range"]);      // kInvalid/kUnsupported: ignore, serve 200
//          auto r = Resolve(*spec, size);             // nullopt: 416 InvalidRange, "bytes */size"
//          res.set("Content-Range", FormatContentRange(*r, size));   // 206
// Client:  req.set("Range", FormatRange(RangeSpec::Closed(0, 4095)));
//          SHARDFS_ASSIGN_OR_RETURN(ContentRange cr, ParseContentRange(res["Content-Range"]));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fs/util/result.h"

namespace shardfs::remote::s3 {

// What a Range header asks for, before the object's size is known:
//   bytes=F-L  first and last set (L >= F); bytes=F-  only first; bytes=-N  only suffix.
struct RangeSpec {
  std::optional<uint64_t> first;
  std::optional<uint64_t> last;    // inclusive; only with first
  std::optional<uint64_t> suffix;  // the last N bytes; never with first

  static RangeSpec Closed(uint64_t first, uint64_t last) { return {first, last, std::nullopt}; }
  static RangeSpec From(uint64_t first) { return {first, std::nullopt, std::nullopt}; }
  static RangeSpec Suffix(uint64_t n) { return {std::nullopt, std::nullopt, n}; }
};

// A resolved range inside an object: first <= last < size.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
};

// Parses "bytes=0-99", "bytes=100-", "bytes=-100" (whitespace around the range tolerated).
// kInvalid for anything malformed (another unit, L < F, a number over 2^64, garbage); kUnsupported
// for several ranges. Servers ignore the header in both cases, as RFC 9110 allows.
util::Result<RangeSpec> ParseRange(std::string_view header);

// The bytes of an object of `size` bytes that spec selects, or nullopt if none (416): a first
// byte at or past the end, a zero-length suffix, or an empty object. A last byte past the end is
// clamped; a suffix longer than the object selects all of it.
std::optional<ByteRange> Resolve(const RangeSpec& spec, uint64_t size);

std::string FormatRange(const RangeSpec& spec);              // "bytes=0-99"
std::string FormatContentRange(ByteRange r, uint64_t size);  // "bytes 0-99/1000"
std::string FormatUnsatisfiedContentRange(uint64_t size);    // "bytes */1000"

// A parsed Content-Range of a 206 reply; total is nullopt for "bytes 0-99/*".
struct ContentRange {
  ByteRange range;
  std::optional<uint64_t> total;
};
util::Result<ContentRange> ParseContentRange(std::string_view header);

}  // namespace shardfs::remote::s3
