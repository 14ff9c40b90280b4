// The file side of the block cache: where a block's file lives and how its bytes go in and out.
// A block is <blocks>/<first 2 hex>/<32 hex>. A block being written is a file in the staging
// directory until it is renamed into place, so a crash leaves the old file or the new one, and
// staging files that Open deletes. Evicted files wait in staging too, as spares that the next
// blocks overwrite: on the machines measured, writing into a file's cached pages runs at
// ~5 GB/s but into fresh pages at 0.2-0.6 GB/s (see bench/cache_churn). A file with another
// link (a dir: store keeps it as its object, see BlockCache::FileOf) is never a spare.
// Nothing here fsyncs: BlockCache::Sync does, in one batch. The functions are thread-safe (no
// shared state; callers make sure one thread at a time touches a given id); SparePool is not.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fs/util/bytes.h"
#include "fs/util/ids.h"
#include "fs/util/result.h"

namespace shardfs::cache {

// "<blocks_dir>/ab" for an id whose hex starts with "ab".
std::string BlockSubdir(const std::string& blocks_dir, const util::ObjectId& id);
std::string BlockPath(const std::string& blocks_dir, const util::ObjectId& id);

// Writes data as the whole content of path (no fsync): creates it, or overwrites a file already
// there (a recycled spare) and cuts it to data's size. On any failure the file is removed and
// the error says why: kNoSpace for ENOSPC/EDQUOT, so a full disk leaves nothing behind.
util::Status WriteBlockData(const std::string& path, util::ByteSpan data);

// Reads a block file that should hold exactly `size` bytes: kNotFound when the file is missing,
// kCorrupt when it is shorter or longer (a torn write or outside damage).
util::Result<util::Bytes> ReadBlockFile(const std::string& path, uint64_t size);

// Book-keeping of the staging directory: names for files being written, and the spares. The
// file operations themselves (renaming a file in, writing, deleting) are the caller's, done
// without its lock. Not synchronized: the owner guards it with its own mutex.
class SparePool {
 public:
  SparePool(std::string dir, size_t max_files) : dir_(std::move(dir)), max_files_(max_files) {}

  const std::string& dir() const { return dir_; }
  // Claims room for one more spare: the path to rename a discarded file to, or "" when the pool
  // is full (delete the file instead). Settle every claim.
  std::string Claim();
  // Reports whether the rename to a claimed path worked; size is the file's size.
  void Settle(const std::string& path, uint64_t size, bool renamed);
  // A path to write a block of size bytes to, now the caller's: the spare that fits best (the
  // smallest not smaller, else the largest), or a fresh name when there is no spare.
  std::string Take(uint64_t size);
  // Forgets every spare and returns their paths, for deletion.
  std::vector<std::string> TakeAll();
  size_t size() const { return spares_.size(); }

 private:
  const std::string dir_;
  const size_t max_files_;
  std::multimap<uint64_t, std::string> spares_;  // size -> path
  size_t claimed_ = 0;                           // claims not yet settled
  uint64_t next_name_ = 0;
};

}  // namespace shardfs::cache
