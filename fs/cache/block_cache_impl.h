// Internal to fs/cache: the BlockCache implementation's state and the index format, shared by
// block_cache.cc (the operations) and block_cache_open.cc (Open and crash recovery).
// Thread-safety: as BlockCache; see the lock comments on the members.
//
// Index format 2, in the LMDB environment <dir>/index:
//   table "blocks": key = the 16 id bytes, value = u64le size | u64le LRU seq | u8 flags
//                   (bit 0: dirty, bit 1: inline). A larger seq is more recently used.
//   table "meta":   "format" -> u32le 2.
//   table "small":  key = the 16 id bytes, value = the sealed block, for inline blocks: those
//                   of at most Options::inline_max_bytes live here rather than in a file (a small
//                   file costs an inode to create and to delete: the 10,000-small-files workload
//                   spent half the daemon's CPU in ext4's inode allocator). Values this small
//                   do not suffer LMDB's large-value free-list search (PLATFORM.md).
// Format 1 (no inline blocks, no "small" table) is upgraded in place at Open.
// The index is the durable copy of the in-memory state; memory is loaded from it at Open and
// every change is committed to it before memory changes, except two kinds written with the
// next index write: LRU seqs bumped by Get (a lost bump only makes the eviction order slightly
// stale), and evictions (after a crash an evicted entry has lost its file, and Open drops it,
// or still has it intact, a valid clean block).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fs/cache/block_cache.h"
#include "fs/cache/block_files.h"
#include "fs/cache/kv_store.h"
#include "fs/util/encoding.h"
#include "fs/util/mutex.h"

namespace shardfs::cache::internal {

using util::Bytes;
using util::ByteSpan;
using util::ObjectId;
using util::Status;

inline constexpr TableId kBlocksTable = 0;
inline constexpr TableId kMetaTable = 1;
inline constexpr TableId kSmallTable = 2;
inline constexpr std::string_view kFormatKey = "format";
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kOldestFormat = 1;
inline constexpr size_t kEntryBytes = 17;
inline constexpr uint8_t kDirtyFlag = 1;
inline constexpr uint8_t kInlineFlag = 2;
// Get bumps LRU positions in memory at once; the index catches up with the next index write or
// after this many bumps, so a read-mostly workload costs one write transaction per 256 hits.
inline constexpr size_t kMaxPendingTouches = 256;
// Evicted files kept for reuse. A Put usually evicts about one block and takes one spare, so a
// few cover bursts; the disk holds at most this many files beyond the budget (plus the blocks
// being written).
inline constexpr size_t kMaxSpares = 8;

struct Entry {
  uint64_t size = 0;
  uint64_t seq = 0;  // LRU position
  uint64_t gen = 0;  // which Put made this entry (memory only): lets Get drop exactly what it read
  bool dirty = false;
  bool inline_data = false;  // bytes in the "small" table, no file
};

inline ByteSpan Key(const ObjectId& id) { return ByteSpan(id.bytes.data(), id.bytes.size()); }

inline Bytes EncodeEntry(const Entry& e) {
  Bytes out;
  out.reserve(kEntryBytes);
  util::AppendU64Le(out, e.size);
  util::AppendU64Le(out, e.seq);
  out.push_back(
      static_cast<uint8_t>((e.dirty ? kDirtyFlag : 0) | (e.inline_data ? kInlineFlag : 0)));
  return out;
}

inline bool DecodeEntry(ByteSpan v, Entry* e) {
  if (v.size() != kEntryBytes) return false;
  e->size = util::LoadU64Le(v.data());
  e->seq = util::LoadU64Le(v.data() + 8);
  e->dirty = (v[16] & kDirtyFlag) != 0;
  e->inline_data = (v[16] & kInlineFlag) != 0;
  return (v[16] & ~(kDirtyFlag | kInlineFlag)) == 0;
}

class BlockCacheImpl final : public BlockCache {
 public:
  explicit BlockCacheImpl(const Options& options)
      : dir_(options.dir),
        blocks_dir_(options.dir + "/blocks"),
        budget_(options.budget_bytes),
        inline_max_(options.inline_max_bytes),
        spares_(options.dir + "/staging", kMaxSpares) {}
  ~BlockCacheImpl() override;

  Status Init();

  Status Put(const ObjectId& id, ByteSpan sealed, bool dirty) override;
  Status PutMany(const std::vector<NewBlock>& blocks, bool dirty) override;
  util::Result<Bytes> Get(const ObjectId& id) override;
  bool Contains(const ObjectId& id) override {
    util::MutexLock lock(mu_);
    return entries_.contains(id);
  }
  util::Result<BlockFile> FileOf(const ObjectId& id) override;
  Status MarkClean(const ObjectId& id) override;
  Status Remove(const ObjectId& id) override;
  util::Result<std::vector<ObjectId>> DirtyBlocks() override;
  Status Sync() override;
  void Cancel() override {
    util::MutexLock lock(mu_);
    cancelled_ = true;
    space_cv_.notify_all();
  }
  BlockCacheStats Stats() override;
  void ReleaseMappedPages() override { index_->ReleaseMappedPages(); }

 private:
  using EntryMap = std::unordered_map<ObjectId, Entry>;

  Status CheckFormat() REQUIRES(mu_);
  Status LoadIndex(std::vector<Bytes>* bad_keys) REQUIRES(mu_);
  Status Reconcile(std::vector<Bytes> bad_keys) REQUIRES(mu_);

  // Writes the block to the staging file (a spare, or a new file) and renames it into place;
  // id must be busy. The staging file is gone afterwards, whatever happens.
  Status WriteBlockFile(const ObjectId& id, ByteSpan sealed, const std::string& staging);
  // Gets rid of the files of blocks already forgotten (memory and index): keeps them as spares
  // or deletes them (always those that have another link, see FileOf). Unlocks meanwhile; the ids
  // are busy until the files are gone.
  void DiscardFilesLocked(const std::vector<std::pair<ObjectId, uint64_t>>& blocks) REQUIRES(mu_);
  // Deletes whatever is in the staging directory: spares and half-written blocks of a crash.
  Status ClearStaging() REQUIRES(mu_);
  // Waits until id is not busy and size more bytes fit the budget and the disk (evicting clean
  // blocks), then reserves them and marks id busy. kUnavailable if Cancel() ends the wait;
  // kNoSpace when the disk is short and nothing can be freed.
  Status ReserveLocked(const ObjectId& id, uint64_t size) REQUIRES(mu_);
  // Bytes the disk lacks for `need` more bytes of blocks beyond the reserve (0: room enough).
  // Sets disk_tight_.
  uint64_t DiskShortLocked(uint64_t need) REQUIRES(mu_);
  // Deletes the spare files (they hold disk space). False when there were none.
  bool DropSparesLocked() REQUIRES(mu_);
  util::Error NoRoomOnDisk(uint64_t size);  // reads the disk: no lock needed
  // Evicts least-recently-used clean blocks worth at least `bytes` (fewer if that is all there
  // is). False when nothing could be evicted. Unlocks while discarding the files.
  bool EvictLocked(uint64_t bytes) REQUIRES(mu_);
  // Records a block whose file is in place in one index transaction.
  Status CommitLocked(const ObjectId& id, uint64_t size, bool dirty) REQUIRES(mu_);
  // Records inline blocks (bytes and entries) in one index transaction; on failure none is.
  Status CommitInlineLocked(const std::vector<NewBlock>& blocks, bool dirty) REQUIRES(mu_);
  // One index write transaction: the pending evictions and LRU bumps, then body. Memory is
  // changed by the caller only after this succeeds, so a failure leaves both as they were.
  Status WriteIndexLocked(const std::function<Status(WriteTxn&)>& body) REQUIRES(mu_);
  // Puts a committed entry in memory and its counters, replacing id's old one. Returns whether
  // the old one had a file (still to discard).
  bool AddEntryLocked(const ObjectId& id, const Entry& e) REQUIRES(mu_);
  // Takes an entry out of memory and its counters (not the index, not the file). Returns
  // whether the block had a file.
  bool ForgetLocked(EntryMap::iterator it) REQUIRES(mu_);
  // For rare repair paths: forgets id, deletes its index entry (best effort: a stale entry is
  // dropped at the next Open, since its file is gone) and its file, all under the lock.
  void DropLocked(const ObjectId& id, std::string_view why) REQUIRES(mu_);
  void TouchLocked(Entry& e, const ObjectId& id) REQUIRES(mu_);
  // An inline block's bytes (no lock needed: LMDB readers see a consistent snapshot).
  util::Result<Bytes> ReadInline(const ObjectId& id, uint64_t size);
  std::string PathOf(const ObjectId& id) const { return BlockPath(blocks_dir_, id); }

  const std::string dir_;
  const std::string blocks_dir_;
  const uint64_t budget_;
  const uint64_t inline_max_;
  std::unique_ptr<KvStore> index_;

  // Guards everything below. Lock order: mu_, then the index's writer lock (BeginWrite). Held
  // for index commits (~20 us, MDB_NOSYNC); never while block bytes are read, written or
  // fsynced, nor for renames and unlinks (busy_ covers those), except on rare repair paths.
  util::Mutex mu_;
  // Signalled when space may have been freed, a block became clean, an id stopped being busy,
  // or Cancel() was called.
  std::condition_variable space_cv_;
  EntryMap entries_ GUARDED_BY(mu_);
  std::map<uint64_t, ObjectId> clean_lru_
      GUARDED_BY(mu_);  // seq -> id of clean blocks: the eviction order
  // Ids whose file a thread is creating, replacing or deleting without holding mu_. Only that
  // thread touches the id's paths; Remove and Put of the same id wait, eviction skips it.
  std::unordered_set<ObjectId> busy_ GUARDED_BY(mu_);
  std::unordered_set<ObjectId> touched_
      GUARDED_BY(mu_);  // LRU seq changed in memory, not yet in the index
  std::unordered_set<ObjectId> evicted_
      GUARDED_BY(mu_);  // evicted from memory, not yet from the index
  std::unordered_set<ObjectId> unsynced_
      GUARDED_BY(mu_);                     // files renamed into place since the last Sync
  uint64_t used_ GUARDED_BY(mu_) = 0;      // bytes of entries_
  uint64_t reserved_ GUARDED_BY(mu_) = 0;  // bytes of Puts between reservation and commit
  uint64_t dirty_bytes_ GUARDED_BY(mu_) = 0;
  uint64_t dirty_blocks_ GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  uint64_t next_gen_ GUARDED_BY(mu_) = 1;
  uint64_t hits_ GUARDED_BY(mu_) = 0;
  uint64_t misses_ GUARDED_BY(mu_) = 0;
  uint64_t evictions_ GUARDED_BY(mu_) = 0;
  uint64_t space_waiters_ GUARDED_BY(mu_) = 0;  // BlockCacheStats::space_waiters
  // The disk was short of room at the last look: evicted files are deleted, not kept as spares.
  bool disk_tight_ GUARDED_BY(mu_) = false;
  uint64_t last_room_ GUARDED_BY(mu_) =
      UINT64_MAX;  // the disk's room for more blocks at the last look
  bool cancelled_ GUARDED_BY(mu_) = false;
  SparePool spares_ GUARDED_BY(mu_);

  // Which of the 256 block subdirectories exist (they are made as blocks first land in them).
  std::array<std::atomic<bool>, 256> subdir_ready_{};
  std::atomic<bool> subdirs_created_{false};  // since the last Sync: blocks_dir_ needs an fsync
  std::atomic<uint64_t> files_synced_{0};     // BlockCacheStats::files_synced
};

}  // namespace shardfs::cache::internal
