// ObjectStore: the buckets and objects of one shardfs-node data directory (layout v1 in
// docs/node.md), with an in-memory index rebuilt from the object headers at Open, and per-key
// usage for quotas. An upload streams into a temp file and becomes visible only at Commit
// (fsync, rename, directory fsync), so a crash leaves the old object or the new one, never a mix;
// leftover temp files are removed at Open. Thread-safe: one mutex guards the index and usage
// and is never held across network I/O (only across the rename + fsync of a commit).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fs/util/files.h"
#include "fs/util/result.h"
#include "node/object_file.h"

#include "fs/util/mutex.h"

namespace shardfs::node {

// What an object's ETag is a digest of its content with. S3 clients compare a plain PUT's ETag
// with the MD5 they computed, so that is the default; a client that asks (shardfs, whose
// shards carry their own checksums) gets XXH3-128 instead, about 40 times cheaper.
enum class EtagDigest { kMd5, kXxh3 };

struct ObjectMeta {
  uint64_t size = 0;
  int64_t mtime_ms = 0;
  std::array<uint8_t, 16> md5{};  // the ETag's digest: MD5, or XXH3-128 when the PUT asked
  std::string owner;
  std::string ETag() const;  // "\"<hex digest>\"", as S3 sends it
};

struct BucketInfo {
  std::string name;
  std::string owner;
  int64_t created_ms = 0;
};

struct Usage {
  uint64_t bytes = 0;  // committed object bytes charged to the key
  uint64_t objects = 0;
  uint64_t reserved = 0;  // bytes of uploads in progress
};

// Conditions of a conditional PUT, checked again at commit under the lock.
struct PutConditions {
  bool if_none_match_star = false;                   // fail (kExists) if the key exists
  std::optional<std::vector<std::string>> if_match;  // ETags (quotes optional) or "*"
};

struct ListQuery {
  std::string prefix;
  std::string delimiter;
  std::string after;  // only entries (keys or common prefixes) greater than this
  size_t max_keys = 1000;
};
struct ListPage {
  std::vector<std::pair<std::string, ObjectMeta>> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string last;  // the last entry returned (for the next page's `after`)
};

// An object opened for reading: the file and where its content starts.
struct OpenObject {
  UniqueFd fd;
  ObjectMeta meta;
  uint64_t data_offset = 0;
};

class ObjectStore;

// An upload in progress. Write the declared number of bytes, then Commit. Destroying it without
// a successful Commit removes the temp file and releases the quota reservation. Not synchronized.
class Upload {
 public:
  ~Upload();
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;

  util::Status Write(util::ByteSpan data);
  uint64_t written() const { return written_; }
  // Checks the byte count, the digest (when the client sent one) and the conditions, then makes
  // the object visible. kExists: a condition failed (412); kNotFound: If-Match on a missing key;
  // kNoSpace: quota; kCorrupt: the content does not match expected_md5.
  util::Result<ObjectMeta> Commit(const PutConditions& conditions,
                                  const std::optional<std::array<uint8_t, 16>>& expected_md5);

 private:
  friend class ObjectStore;
  Upload(ObjectStore* store, std::string bucket, std::string key, std::string owner, uint64_t size,
         uint64_t quota, TempFile temp, size_t header_len, int64_t mtime_ms, EtagDigest digest);

  ObjectStore* store_;
  std::string bucket_, key_, owner_;
  uint64_t size_;
  uint64_t quota_;  // of the owner; 0 = unlimited
  TempFile temp_;
  util::SequentialFileWriter writer_;  // into temp_, header first
  size_t header_len_;
  int64_t mtime_ms_;
  uint64_t written_ = 0;
  EtagDigest digest_;
  void* md5_ctx_ = nullptr;     // EVP_MD_CTX*, for kMd5
  void* xxh3_state_ = nullptr;  // XXH3_state_t*, for kXxh3
  std::array<uint8_t, 16> md5_{};
  bool done_ = false;
};

class ObjectStore {
 public:
  // Opens (creating if needed) a data directory: takes its lock file, removes leftover temp
  // files, and indexes every bucket and object. kUnsupported for a newer layout version.
  static util::Result<std::unique_ptr<ObjectStore>> Open(const std::string& dir);
  ~ObjectStore();

  // kExists if the bucket belongs to another key; succeeds if it is already the owner's.
  util::Status CreateBucket(const std::string& name, const std::string& owner);
  util::Result<BucketInfo> GetBucket(const std::string& name) const;  // kNotFound
  util::Status DeleteBucket(const std::string& name);                 // kNotFound, kNotEmpty
  std::vector<BucketInfo> ListBuckets(const std::string& owner) const;

  // Starts an upload of exactly `size` bytes. kNotFound (no bucket), kExists (a condition fails
  // already), kNoSpace (over quota_bytes, 0 = unlimited).
  util::Result<std::unique_ptr<Upload>> BeginPut(const std::string& bucket, const std::string& key,
                                                 const std::string& owner, uint64_t size,
                                                 uint64_t quota_bytes,
                                                 const PutConditions& conditions,
                                                 EtagDigest digest = EtagDigest::kMd5);
  util::Result<OpenObject> OpenForRead(const std::string& bucket, const std::string& key) const;
  util::Status Delete(const std::string& bucket, const std::string& key);  // missing is fine
  util::Result<ListPage> List(const std::string& bucket, const ListQuery& query) const;
  Usage GetUsage(const std::string& owner) const;

 private:
  friend class Upload;
  struct Bucket {
    BucketInfo info;
    std::map<std::string, ObjectMeta> objects;
  };
  explicit ObjectStore(std::string dir) : dir_(std::move(dir)) {}
  util::Status Load();
  util::Status LoadBucket(const std::string& name) REQUIRES(mu_);
  std::string BucketDir(const std::string& name) const { return dir_ + "/buckets/" + name; }
  std::string ObjectPath(const std::string& bucket, const std::string& key) const;
  // mu_ held.
  util::Status CheckConditions(const Bucket& b, const std::string& key,
                               const PutConditions& c) const;
  // Takes mu_ for the checks and the rename only; the syncs run outside it.
  util::Result<ObjectMeta> CommitUpload(Upload& u, const PutConditions& c);
  // Creates an object's directory if missing and syncs its parents; takes mu_ briefly.
  util::Status MakeDurableDir(const std::string& sub);
  void ReleaseReservation(const std::string& owner, uint64_t bytes);

  const std::string dir_;
  UniqueFd lock_fd_;
  // Guards buckets_, usage_ and making_dirs_; never held across a sync.
  mutable util::Mutex mu_;
  std::map<std::string, Bucket> buckets_ GUARDED_BY(mu_);
  std::map<std::string, Usage> usage_ GUARDED_BY(mu_);
  // Object directories just created whose parents are still being synced, with how many
  // uploads are syncing them.
  std::map<std::string, int> making_dirs_ GUARDED_BY(mu_);
};

}  // namespace shardfs::node
