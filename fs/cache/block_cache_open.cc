// BlockCache: Open, the index format check and crash recovery.
#include "fs/cache/block_cache.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "fs/cache/block_cache_impl.h"
#include "fs/util/files.h"
#include "fs/util/log.h"
#include "fs/util/units.h"

namespace shardfs::cache::internal {

using util::Errc;
using util::MakeError;

BlockCacheImpl::~BlockCacheImpl() {
  util::MutexLock lock(mu_);
  for (const std::string& path : spares_.TakeAll()) ::unlink(path.c_str());
  if ((touched_.empty() && evicted_.empty()) || !index_) return;
  Status s = WriteIndexLocked([](WriteTxn&) { return util::Ok(); });
  if (!s.ok()) spdlog::warn("block cache {}: LRU order not saved: {}", dir_, s.error().message);
}

Status BlockCacheImpl::ClearStaging() {
  SHARDFS_TRY(util::MakeDirs(spares_.dir(), 0700));
  DIR* d = ::opendir(spares_.dir().c_str());
  if (d == nullptr) return util::ErrnoError(errno, "cannot list " + spares_.dir());
  while (dirent* de = ::readdir(d)) {
    std::string name = de->d_name;
    if (name != "." && name != "..") ::unlink((spares_.dir() + "/" + name).c_str());
  }
  ::closedir(d);
  return util::Ok();
}

Status BlockCacheImpl::Init() {
  // Nobody else can reach the cache yet; the lock is for the analysis, and costs nothing.
  util::MutexLock lock(mu_);
  const bool fresh = !util::PathExists(blocks_dir_);
  SHARDFS_TRY(util::MakeDirs(blocks_dir_, 0700));
  if (fresh) SHARDFS_TRY(util::FsyncPath(dir_));
  // The 256 subdirectories are made as blocks first land in them: a mkdir costs ~0.5 ms on the
  // disks measured, too much to spend 256 times when a cache is created.
  SHARDFS_TRY(ClearStaging());
  SHARDFS_ASSIGN_OR_RETURN(
      index_, KvStore::Open({.dir = dir_ + "/index", .tables = {"blocks", "meta", "small"}}));
  SHARDFS_TRY(CheckFormat());
  std::vector<Bytes> bad_keys;
  SHARDFS_TRY(LoadIndex(&bad_keys));
  SHARDFS_TRY(Reconcile(std::move(bad_keys)));
  // The budget may have shrunk since the last run. (If only dirty blocks are left, Puts wait
  // until they are uploaded.)
  bool evicted = true;
  while (used_ > budget_ && evicted) evicted = EvictLocked(used_ - budget_);
  DiskShortLocked(0);  // measures the disk (last_room_)
  if (last_room_ != UINT64_MAX && used_ + last_room_ < budget_) {
    auto space = DiskSpaceOf(blocks_dir_);
    spdlog::warn(
        "block cache {}: its disk has {} free (keeping {} in reserve), so the cache holds at most "
        "about {}, not its budget of {}; it evicts stored blocks and has writers wait for "
        "uploads to stay within that",
        dir_, util::FormatSize(space.ok() ? space->available : 0),
        util::FormatSize(space.ok() ? space->reserve : 0), util::FormatSize(used_ + last_room_),
        util::FormatSize(budget_));
  }
  if (evicted_.empty()) return util::Ok();
  return WriteIndexLocked([](WriteTxn&) { return util::Ok(); });
}

Status BlockCacheImpl::CheckFormat() {
  SHARDFS_ASSIGN_OR_RETURN(auto txn, index_->BeginWrite());
  auto version = txn->Get(kMetaTable, util::AsBytes(kFormatKey));
  if (version.ok()) {
    const uint32_t v = version->size() == 4 ? util::LoadU32Le(version->data()) : 0;
    if (v == kFormatVersion) return util::Ok();
    if (v >= kOldestFormat && v < kFormatVersion) {  // older entries are valid as they are
      Bytes now;
      util::AppendU32Le(now, kFormatVersion);
      SHARDFS_TRY(txn->Put(kMetaTable, util::AsBytes(kFormatKey), now));
      return txn->Commit();
    }
    return MakeError(Errc::kUnsupported, "the block cache index in " + dir_ +
                                             " has a format this build does not know (it knows " +
                                             std::to_string(kFormatVersion) +
                                             "): use a newer shardfs");
  }
  if (version.code() != Errc::kNotFound) return version.error();
  Bytes v;
  util::AppendU32Le(v, kFormatVersion);
  SHARDFS_TRY(txn->Put(kMetaTable, util::AsBytes(kFormatKey), v));
  return txn->Commit();
}

Status BlockCacheImpl::LoadIndex(std::vector<Bytes>* bad_keys) {
  SHARDFS_ASSIGN_OR_RETURN(auto txn, index_->BeginRead());
  return txn->Scan(kBlocksTable, {}, [&](ByteSpan key, ByteSpan value) REQUIRES(mu_) {
    ObjectId id;
    Entry e;
    if (key.size() != id.bytes.size() || !DecodeEntry(value, &e)) {
      bad_keys->emplace_back(key.begin(), key.end());
      return true;
    }
    std::copy(key.begin(), key.end(), id.bytes.begin());
    e.gen = next_gen_++;
    next_seq_ = std::max(next_seq_, e.seq + 1);
    entries_.emplace(id, e);
    return true;
  });
}

// After a crash (or outside meddling) the index and the files may disagree. Keeps an entry only
// if its file is there with the right size; deletes temps and files nobody indexes.
Status BlockCacheImpl::Reconcile(std::vector<Bytes> bad_keys) {
  std::unordered_set<ObjectId> present;
  uint64_t removed_files = 0;
  for (int i = 0; i < 256; ++i) {
    uint8_t b = static_cast<uint8_t>(i);
    std::string prefix = util::ToHex(ByteSpan(&b, 1));
    std::string sub = blocks_dir_ + "/" + prefix;
    DIR* d = ::opendir(sub.c_str());
    if (d == nullptr && errno == ENOENT) continue;  // no block ever landed there
    if (d == nullptr) return util::ErrnoError(errno, "cannot list cache directory " + sub);
    subdir_ready_[i] = true;
    while (dirent* de = ::readdir(d)) {
      std::string name = de->d_name;
      if (name == "." || name == "..") continue;
      std::string path = sub + "/" + name;
      ObjectId id;
      bool is_block =
          ObjectId::FromHex(name, &id) && id.Hex() == name && name.compare(0, 2, prefix) == 0;
      if (!is_block) continue;  // not ours: leave it alone
      auto it = entries_.find(id);
      struct stat st {};
      if (it != entries_.end() && !it->second.inline_data && ::lstat(path.c_str(), &st) == 0 &&
          S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == it->second.size) {
        present.insert(id);
        continue;
      }
      if (::unlink(path.c_str()) == 0) ++removed_files;
    }
    ::closedir(d);
  }

  // Inline blocks: present when their bytes are; bytes nobody indexes are strays.
  std::vector<Bytes> stray_rows;
  {
    SHARDFS_ASSIGN_OR_RETURN(auto txn, index_->BeginRead());
    SHARDFS_TRY(txn->Scan(kSmallTable, {}, [&](ByteSpan key, ByteSpan value) REQUIRES(mu_) {
      ObjectId id;
      auto it = entries_.end();
      if (key.size() == id.bytes.size()) {
        std::copy(key.begin(), key.end(), id.bytes.begin());
        it = entries_.find(id);
      }
      if (it != entries_.end() && it->second.inline_data && it->second.size == value.size()) {
        present.insert(id);
      } else {
        stray_rows.emplace_back(key.begin(), key.end());
      }
      return true;
    }));
  }
  std::vector<ObjectId> dropped;
  for (const auto& [id, e] : entries_)
    if (!present.contains(id)) dropped.push_back(id);
  if (!dropped.empty() || !bad_keys.empty() || !stray_rows.empty()) {
    SHARDFS_ASSIGN_OR_RETURN(auto txn, index_->BeginWrite());
    for (const Bytes& k : stray_rows) SHARDFS_TRY(txn->Delete(kSmallTable, k));
    for (const Bytes& k : bad_keys) SHARDFS_TRY(txn->Delete(kBlocksTable, k));
    for (const ObjectId& id : dropped) SHARDFS_TRY(txn->Delete(kBlocksTable, Key(id)));
    SHARDFS_TRY(txn->Commit());
  }
  for (const ObjectId& id : dropped) entries_.erase(id);
  if (!dropped.empty() || !bad_keys.empty() || removed_files > 0) {
    spdlog::warn(
        "block cache {}: recovered: dropped {} index entries with a missing or wrong-sized file "
        "({} unreadable), deleted {} stray files",
        dir_, dropped.size() + bad_keys.size(), bad_keys.size(), removed_files);
  }
  for (const auto& [id, e] : entries_) {
    used_ += e.size;
    if (e.dirty) {
      dirty_bytes_ += e.size;
      ++dirty_blocks_;
    } else {
      clean_lru_.emplace(e.seq, id);
    }
  }
  return util::Ok();
}

}  // namespace shardfs::cache::internal
