// ShardStore: where sealed objects live, addressed by opaque names. Implementations: DirStore
// (a local directory, one file per object), the S3 client and the erasure-coding store over
// nodes (later), and in fs/remote/testing an in-memory fake and a fault-injecting wrapper.
// A store moves opaque bytes: it knows nothing of blocks, keys or files. Every implementation
// is thread-safe, and a Put is atomic: a reader sees the whole old object or the whole new one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fs/util/bytes.h"
#include "fs/util/cancel.h"
#include "fs/util/result.h"

namespace shardfs::remote {

struct StoreUsage {
  uint64_t used_bytes = 0;       // bytes of this store's objects
  uint64_t capacity_bytes = 0;   // total size of what holds them; 0: unknown / unlimited
  uint64_t available_bytes = 0;  // room left for new objects (when capacity is known)
  uint64_t objects = 0;
};

class ShardStore {
 public:
  virtual ~ShardStore() = default;

  // Names are 1-200 characters of [0-9a-z._-], not starting with '.'; others are kInvalid.
  // Creates or replaces. kNoSpace when the store is full, kUnavailable when it cannot be
  // reached (retryable).
  virtual util::Status Put(std::string_view name, util::ByteSpan data) = 0;
  // kNotFound when there is no such object.
  virtual util::Result<util::Bytes> Get(std::string_view name) = 0;
  // length bytes from offset (fewer at the end of the object).
  virtual util::Result<util::Bytes> GetRange(std::string_view name, uint64_t offset,
                                             uint64_t length) = 0;
  // The same, giving up with util::CancelledError() once cancel fires; a failure that happened
  // before stays that failure (it says something about the node). Network stores
  // override it to abort the request in flight; the default checks the token before and after.
  virtual util::Result<util::Bytes> GetRangeCancellable(std::string_view name, uint64_t offset,
                                                        uint64_t length,
                                                        const util::CancelToken& cancel);
  // Put of the whole content of the file at path (size bytes), a file nobody writes again (it
  // may be deleted or renamed meanwhile): a store on the same file system may keep the file
  // itself, by a hard link, instead of a copy of its bytes. kUnsupported when this store never
  // does (the default), kCrossDevice when it cannot for this file (another file system, or
  // links refused), kNotFound when the file is gone; the caller then Puts the bytes.
  virtual util::Status PutFile(std::string_view name, const std::string& path, uint64_t size);
  // Removing a missing object is not an error.
  virtual util::Status Delete(std::string_view name) = 0;
  // Names starting with prefix, sorted.
  virtual util::Result<std::vector<std::string>> List(std::string_view prefix) = 0;
  virtual util::Result<StoreUsage> Usage() = 0;
  // For messages: "dir:/srv/x", "s3://node1:9000/bucket".
  virtual std::string Describe() const = 0;
};

// Checks a name against the rules above.
util::Status ValidateObjectName(std::string_view name);

}  // namespace shardfs::remote
