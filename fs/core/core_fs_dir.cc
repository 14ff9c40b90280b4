// CoreFs: directory listings, extended attributes, statfs.
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "fs/core/core_fs.h"

namespace shardfs::core {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {
constexpr uint64_t kDotOffset = 1;
constexpr uint64_t kDotDotOffset = 2;
constexpr size_t kMaxXattrName = 255;

Status CheckXattrName(std::string_view name) {
  if (name.empty()) return MakeError(Errc::kInvalid, "empty attribute name");
  if (name.size() > kMaxXattrName) return MakeError(Errc::kNameTooLong, "attribute name too long");
  // POSIX ACLs would have to change permission checks: not supported, and saying so is
  // better than storing them as inert bytes.
  if (name.starts_with("system.")) {
    return MakeError(Errc::kUnsupported, "system.* attributes are not supported");
  }
  return util::Ok();
}
}  // namespace

Status CoreFs::ReadDir(uint64_t ino, uint64_t, uint64_t offset, bool plus,
                       const std::function<bool(const DirEntry&)>& emit) {
  util::MutexLock lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * dir, GetNode(ino));
  if (!S_ISDIR(dir->rec.mode)) return MakeError(Errc::kNotDir, "not a directory");
  const uint64_t parent = dir->rec.parent == 0 ? ino : dir->rec.parent;
  auto dot = [&](std::string name, uint64_t target, uint64_t off) REQUIRES(mu_) -> Result<bool> {
    DirEntry e;
    e.name = std::move(name);
    e.ino = target;
    e.type = S_IFDIR;
    e.offset = off;
    if (plus) {
      SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(target));
      e.attr = ToAttr(*n);
    }
    return emit(e);
  };
  if (offset < kDotOffset) {
    SHARDFS_ASSIGN_OR_RETURN(bool more, dot(".", ino, kDotOffset));
    if (!more) return util::Ok();
  }
  if (offset < kDotDotOffset) {
    SHARDFS_ASSIGN_OR_RETURN(bool more, dot("..", parent, kDotDotOffset));
    if (!more) return util::Ok();
  }
  // Collect first: building attributes may load inodes, which must not happen inside a scan.
  std::vector<DirentValue> entries;
  {
    SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
    SHARDFS_TRY(txn->ScanEntries(ino, std::max(offset, kDotDotOffset), [&](const DirentValue& e) {
      entries.push_back(e);
      return entries.size() < 1024;
    }));
  }
  for (const auto& v : entries) {
    DirEntry e;
    e.name = v.name;
    e.ino = v.ino;
    e.type = v.type;
    e.offset = v.slot;
    Node* n = nullptr;
    if (plus) {
      auto got = GetNode(v.ino);
      if (!got.ok()) {
        spdlog::error("directory {} lists '{}' (inode {}), which cannot be read: {}", ino, v.name,
                      v.ino, got.error().message);
        continue;
      }
      n = *got;
      e.attr = ToAttr(*n);
    }
    if (!emit(e)) break;
    if (n != nullptr) n->nlookup++;  // the kernel now holds a reference to it
  }
  return util::Ok();
}

Status CoreFs::FsyncDir(uint64_t, uint64_t) {
  {
    util::MutexLock lock(mu_);
    SHARDFS_TRY(SaveDirtyRecords());
  }
  return SyncLocal();
}

Result<FsStats> CoreFs::StatFs() {
  FsStats st;
  st.block_size = 4096;
  // What the store holds and can still take, in bytes of blocks; blocks not uploaded yet count
  // as used, so df moves as soon as data is written. The dirty bytes are read first: a block
  // is marked clean only after the store has it, so one uploaded in between is counted twice
  // (for a moment) rather than not at all.
  const uint64_t dirty = cache_->Stats().dirty_bytes;
  auto usage = store_->Usage();
  if (!usage.ok()) spdlog::warn("statfs: {}", usage.error().message);
  util::MutexLock lock(mu_);
  uint64_t used = dirty;
  uint64_t total = uint64_t{1} << 50;  // no limit known: a large, stable size
  uint64_t available = total;
  if (usage.ok()) {
    used += usage->used_bytes;
    if (usage->capacity_bytes != 0) {
      total = usage->capacity_bytes;
      available = usage->available_bytes - std::min(usage->available_bytes, dirty);
    }
  } else if (store_used_known_) {
    used = QuotaUsed();
  }
  if (config_.quota != 0) {
    // The quota is the drive's size unless the nodes hold less.
    total = std::min(total, config_.quota);
    available = std::min(available, config_.quota - std::min(config_.quota, used));
  } else {
    available = std::min(available, total - std::min(total, used));
  }
  st.total_bytes = total;
  st.free_bytes = st.available_bytes = std::min(available, total);
  // Inodes are only metadata records: the limit is nominal, used = numbers handed out.
  st.files = uint64_t{1} << 40;
  st.free_files = st.files - std::min(st.files, next_ino_);
  return st;
}

Status CoreFs::SetXattr(uint64_t ino, std::string_view name, util::ByteSpan value, int flags) {
  util::MutexLock lock(mu_);
  if (read_only_) return ReadOnlyError();
  SHARDFS_TRY(CheckXattrName(name));
  if (value.size() > kMaxXattrValue) return MakeError(Errc::kTooLarge, "attribute too large");
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
  auto existing = txn->GetXattr(ino, name);
  if (!existing.ok() && existing.code() != Errc::kNoAttribute) return existing.error();
  if ((flags & kXattrCreate) && existing.ok()) {
    return MakeError(Errc::kExists, "attribute exists");
  }
  if ((flags & kXattrReplace) && !existing.ok()) {
    return MakeError(Errc::kNoAttribute, "no such attribute");
  }
  SHARDFS_TRY(txn->PutXattr(ino, name, value));
  n->rec.ctime = Now();
  SHARDFS_TRY(SaveNode(*txn, n));
  return txn->Commit();
}

Result<util::Bytes> CoreFs::GetXattr(uint64_t ino, std::string_view name) {
  util::MutexLock lock(mu_);
  SHARDFS_TRY(CheckXattrName(name));
  SHARDFS_TRY(GetNode(ino));
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
  return txn->GetXattr(ino, name);
}

Result<std::vector<std::string>> CoreFs::ListXattr(uint64_t ino) {
  util::MutexLock lock(mu_);
  SHARDFS_TRY(GetNode(ino));
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
  std::vector<std::string> names;
  SHARDFS_TRY(txn->ScanXattrs(ino, [&](std::string_view name, util::ByteSpan) {
    names.emplace_back(name);
    return true;
  }));
  return names;
}

Status CoreFs::RemoveXattr(uint64_t ino, std::string_view name) {
  util::MutexLock lock(mu_);
  if (read_only_) return ReadOnlyError();
  SHARDFS_TRY(CheckXattrName(name));
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
  SHARDFS_TRY(txn->DeleteXattr(ino, name));
  n->rec.ctime = Now();
  SHARDFS_TRY(SaveNode(*txn, n));
  return txn->Commit();
}

}  // namespace shardfs::core
