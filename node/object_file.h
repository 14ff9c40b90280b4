// The on-disk pieces of shardfs-node (format v1, docs/node.md): bucket and key validation, the
// file name a key maps to, the header at the start of every object file, temp files for uploads
// in progress, and small time formatters. Pure functions and single-owner RAII types; no shared
// state, so thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "fs/util/bytes.h"
#include "fs/util/result.h"
#include "fs/util/unique_fd.h"

namespace shardfs::node {

inline constexpr int kFormatVersion = 1;
inline constexpr size_t kMaxKeyBytes = 1024;  // S3's limit
inline constexpr size_t kMaxOwnerBytes = 128;

// S3 bucket naming rules (3-63 of [a-z0-9.-], starts and ends with a letter or digit, no "..",
// not an IPv4 address). A valid name is also a safe directory name. kInvalid with the reason.
util::Status ValidateBucketName(std::string_view name);
// 1..1024 bytes of valid UTF-8 with no control characters (incl. NUL and DEL), not starting with
// '/', and no "." or ".." path segment. Keys never become paths (see KeyFileName), so this is
// belt and braces against clients and tools that would treat keys as paths.
util::Status ValidateKey(std::string_view key);

// "ab/cd/abcd...64 hex": the SHA-256 of the key, fanned out over two directory levels.
std::string KeyFileName(std::string_view key);

// What the header of an object file records.
struct ObjectHeader {
  uint64_t size = 0;              // content bytes after the header
  int64_t mtime_ms = 0;           // Unix time of the upload, milliseconds
  std::array<uint8_t, 16> md5{};  // MD5 of the content: the ETag
  std::string key;
  std::string owner;  // the access key charged for the bytes
};

// Header bytes for h (md5 may still be zero: it is patched in at kMd5Offset when known).
util::Bytes EncodeHeader(const ObjectHeader& h);
inline constexpr size_t kMd5Offset = 28;
// Decodes the header at the start of buf; *header_len gets its length. kCorrupt if it is not an
// object header of this format; kInvalid if buf is too short to hold it (read more).
util::Result<ObjectHeader> DecodeHeader(util::ByteSpan buf, size_t* header_len);
// Reads and decodes the header of an open object file (at offset 0).
util::Result<ObjectHeader> ReadHeader(int fd, size_t* header_len);

using util::UniqueFd;

// A new file in dir (mode 0600) that is unlinked on destruction unless Keep() was called.
class TempFile {
 public:
  static util::Result<TempFile> Create(const std::string& dir);
  TempFile(TempFile&&) noexcept = default;
  TempFile& operator=(TempFile&&) noexcept = default;
  ~TempFile();
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  void Keep() { path_.clear(); }  // after a successful rename

 private:
  TempFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

std::string FormatIso8601(int64_t unix_ms);   // "2024-05-01T12:00:00.000Z"
std::string FormatHttpDate(int64_t unix_ms);  // "Wed, 01 May 2024 12:00:00 GMT"
int64_t NowUnixMs();

}  // namespace shardfs::node
