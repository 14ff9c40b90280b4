#include "fs/cache/block_cache.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <set>

#include "fs/cache/block_cache_impl.h"
#include "fs/util/files.h"
#include "fs/util/log.h"
#include "fs/util/units.h"

namespace shardfs::cache::internal {

using util::Errc;
using util::MakeError;

namespace {

util::Error NotCached(const ObjectId& id) {
  return MakeError(Errc::kNotFound, "block " + id.Hex() + " is not in the cache");
}

// Writes that failed with ENOSPC although the disk seemed to have room (another program filled
// it meanwhile, or it ran out of inodes) are tried again after making room, this many times.
constexpr int kNoSpaceRetries = 8;
// How often a writer waiting for room on a short disk looks again (the disk may be freed from
// outside; uploads wake it at once).
constexpr auto kDiskRecheck = std::chrono::milliseconds(500);

}  // namespace

Status BlockCacheImpl::Put(const ObjectId& id, ByteSpan sealed, bool dirty) {
  const uint64_t size = sealed.size();
  if (size > budget_) {
    return MakeError(Errc::kInvalid, "block " + id.Hex() + " of " + std::to_string(size) +
                                         " bytes is larger than the whole cache budget (" +
                                         std::to_string(budget_) + " bytes)");
  }
  if (inline_max_ > 0 && size <= inline_max_) {
    util::MutexLock lock(mu_);
    return CommitInlineLocked({{id, sealed}}, dirty);
  }
  for (int attempt = 0;; ++attempt) {
    std::string staging;
    {
      util::MutexLock lock(mu_);
      SHARDFS_TRY(ReserveLocked(id, size));
      staging = spares_.Take(size);
    }
    // The bytes go to disk without the lock; id is busy, so nobody else touches its paths.
    Status written = WriteBlockFile(id, sealed, staging);
    util::MutexLock lock(mu_);
    reserved_ -= size;
    busy_.erase(id);
    if (!written.ok() && written.code() == Errc::kNoSpace && attempt < kNoSpaceRetries) {
      // The disk filled up since it was measured: make room as for a short disk, and again.
      spdlog::warn("block cache {}: {}; making room and trying again", dir_,
                   written.error().message);
      disk_tight_ = true;
      DropSparesLocked();
      if (!EvictLocked(size)) {
        if (dirty_bytes_ == 0 && reserved_ == 0) {
          space_cv_.notify_all();
          return NoRoomOnDisk(size);
        }
        ++space_waiters_;
        mu_.AwaitFor(space_cv_, kDiskRecheck);  // for an upload to make a block evictable
        --space_waiters_;
      }
      continue;
    }
    Status s = written.ok() ? CommitLocked(id, size, dirty) : written;
    space_cv_.notify_all();
    return s;
  }
}

Status BlockCacheImpl::PutMany(const std::vector<NewBlock>& blocks, bool dirty) {
  std::vector<NewBlock> small;
  for (const NewBlock& b : blocks) {
    if (inline_max_ > 0 && b.sealed.size() <= inline_max_) {
      small.push_back(b);
    } else {
      SHARDFS_TRY(Put(b.id, b.sealed, dirty));
    }
  }
  if (small.empty()) return util::Ok();
  util::MutexLock lock(mu_);
  return CommitInlineLocked(small, dirty);
}

Status BlockCacheImpl::CommitInlineLocked(const std::vector<NewBlock>& blocks, bool dirty) {
  // Room for all of them first (each reservation may evict, or wait for uploads to free
  // space); the ids stay busy until the commit, so nobody else adds or removes them meanwhile.
  size_t reserved = 0;
  Status s = util::Ok();
  for (; reserved < blocks.size() && s.ok(); ++reserved) {
    s = ReserveLocked(blocks[reserved].id, blocks[reserved].sealed.size());
    if (!s.ok()) break;
  }
  std::vector<std::pair<ObjectId, uint64_t>> old_files;
  if (s.ok()) {
    std::vector<Entry> added;
    for (const NewBlock& b : blocks) {
      added.push_back(Entry{.size = b.sealed.size(),
                            .seq = next_seq_++,
                            .gen = next_gen_++,
                            .dirty = dirty,
                            .inline_data = true});
    }
    s = WriteIndexLocked([&](WriteTxn& txn) -> Status {
      for (size_t i = 0; i < blocks.size(); ++i) {
        SHARDFS_TRY(txn.Put(kSmallTable, Key(blocks[i].id), blocks[i].sealed));
        SHARDFS_TRY(txn.Put(kBlocksTable, Key(blocks[i].id), EncodeEntry(added[i])));
      }
      return util::Ok();
    });
    for (size_t i = 0; s.ok() && i < blocks.size(); ++i) {
      const ObjectId& id = blocks[i].id;
      auto old = entries_.find(id);
      const uint64_t old_size = old == entries_.end() ? 0 : old->second.size;
      if (AddEntryLocked(id, added[i])) old_files.emplace_back(id, old_size);
    }
  }
  for (size_t i = 0; i < reserved; ++i) {
    reserved_ -= blocks[i].sealed.size();
    busy_.erase(blocks[i].id);
  }
  if (!old_files.empty()) DiscardFilesLocked(old_files);
  space_cv_.notify_all();
  return s;
}

Status BlockCacheImpl::WriteBlockFile(const ObjectId& id, ByteSpan sealed,
                                      const std::string& staging) {
  const std::string path = PathOf(id);
  if (!subdir_ready_[id.bytes[0]]) {  // the first block of its subdirectory
    const std::string sub = BlockSubdir(blocks_dir_, id);
    if (::mkdir(sub.c_str(), 0700) != 0 && errno != EEXIST) {
      Status s = util::ErrnoError(errno, "cannot create cache directory " + sub);
      ::unlink(staging.c_str());
      return s;
    }
    subdir_ready_[id.bytes[0]] = true;
    subdirs_created_ = true;
  }
  SHARDFS_TRY(WriteBlockData(staging, sealed));
  if (::rename(staging.c_str(), path.c_str()) != 0) {
    Status s = util::ErrnoError(errno, "cannot rename " + staging + " to " + path);
    ::unlink(staging.c_str());
    return s;
  }
  return util::Ok();
}

Status BlockCacheImpl::ReserveLocked(const ObjectId& id, uint64_t size) {
  int idle_looks = 0;  // looks at a short disk with nothing in the cache that could free it
  while (true) {
    if (!busy_.contains(id)) {
      auto it = entries_.find(id);
      // A block replacing one with the same id may count on that one's space.
      const uint64_t replaced = it == entries_.end() ? 0 : it->second.size;
      const uint64_t limit = budget_ + replaced;
      const uint64_t want = used_ + reserved_ + size;
      const uint64_t over_budget = want > limit ? want - limit : 0;
      const uint64_t disk_short = DiskShortLocked(reserved_ + size);
      if (over_budget == 0 && disk_short == 0) {
        reserved_ += size;
        busy_.insert(id);
        return util::Ok();
      }
      if (EvictLocked(std::max(over_budget, disk_short))) continue;
      if (disk_short > 0 && DropSparesLocked()) continue;
      if (cancelled_) {
        return MakeError(Errc::kUnavailable,
                         "block cache " + dir_ +
                             " is shutting down: gave up waiting for dirty blocks to upload");
      }
      // Nothing dirty to upload and nothing being written: only the disk itself can change.
      if (disk_short > 0 && dirty_bytes_ == 0 && reserved_ == 0 && ++idle_looks > 2) {
        return NoRoomOnDisk(size);
      }
    }
    ++space_waiters_;
    if (disk_tight_) {
      mu_.AwaitFor(space_cv_, kDiskRecheck);
    } else {
      mu_.Await(space_cv_);
    }
    --space_waiters_;
  }
}

uint64_t BlockCacheImpl::DiskShortLocked(uint64_t need) {
  auto space = DiskSpaceOf(blocks_dir_);
  if (!space.ok()) {
    disk_tight_ = false;  // cannot tell: the writes themselves will say (ENOSPC)
    last_room_ = UINT64_MAX;
    return 0;
  }
  const uint64_t room = space->room();
  last_room_ = room;
  disk_tight_ = need > room;
  return disk_tight_ ? need - room : 0;
}

bool BlockCacheImpl::DropSparesLocked() {
  std::vector<std::string> paths = spares_.TakeAll();
  if (paths.empty()) return false;
  mu_.Unlock();
  for (const std::string& path : paths) ::unlink(path.c_str());
  mu_.Lock();
  return true;
}

util::Error BlockCacheImpl::NoRoomOnDisk(uint64_t size) {
  auto space = DiskSpaceOf(blocks_dir_);
  const std::string free_text = space.ok()
                                    ? util::FormatSize(space->available) + " free, and keeps " +
                                          util::FormatSize(space->reserve) + " of it in reserve"
                                    : "no free space it can measure";
  return MakeError(Errc::kNoSpace,
                   "the disk of block cache " + dir_ + " has " + free_text +
                       ": no room for a block of " + util::FormatSize(size) +
                       ", and the cache holds nothing it could drop; free space on that disk, "
                       "or move the cache (cache_dir=)");
}

bool BlockCacheImpl::EvictLocked(uint64_t bytes) {
  std::vector<ObjectId> victims;
  uint64_t freed = 0;
  for (auto it = clean_lru_.begin(); it != clean_lru_.end() && freed < bytes; ++it) {
    if (busy_.contains(it->second)) continue;
    victims.push_back(it->second);
    freed += entries_.at(it->second).size;
  }
  if (victims.empty()) return false;
  std::vector<std::pair<ObjectId, uint64_t>> files;
  for (const ObjectId& id : victims) {
    auto it = entries_.find(id);
    const uint64_t size = it->second.size;
    if (ForgetLocked(it)) files.emplace_back(id, size);
    evicted_.insert(id);  // out of the index with the next write: usually this Put's commit
    ++evictions_;
  }
  if (!files.empty()) DiscardFilesLocked(files);
  return true;
}

void BlockCacheImpl::DiscardFilesLocked(const std::vector<std::pair<ObjectId, uint64_t>>& blocks) {
  std::vector<std::string> targets;  // spare path, or "" to delete
  for (const auto& [id, size] : blocks) {
    busy_.insert(id);
    targets.push_back(disk_tight_ ? std::string() : spares_.Claim());  // short: delete them
  }
  // A crash in between leaves files without entries (or spares): Open deletes them.
  mu_.Unlock();
  std::vector<bool> renamed(blocks.size(), false);
  for (size_t i = 0; i < blocks.size(); ++i) {
    const std::string path = PathOf(blocks[i].first);
    renamed[i] = !targets[i].empty() && ::rename(path.c_str(), targets[i].c_str()) == 0;
    if (!renamed[i]) {
      ::unlink(path.c_str());
      continue;
    }
    // A file a store linked (FileOf) is the store's object too: it must never be overwritten.
    // Once renamed, nobody can link it any more, so its link count is final here.
    struct stat st {};
    if (::stat(targets[i].c_str(), &st) != 0 || st.st_nlink != 1) {
      ::unlink(targets[i].c_str());
      renamed[i] = false;
    }
  }
  mu_.Lock();
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (!targets[i].empty()) spares_.Settle(targets[i], blocks[i].second, renamed[i]);
    busy_.erase(blocks[i].first);
  }
  space_cv_.notify_all();
}

Status BlockCacheImpl::CommitLocked(const ObjectId& id, uint64_t size, bool dirty) {
  Entry e{.size = size, .seq = next_seq_++, .gen = next_gen_++, .dirty = dirty};
  auto old = entries_.find(id);
  const bool old_inline = old != entries_.end() && old->second.inline_data;
  Status s = WriteIndexLocked([&](WriteTxn& txn) -> Status {
    if (old_inline) SHARDFS_TRY(txn.Delete(kSmallTable, Key(id)));
    return txn.Put(kBlocksTable, Key(id), EncodeEntry(e));
  });
  if (!s.ok()) {
    // The file now holds the new block but the index cannot say so: drop the id altogether so
    // that memory, index and disk agree.
    DropLocked(id, "its index entry could not be written");
    return s;
  }
  AddEntryLocked(id, e);
  unsynced_.insert(id);  // inline bytes are durable with the index; a file is not yet
  return util::Ok();
}

bool BlockCacheImpl::AddEntryLocked(const ObjectId& id, const Entry& e) {
  bool had_file = false;
  if (auto it = entries_.find(id); it != entries_.end()) had_file = ForgetLocked(it);
  entries_.emplace(id, e);
  used_ += e.size;
  if (e.dirty) {
    dirty_bytes_ += e.size;
    ++dirty_blocks_;
  } else {
    clean_lru_.emplace(e.seq, id);
  }
  return had_file;
}

Status BlockCacheImpl::WriteIndexLocked(const std::function<Status(WriteTxn&)>& body) {
  SHARDFS_ASSIGN_OR_RETURN(auto txn, index_->BeginWrite());
  for (const ObjectId& id : evicted_) {
    SHARDFS_TRY(txn->Delete(kBlocksTable, Key(id)));
    SHARDFS_TRY(txn->Delete(kSmallTable, Key(id)));
  }
  for (const ObjectId& id : touched_) {
    auto it = entries_.find(id);
    if (it != entries_.end()) SHARDFS_TRY(txn->Put(kBlocksTable, Key(id), EncodeEntry(it->second)));
  }
  SHARDFS_TRY(body(*txn));
  SHARDFS_TRY(txn->Commit());
  touched_.clear();
  evicted_.clear();
  return util::Ok();
}

bool BlockCacheImpl::ForgetLocked(EntryMap::iterator it) {
  const Entry& e = it->second;
  const bool had_file = !e.inline_data;
  used_ -= e.size;
  if (e.dirty) {
    dirty_bytes_ -= e.size;
    --dirty_blocks_;
  } else {
    clean_lru_.erase(e.seq);
  }
  touched_.erase(it->first);
  unsynced_.erase(it->first);
  entries_.erase(it);
  return had_file;
}

void BlockCacheImpl::DropLocked(const ObjectId& id, std::string_view why) {
  spdlog::warn("block cache {}: dropping block {}: {}", dir_, id.Hex(), why);
  if (auto it = entries_.find(id); it != entries_.end()) ForgetLocked(it);
  Status s = WriteIndexLocked([&](WriteTxn& txn) -> Status {
    SHARDFS_TRY(txn.Delete(kSmallTable, Key(id)));
    return txn.Delete(kBlocksTable, Key(id));
  });
  if (!s.ok()) spdlog::warn("block cache {}: {}", dir_, s.error().message);
  ::unlink(PathOf(id).c_str());
  space_cv_.notify_all();
}

void BlockCacheImpl::TouchLocked(Entry& e, const ObjectId& id) {
  if (!e.dirty) clean_lru_.erase(e.seq);
  e.seq = next_seq_++;
  if (!e.dirty) clean_lru_.emplace(e.seq, id);
  touched_.insert(id);
}

util::Result<Bytes> BlockCacheImpl::ReadInline(const ObjectId& id, uint64_t size) {
  SHARDFS_ASSIGN_OR_RETURN(auto txn, index_->BeginRead());
  auto data = txn->Get(kSmallTable, Key(id));
  if (!data.ok()) return data.error();
  if (data->size() != size) {
    return MakeError(Errc::kCorrupt, "inline block " + id.Hex() + " holds " +
                                         std::to_string(data->size()) + " bytes, the index says " +
                                         std::to_string(size));
  }
  return data;
}

util::Result<Bytes> BlockCacheImpl::Get(const ObjectId& id) {
  uint64_t size = 0;
  uint64_t gen = 0;
  bool is_inline = false;
  {
    util::MutexLock lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      ++misses_;
      return NotCached(id);
    }
    size = it->second.size;
    gen = it->second.gen;
    is_inline = it->second.inline_data;
  }
  // Read without the lock. If the block is evicted meanwhile, the open either finds the file
  // (the bytes stay readable through the descriptor) or does not (a miss); never wrong bytes.
  auto data = is_inline ? ReadInline(id, size) : ReadBlockFile(PathOf(id), size);
  util::MutexLock lock(mu_);
  auto it = entries_.find(id);
  if (!data.ok()) {
    if (data.code() != Errc::kNotFound && data.code() != Errc::kCorrupt) return data.error();
    ++misses_;
    // Drop the entry only if it is still the one that was read and no Put is replacing it.
    if (it != entries_.end() && it->second.gen == gen && !busy_.contains(id))
      DropLocked(id, data.error().message);
    return NotCached(id);
  }
  ++hits_;
  if (it != entries_.end() && it->second.gen == gen) TouchLocked(it->second, id);
  if (touched_.size() >= kMaxPendingTouches) {
    Status s = WriteIndexLocked([](WriteTxn&) { return util::Ok(); });
    if (!s.ok()) spdlog::warn("block cache {}: LRU order not saved: {}", dir_, s.error().message);
  }
  return data;
}

util::Result<BlockCache::BlockFile> BlockCacheImpl::FileOf(const ObjectId& id) {
  util::MutexLock lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.inline_data) return NotCached(id);
  return BlockFile{PathOf(id), it->second.size};
}

Status BlockCacheImpl::MarkClean(const ObjectId& id) {
  util::MutexLock lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || !it->second.dirty) return util::Ok();
  Entry e = it->second;
  e.dirty = false;
  SHARDFS_TRY(WriteIndexLocked(
      [&](WriteTxn& txn) { return txn.Put(kBlocksTable, Key(id), EncodeEntry(e)); }));
  it->second.dirty = false;
  dirty_bytes_ -= e.size;
  --dirty_blocks_;
  clean_lru_.emplace(e.seq, id);
  space_cv_.notify_all();
  return util::Ok();
}

Status BlockCacheImpl::Remove(const ObjectId& id) {
  util::MutexLock lock(mu_);
  while (busy_.contains(id)) mu_.Await(space_cv_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return util::Ok();
  Status removed = WriteIndexLocked([&](WriteTxn& txn) -> Status {
    SHARDFS_TRY(txn.Delete(kSmallTable, Key(id)));
    return txn.Delete(kBlocksTable, Key(id));
  });
  SHARDFS_TRY(removed);
  const uint64_t size = it->second.size;
  if (ForgetLocked(it)) DiscardFilesLocked({{id, size}});
  space_cv_.notify_all();
  return util::Ok();
}

util::Result<std::vector<ObjectId>> BlockCacheImpl::DirtyBlocks() {
  std::vector<ObjectId> out;
  util::MutexLock lock(mu_);
  for (const auto& [id, e] : entries_)
    if (e.dirty) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

Status BlockCacheImpl::Sync() {
  std::vector<ObjectId> ids;
  {
    util::MutexLock lock(mu_);
    SHARDFS_TRY(WriteIndexLocked([](WriteTxn&) { return util::Ok(); }));  // LRU order too
    // Blocks stored meanwhile (uploaded, or fetched from the store) need no fsync: durable in
    // the store is durable. Reads from the store and finished uploads cost no fsyncs now.
    for (const ObjectId& id : unsynced_) {
      auto it = entries_.find(id);
      if (it != entries_.end() && it->second.dirty) ids.push_back(id);
    }
    unsynced_.clear();
  }
  std::optional<util::Error> error;
  std::set<std::string> dirs;
  for (const ObjectId& id : ids) {
    Status s = util::FsyncPath(PathOf(id));
    if (s.ok()) {
      files_synced_.fetch_add(1, std::memory_order_relaxed);
      dirs.insert(BlockSubdir(blocks_dir_, id));
    } else if (s.code() != Errc::kNotFound && !error) {  // kNotFound: gone since, nothing to do
      error = s.error();
    }
  }
  if (subdirs_created_.exchange(false)) dirs.insert(blocks_dir_);
  for (const std::string& d : dirs) {
    if (Status s = util::FsyncPath(d); !s.ok() && !error) error = s.error();
  }
  if (error) {
    util::MutexLock lock(mu_);
    for (const ObjectId& id : ids)
      if (entries_.contains(id)) unsynced_.insert(id);  // the next Sync tries them again
    if (dirs.contains(blocks_dir_)) subdirs_created_ = true;
    return *error;
  }
  // Files first, then the index, so every dirty block put before Sync began is durable together
  // with its entry. (A block put during Sync may get a durable entry before its file is: after
  // a power loss Open drops that entry, as the block was never promised durable.)
  return index_->Sync();
}

BlockCacheStats BlockCacheImpl::Stats() {
  util::MutexLock lock(mu_);
  const uint64_t capacity = last_room_ >= budget_ ? budget_ : std::min(budget_, used_ + last_room_);
  return BlockCacheStats{.budget_bytes = budget_,
                         .capacity_bytes = capacity,
                         .space_waiters = space_waiters_,
                         .used_bytes = used_,
                         .dirty_bytes = dirty_bytes_,
                         .blocks = entries_.size(),
                         .dirty_blocks = dirty_blocks_,
                         .hits = hits_,
                         .misses = misses_,
                         .evictions = evictions_,
                         .files_synced = files_synced_};
}

}  // namespace shardfs::cache::internal

namespace shardfs::cache {

util::Result<DiskSpace> DiskSpaceOf(const std::string& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) {
    return util::ErrnoError(errno, "cannot measure the free space of " + path);
  }
  constexpr uint64_t kMinReserve = uint64_t{8} << 20;
  constexpr uint64_t kMaxReserve = uint64_t{256} << 20;
  DiskSpace space;
  space.size = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  space.available = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  // 1/64 of the disk, at least 8 MiB (but never more than 1/8 of a tiny one), at most 256 MiB.
  space.reserve =
      std::min(kMaxReserve, std::max(space.size / 64, std::min(kMinReserve, space.size / 8)));
  return space;
}

util::Result<std::unique_ptr<BlockCache>> BlockCache::Open(const Options& options) {
  if (options.dir.empty())
    return util::MakeError(util::Errc::kInvalid, "block cache: empty directory");
  if (options.budget_bytes == 0) {
    return util::MakeError(util::Errc::kInvalid,
                           "block cache " + options.dir + ": the budget is 0 bytes");
  }
  auto cache = std::make_unique<internal::BlockCacheImpl>(options);
  SHARDFS_TRY(cache->Init());
  return std::unique_ptr<BlockCache>(std::move(cache));
}

}  // namespace shardfs::cache
