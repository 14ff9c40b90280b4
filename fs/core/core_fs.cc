// CoreFs: set-up, the inode table, attributes and handles.
#include "fs/core/core_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fs/crypto/random.h"

namespace shardfs::core {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {
constexpr uint64_t kNoIno = 0;
constexpr char kNextInoState[] = "next_ino";
constexpr char kFormatState[] = "format_version";

}  // namespace

CoreFs::CoreFs(Deps deps)
    : config_(std::move(deps.config)),
      keys_(std::move(deps.keys)),
      meta_(std::move(deps.meta)),
      cache_(std::move(deps.cache)),
      node_stores_(std::move(deps.node_stores)),
      store_(std::move(deps.store)),
      clock_(std::move(deps.clock)),
      options_(deps.options),
      read_only_(deps.options.read_only),
      lock_fd_(deps.lock_fd),
      root_uid_(deps.root_uid),
      root_gid_(deps.root_gid),
      block_size_(config_.block_size) {}

util::Error CoreFs::ReadOnlyError() {
  return MakeError(Errc::kReadOnly, "the drive is mounted read-only");
}

Result<std::unique_ptr<CoreFs>> CoreFs::Open(Deps deps) {
  std::unique_ptr<CoreFs> fs(new CoreFs(std::move(deps)));
  SHARDFS_TRY(fs->Init());
  for (uint32_t i = 0; i < std::max<uint32_t>(1, fs->options_.upload_threads); ++i) {
    fs->threads_.emplace_back([p = fs.get()] { p->UploaderLoop(); });
  }
  fs->threads_.emplace_back([p = fs.get()] { p->CommitterLoop(); });
  fs->threads_.emplace_back([p = fs.get()] { p->CloserLoop(); });
  for (uint32_t i = 0; i < std::max<uint32_t>(1, fs->options_.prefetch_threads); ++i) {
    fs->threads_.emplace_back([p = fs.get()] { p->PrefetchLoop(); });
  }
  return fs;
}

CoreFs::~CoreFs() {
  Status s = Shutdown();
  if (!s.ok()) spdlog::error("shutdown: {}", s.error().message);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status CoreFs::Init() {
  util::MutexLock lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
  auto format = txn->GetState(kFormatState);
  if (format.ok() && *format != kMetaFormatVersion) {
    return MakeError(Errc::kUnsupported,
                     fmt::format("the local metadata has format {}, this shardfs knows {}", *format,
                                 kMetaFormatVersion));
  }
  auto next = txn->GetState(kNextInoState);
  next_ino_ = next.ok() ? *next : kRootIno + 1;
  ino_reserved_ = next_ino_;  // the first create reserves
  auto root = txn->GetInode(kRootIno);
  if (root.code() == Errc::kNotFound) {
    Node n;
    n.rec.ino = kRootIno;
    n.rec.mode = S_IFDIR | 0755;
    n.rec.uid = root_uid_;
    n.rec.gid = root_gid_;
    n.rec.nlink = 2;
    n.rec.parent = kRootIno;
    n.rec.atime = n.rec.mtime = n.rec.ctime = Now();
    SHARDFS_TRY(txn->PutInode(n.rec));
    SHARDFS_TRY(txn->PutState(kFormatState, kMetaFormatVersion));
    SHARDFS_TRY(txn->PutState(kNextInoState, next_ino_));
  } else if (!root.ok()) {
    return root.error();
  }
  // Inodes unlinked while open when the last mount ended (or crashed).
  std::vector<uint64_t> orphans;
  SHARDFS_TRY(txn->ScanOrphans([&](uint64_t ino) {
    orphans.push_back(ino);
    return true;
  }));
  for (uint64_t ino : orphans) {
    auto rec = txn->GetInode(ino);
    if (rec.ok()) {
      auto node = std::make_unique<Node>();
      node->rec = std::move(rec).value();
      SHARDFS_TRY(DeleteInode(*txn, node.get()));
    } else {
      SHARDFS_TRY(txn->RemoveOrphan(ino));
    }
  }
  // Count pending uploads; a dirty cache block no upload refers to was sealed by a write
  // whose metadata never committed (a crash in between): drop it.
  std::unordered_set<util::ObjectId> uploads;
  SHARDFS_TRY(txn->ScanUploads([&](const util::ObjectId& id, uint64_t) {
    uploads.insert(id);
    return true;
  }));
  SHARDFS_TRY(txn->Commit());
  SHARDFS_ASSIGN_OR_RETURN(auto dirty, cache_->DirtyBlocks());
  for (const auto& id : dirty) {
    if (!uploads.contains(id)) SHARDFS_TRY(cache_->Remove(id));
  }
  if (!orphans.empty()) spdlog::info("reclaimed {} files deleted while open", orphans.size());
  return util::Ok();
}

Timespec CoreFs::Now() const {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_->Now().time_since_epoch())
                .count();
  return Timespec{ns / 1'000'000'000, static_cast<uint32_t>(ns % 1'000'000'000)};
}

Status CoreFs::CheckName(std::string_view name) const {
  if (name.size() > kMaxNameLength) {
    return MakeError(Errc::kNameTooLong, "name longer than 255 bytes");
  }
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return MakeError(Errc::kInvalid, "not a valid name");
  }
  return util::Ok();
}

Result<CoreFs::Node*> CoreFs::GetNode(uint64_t ino) {
  auto it = nodes_.find(ino);
  if (it != nodes_.end()) return it->second.get();
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
  auto rec = txn->GetInode(ino);
  if (!rec.ok()) {
    if (rec.code() == Errc::kNotFound) return MakeError(Errc::kNotFound, "no such inode");
    return rec.error();
  }
  auto node = std::make_unique<Node>();
  node->rec = std::move(rec).value();
  // A seal still in flight for a forgotten copy of this inode can only be of a buffer a
  // truncate dropped: it must stay stale, as it was for that copy.
  node->trunc_gen = node->rec.block_gen;
  Node* raw = node.get();
  nodes_.emplace(ino, std::move(node));
  return raw;
}

Result<CoreFs::Node*> CoreFs::GetDir(uint64_t ino) {
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  if (!S_ISDIR(n->rec.mode)) return MakeError(Errc::kNotDir, "not a directory");
  if (n->rec.nlink == 0) return MakeError(Errc::kNotFound, "directory was removed");
  return n;
}

Attr CoreFs::ToAttr(const Node& n) const {
  Attr a;
  const InodeRecord& r = n.rec;
  a.ino = r.ino;
  a.mode = r.mode;
  a.nlink = r.nlink;
  a.uid = r.uid;
  a.gid = r.gid;
  a.rdev = r.rdev;
  a.size = r.size;
  uint64_t stored = r.stored_bytes;
  for (const auto& [index, b] : n.buffers) {
    // What a dirty buffer adds to its block as stored (a seal may still cut it to the size).
    if (b.dirty && b.length > b.stored_length) stored += b.length - b.stored_length;
  }
  a.blocks = (std::min(stored, std::max<uint64_t>(r.size, stored)) + 511) / 512;
  a.blksize = static_cast<uint32_t>(std::min<uint64_t>(block_size_, 1 << 20));
  a.atime = r.atime;
  a.mtime = r.mtime;
  a.ctime = r.ctime;
  return a;
}

Result<Attr> CoreFs::Referenced(Node* n) {
  n->nlookup++;
  return ToAttr(*n);
}

Status CoreFs::SaveDirtyRecords() {
  // Files closed but not yet sealed by the closer first: their records hold sizes whose data
  // is still only in memory (a kill -9 after such a record alone shows zeros).
  SHARDFS_TRY(FlushClosed());
  std::vector<Node*> dirty;
  for (auto& [ino, n] : nodes_) {
    if (n->rec_dirty) dirty.push_back(n.get());
  }
  if (dirty.empty()) return util::Ok();
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
  for (Node* n : dirty) SHARDFS_TRY(SaveNode(*txn, n));
  return txn->Commit();
}

void CoreFs::DropForgotten() {
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    const Node& n = *it->second;
    if (it->first != kRootIno && n.nlookup == 0 && n.opens == 0 && !n.rec_dirty &&
        n.buffers.empty() && n.seals_in_flight == 0) {
      it = nodes_.erase(it);
    } else {
      ++it;
    }
  }
}

Status CoreFs::SaveNode(MetaTxn& txn, Node* n) {
  SHARDFS_TRY(txn.PutInode(n->rec));
  n->rec_dirty = false;
  changed_since_sync_ = true;
  return util::Ok();
}

Result<uint64_t> CoreFs::AllocIno() {
  // Numbers are reserved kInoReserve at a time, in a transaction of their own: the stored
  // next_ino is always past every number handed out (a crash skips the rest of a reservation,
  // never reuses one), and a create does not write the state table.
  if (next_ino_ >= ino_reserved_) {
    SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
    SHARDFS_TRY(txn->PutState(kNextInoState, next_ino_ + kInoReserve));
    SHARDFS_TRY(txn->Commit());
    ino_reserved_ = next_ino_ + kInoReserve;
  }
  return next_ino_++;
}

Result<Attr> CoreFs::Lookup(uint64_t parent, std::string_view name) {
  util::MutexLock lock(mu_);
  // With EXPORT_SUPPORT the kernel looks up "." in any inode to open a file handle of one it
  // has forgotten (open_by_handle_at, NFS export): a live inode of any type answers for itself.
  if (name == ".") {
    SHARDFS_ASSIGN_OR_RETURN(Node * self, GetNode(parent));
    if (self->rec.nlink == 0 && self->opens == 0 && self->nlookup == 0) {
      return MakeError(Errc::kNotFound, "the inode was deleted");
    }
    return Referenced(self);
  }
  SHARDFS_ASSIGN_OR_RETURN(Node * dir, GetDir(parent));
  if (name == "..") {
    SHARDFS_ASSIGN_OR_RETURN(Node * up, GetNode(dir->rec.parent == 0 ? parent : dir->rec.parent));
    return Referenced(up);
  }
  SHARDFS_TRY(CheckName(name));
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
  auto entry = txn->LookupEntry(parent, name);
  if (!entry.ok()) return entry.error();
  txn.reset();
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(entry->ino));
  return Referenced(n);
}

void CoreFs::Forget(uint64_t ino, uint64_t nlookup) {
  util::MutexLock lock(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node* n = it->second.get();
  n->nlookup -= std::min(n->nlookup, nlookup);
  MaybeDelete(ino);
  // Forget the in-memory copy of an unused, clean inode (the root stays).
  it = nodes_.find(ino);
  if (it != nodes_.end() && ino != kRootIno && n->nlookup == 0 && n->opens == 0 && !n->rec_dirty &&
      n->buffers.empty()) {
    nodes_.erase(it);
  }
}

void CoreFs::MaybeDelete(uint64_t ino) {
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node* n = it->second.get();
  if (n->rec.nlink > 0 || n->nlookup > 0 || n->opens > 0) return;
  auto txn = meta_->Write();
  Status s = txn.ok() ? DeleteInode(**txn, n) : Status(txn.error());
  if (s.ok()) s = (*txn)->Commit();
  if (!s.ok()) {
    spdlog::error("cannot delete inode {} (kept as an orphan until the next mount): {}", ino,
                  s.error().message);
    return;
  }
  for (auto& [index, b] : n->buffers) {
    lru_.erase(b.lru);
    buffer_bytes_ -= b.data->size();
  }
  nodes_.erase(it);
  WakeUploaders();
}

Status CoreFs::DeleteInode(MetaTxn& txn, Node* n) {
  const uint64_t ino = n->rec.ino;
  std::vector<uint64_t> indexes;
  SHARDFS_TRY(txn.ScanBlocks(ino, 0, [&](uint64_t index, const BlockRef& ref) {
    indexes.push_back(index);
    Status s = txn.AddGarbage(ref.id);
    if (s.ok()) s = txn.RemoveUpload(ref.id);
    return s.ok();
  }));
  for (uint64_t index : indexes) SHARDFS_TRY(txn.DeleteBlock(ino, index));
  std::vector<std::string> names;
  SHARDFS_TRY(txn.ScanXattrs(ino, [&](std::string_view name, util::ByteSpan) {
    names.emplace_back(name);
    return true;
  }));
  for (const auto& name : names) SHARDFS_TRY(txn.DeleteXattr(ino, name));
  SHARDFS_TRY(txn.DeleteInode(ino));
  SHARDFS_TRY(txn.RemoveOrphan(ino));
  changed_since_sync_ = true;
  if (!indexes.empty()) NoteWriteActivity(0);
  return util::Ok();
}

Result<Attr> CoreFs::GetAttr(uint64_t ino) {
  util::MutexLock lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  return ToAttr(*n);
}

Result<Attr> CoreFs::SetAttributes(uint64_t ino, const SetAttr& change, const Caller& caller) {
  util::MutexLock lock(mu_);
  if (read_only_) return ReadOnlyError();
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  InodeRecord& r = n->rec;
  const Timespec now = Now();
  uint32_t killed = 0;
  if (change.kill_setid && S_ISREG(r.mode)) {
    killed = r.mode & S_ISUID;
    if (r.mode & S_IXGRP) killed |= r.mode & S_ISGID;
  }
  if (killed == 0 && !change.mode && !change.uid && !change.gid && !change.size && !change.atime &&
      !change.mtime && !change.atime_now && !change.mtime_now && !change.ctime) {
    return ToAttr(*n);  // nothing to do (a kill of bits the file does not have)
  }
  r.mode &= ~killed;
  // The kernel (default_permissions) has checked who may do what; these are the effects.
  if (change.size) {
    if (S_ISDIR(r.mode)) return MakeError(Errc::kIsDir, "cannot truncate a directory");
    if (!S_ISREG(r.mode)) return MakeError(Errc::kInvalidOp, "not a regular file");
  }
  // Only a size change touches blocks and commits at once; the rest is the inode's record,
  // written with the next flush of it (fsync, fsyncdir, the committer, unmount).
  std::unique_ptr<MetaTxn> txn;
  if (change.size && *change.size != r.size) {
    SHARDFS_ASSIGN_OR_RETURN(txn, meta_->Write());
  }
  if (change.mode) r.mode = (r.mode & S_IFMT) | (*change.mode & 07777);
  if (change.uid || change.gid) {
    if (change.uid) r.uid = *change.uid;
    if (change.gid) r.gid = *change.gid;
    // chown by anyone but root clears set-id bits of an executable, as Linux does.
    if (caller.uid != 0 && !S_ISDIR(r.mode)) {
      r.mode &= ~static_cast<uint32_t>(S_ISUID);
      if (r.mode & S_IXGRP) r.mode &= ~static_cast<uint32_t>(S_ISGID);
    }
  }
  if (change.size && *change.size != r.size) {
    SHARDFS_TRY(Truncate(*txn, n, *change.size));
    r.mtime = now;
  } else if (change.size) {
    r.mtime = now;  // truncate to the same size still updates mtime (POSIX)
  }
  if (change.atime_now)
    r.atime = now;
  else if (change.atime)
    r.atime = *change.atime;
  if (change.mtime_now)
    r.mtime = now;
  else if (change.mtime)
    r.mtime = *change.mtime;
  r.ctime = change.ctime ? *change.ctime : now;
  if (txn == nullptr) {
    n->rec_dirty = true;
    return ToAttr(*n);
  }
  SHARDFS_TRY(SaveNode(*txn, n));
  SHARDFS_TRY(txn->Commit());
  return ToAttr(*n);
}

Status CoreFs::Access(uint64_t ino, int mask, const Caller& caller) {
  util::MutexLock lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  if (mask == F_OK) return util::Ok();
  const InodeRecord& r = n->rec;
  if (caller.uid == 0) {
    // root may read and write anything, and execute what anyone may execute.
    if ((mask & X_OK) && !S_ISDIR(r.mode) && !(r.mode & 0111)) {
      return MakeError(Errc::kAccessDenied, "no execute permission");
    }
    return util::Ok();
  }
  uint32_t bits = caller.uid == r.uid      ? (r.mode >> 6) & 7
                  : InGroup(caller, r.gid) ? (r.mode >> 3) & 7
                                           : r.mode & 7;
  if ((bits & static_cast<uint32_t>(mask)) != static_cast<uint32_t>(mask)) {
    return MakeError(Errc::kAccessDenied, "permission denied");
  }
  return util::Ok();
}

Result<uint64_t> CoreFs::Open(uint64_t ino, int flags) {
  util::MutexLock lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  if (S_ISDIR(n->rec.mode) && (flags & O_ACCMODE) != O_RDONLY) {
    return MakeError(Errc::kIsDir, "is a directory");
  }
  bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  if (writes && read_only_) return ReadOnlyError();
  if ((flags & O_TRUNC) && S_ISREG(n->rec.mode) && n->rec.size > 0) {
    SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
    SHARDFS_TRY(Truncate(*txn, n, 0));
    n->rec.mtime = n->rec.ctime = Now();
    SHARDFS_TRY(SaveNode(*txn, n));
    SHARDFS_TRY(txn->Commit());
  }
  n->opens++;
  uint64_t fh = next_fh_++;
  handles_[fh] = Handle{ino, flags};
  return fh;
}

Status CoreFs::Release(uint64_t ino, uint64_t fh) {
  util::MutexLock lock(mu_);
  handles_.erase(fh);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return util::Ok();
  Node* n = it->second.get();
  if (n->opens > 0) n->opens--;
  // The closer thread seals what the file still buffers, together with other files closed
  // about the same time (a burst of small files then costs a commit per group, not two per
  // file). Nothing waits for it: close(2) promises nothing about the data (fsync does).
  if (std::any_of(n->buffers.begin(), n->buffers.end(),
                  [](const auto& b) { return b.second.dirty; })) {
    if (closed_.insert(ino).second && (closed_.size() == 1 || closed_.size() == kSealGroupBlocks)) {
      closer_cv_.notify_one();
    }
  }
  MaybeDelete(ino);
  return util::Ok();
}

Result<uint64_t> CoreFs::OpenDir(uint64_t ino) {
  util::MutexLock lock(mu_);
  SHARDFS_TRY(GetDir(ino));
  uint64_t fh = next_fh_++;
  handles_[fh] = Handle{ino, O_RDONLY | O_DIRECTORY};
  return fh;
}

Status CoreFs::ReleaseDir(uint64_t, uint64_t fh) {
  util::MutexLock lock(mu_);
  handles_.erase(fh);
  return util::Ok();
}

Status CoreFs::Shutdown() {
  {
    util::MutexLock lock(mu_);
    if (shut_down_) return util::Ok();
    // Seal everything still buffered, then let the uploader drain.
    std::vector<uint64_t> inos;
    for (auto& [ino, n] : nodes_) inos.push_back(ino);
    (void)FlushNodes(inos, /*save_records=*/true, "unmount");  // logged
  }
  // Without the uploader (Open failed part way) there is nobody to wait for.
  Status waited = threads_.empty() ? util::Ok() : WaitForUploads();
  {
    util::MutexLock lock(mu_);
    stopping_ = true;
    shut_down_ = true;
    work_cv_.notify_all();
    uploaded_cv_.notify_all();
    stop_cv_.notify_all();
    closer_cv_.notify_all();
  }
  {
    util::MutexLock fetch_lock(fetch_mu_);
    prefetch_stop_ = true;
    prefetch_cv_.notify_all();
  }
  cache_->Cancel();
  for (auto& t : threads_) t.join();
  threads_.clear();
  Status synced = SyncLocal();
  if (!waited.ok()) return waited;
  return synced;
}

}  // namespace shardfs::core
