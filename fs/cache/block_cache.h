// BlockCache: sealed blocks by object id on local disk, bounded by a byte budget. The bytes
// live in files (<dir>/blocks/<2 hex>/<32 hex>; see bench/cache_churn for why not in LMDB);
// the index, LRU order and dirty state live in an LMDB environment (<dir>/index).
// Clean blocks are evicted least-recently-used first. Dirty blocks (not yet in the store) are
// pinned until MarkClean or Remove; when the budget is full of dirty blocks, Put waits for
// space instead of failing. A full disk gives kNoSpace and leaves every stored block intact.
// Blocks of at most inline_max_bytes live in the index itself instead (no file to create or
// delete). After a crash, Open drops index entries whose file is missing or short and files
// with no index entry. Disk use can exceed the budget by the blocks being written and up to 8
// evicted files kept for reuse (<dir>/staging).
// The cache also lives within the room its disk really has: it keeps a reserve free on that file
// system (DiskSpace), and when the disk is short — measured, or a write failed with ENOSPC — it
// evicts clean blocks and has writers of dirty blocks wait for uploads, exactly as when the
// budget is full; a block is refused with kNoSpace only when nothing in the cache can be freed.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fs/util/bytes.h"
#include "fs/util/ids.h"
#include "fs/util/result.h"

namespace shardfs::cache {

// The free space of the file system holding a path, and the
// reserve a cache keeps there for its metadata and everything else on that disk: 1/64 of the
// file system, at least 8 MiB (1/8 of one smaller than 64 MiB) and at most 256 MiB.
struct DiskSpace {
  uint64_t size = 0;       // of the file system
  uint64_t available = 0;  // free for unprivileged use
  uint64_t reserve = 0;
  uint64_t room() const { return available > reserve ? available - reserve : 0; }
};
util::Result<DiskSpace> DiskSpaceOf(const std::string& path);

struct BlockCacheStats {
  uint64_t budget_bytes = 0;
  // What the cache can hold now: the budget, or less when its disk is short of room (its blocks
  // plus the room left there).
  uint64_t capacity_bytes = 0;
  uint64_t space_waiters = 0;  // Puts of dirty blocks waiting for room (for uploads)
  uint64_t used_bytes = 0;
  uint64_t dirty_bytes = 0;
  uint64_t blocks = 0;
  uint64_t dirty_blocks = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t files_synced = 0;  // block files fsynced by Sync
};

class BlockCache {
 public:
  struct Options {
    std::string dir;            // created if missing (mode 0700)
    uint64_t budget_bytes = 0;  // most bytes of block data kept (> 0)
    // Blocks up to this size are kept in the index rather than in files (0: always files).
    uint64_t inline_max_bytes = 32 * 1024;
  };
  static util::Result<std::unique_ptr<BlockCache>> Open(const Options& options);
  virtual ~BlockCache() = default;

  // Adds a block (replacing one with the same id). A dirty block stays until MarkClean/Remove.
  // Waits while the budget (or the disk) is full of dirty blocks; a single block larger than the
  // whole budget is kInvalid. kNoSpace when the disk is full and nothing can be freed.
  virtual util::Status Put(const util::ObjectId& id, util::ByteSpan sealed, bool dirty) = 0;
  struct NewBlock {
    util::ObjectId id;
    util::ByteSpan sealed;
  };
  // Put of several blocks at once: those small enough to be kept in the index go in one index
  // transaction (many small files closed together cost one commit), larger ones one by one.
  // The first failure is returned; blocks before it may have been added.
  virtual util::Status PutMany(const std::vector<NewBlock>& blocks, bool dirty) = 0;
  // kNotFound on a miss. A hit becomes the most recently used.
  virtual util::Result<util::Bytes> Get(const util::ObjectId& id) = 0;
  virtual bool Contains(const util::ObjectId& id) = 0;
  struct BlockFile {
    std::string path;
    uint64_t size = 0;
  };
  // Where a block's bytes are, for a store that keeps the file itself (a hard link) instead of
  // a copy: kNotFound when the block is not cached or lives in the index. A block's file is
  // never written again once it has that path, and a file that has another link is never
  // reused for other blocks when it is evicted (it is deleted instead). The path may vanish at
  // any time (the block was evicted or removed): then linking it fails with ENOENT.
  virtual util::Result<BlockFile> FileOf(const util::ObjectId& id) = 0;
  // The block is now safely in the store: it may be evicted. Missing ids are ignored.
  virtual util::Status MarkClean(const util::ObjectId& id) = 0;
  // Drops a block (garbage, or not wanted); missing ids are ignored.
  virtual util::Status Remove(const util::ObjectId& id) = 0;
  // Every dirty block's id (to resume uploads after a restart).
  virtual util::Result<std::vector<util::ObjectId>> DirtyBlocks() = 0;
  // Makes every dirty block put so far, and the index, durable (fsync of files, then the index).
  // A clean block is in the store already: its file is left to the kernel's writeback, and
  // should a power loss damage it, reading it finds it does not verify and fetches it again.
  virtual util::Status Sync() = 0;
  // Wakes writers waiting for space and makes them fail with kUnavailable (for shutdown). It is
  // final: afterwards a Put that would have to wait fails at once; one that fits still works.
  virtual void Cancel() = 0;
  virtual BlockCacheStats Stats() = 0;
  // Gives back the memory the index's map holds (KvStore::ReleaseMappedPages): inline blocks
  // are read through it.
  virtual void ReleaseMappedPages() = 0;
};

}  // namespace shardfs::cache
