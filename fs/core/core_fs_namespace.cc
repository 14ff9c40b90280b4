// CoreFs: creating, linking, unlinking and renaming names.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "fs/core/core_fs.h"
#include "fs/crypto/random.h"

namespace shardfs::core {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {
constexpr uint32_t kMaxLinks = 65000;

}  // namespace

Result<Attr> CoreFs::MakeNode(uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
                              std::string_view target, const Caller& caller) {
  if (read_only_) return ReadOnlyError();
  SHARDFS_TRY(CheckName(name));
  SHARDFS_ASSIGN_OR_RETURN(Node * dir, GetDir(parent));
  if (S_ISDIR(mode) && dir->rec.nlink >= kMaxLinks) {
    return MakeError(Errc::kTooManyLinks, "too many subdirectories");
  }
  auto node = std::make_unique<Node>();
  InodeRecord& r = node->rec;
  SHARDFS_ASSIGN_OR_RETURN(r.ino, AllocIno());  // before Write(): it may commit a reservation
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
  auto existing = txn->LookupEntry(parent, name);
  if (existing.ok()) return MakeError(Errc::kExists, "the name exists");
  if (existing.code() != Errc::kNotFound) return existing.error();

  r.mode = mode;
  if (!S_ISLNK(mode)) r.mode = (mode & S_IFMT) | (mode & 07777 & ~caller.umask);
  r.uid = caller.uid;
  // A setgid directory hands its group down, and its setgid bit to subdirectories.
  if (dir->rec.mode & S_ISGID) {
    r.gid = dir->rec.gid;
    if (S_ISDIR(mode)) r.mode |= S_ISGID;
  } else {
    r.gid = caller.gid;
  }
  if (!S_ISDIR(mode) && (r.mode & S_ISGID) && caller.uid != 0 && !InGroup(caller, r.gid)) {
    r.mode &= ~static_cast<uint32_t>(S_ISGID);
  }
  r.nlink = S_ISDIR(mode) ? 2 : 1;
  r.rdev = rdev;
  r.atime = r.mtime = r.ctime = Now();
  if (S_ISDIR(mode)) r.parent = parent;
  if (S_ISREG(mode)) {
    SHARDFS_ASSIGN_OR_RETURN(r.file_key, crypto::RandomSecret(32));
  }
  if (S_ISLNK(mode)) {
    r.symlink.assign(target);
    r.size = target.size();
  }
  SHARDFS_TRY(txn->AddEntry(parent, name, r.ino, mode & S_IFMT));
  if (S_ISDIR(mode)) dir->rec.nlink++;
  SHARDFS_TRY(SaveNode(*txn, node.get()));
  SHARDFS_TRY(TouchDir(*txn, dir, r.ctime, /*links_changed=*/S_ISDIR(mode)));
  SHARDFS_TRY(txn->Commit());
  Node* raw = node.get();
  nodes_.emplace(r.ino, std::move(node));
  return Referenced(raw);
}

Result<Attr> CoreFs::Mknod(uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
                           const Caller& caller) {
  util::MutexLock lock(mu_);
  uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR &&
      type != S_IFBLK) {
    return MakeError(Errc::kInvalid, "mknod of an unknown file type");
  }
  return MakeNode(parent, name, type | (mode & 07777),
                  (type == S_IFCHR || type == S_IFBLK) ? rdev : 0, {}, caller);
}

Result<Attr> CoreFs::Mkdir(uint64_t parent, std::string_view name, uint32_t mode,
                           const Caller& caller) {
  util::MutexLock lock(mu_);
  return MakeNode(parent, name, S_IFDIR | (mode & 07777), 0, {}, caller);
}

Result<Attr> CoreFs::Symlink(uint64_t parent, std::string_view name, std::string_view target,
                             const Caller& caller) {
  util::MutexLock lock(mu_);
  if (target.empty()) return MakeError(Errc::kNotFound, "empty symlink target");
  if (target.size() > kMaxSymlinkLength) {
    return MakeError(Errc::kNameTooLong, "symlink target longer than 4095 bytes");
  }
  return MakeNode(parent, name, S_IFLNK | 0777, 0, target, caller);
}

Result<std::string> CoreFs::Readlink(uint64_t ino) {
  util::MutexLock lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  if (!S_ISLNK(n->rec.mode)) return MakeError(Errc::kInvalidOp, "not a symlink");
  return n->rec.symlink;
}

Result<CoreFs::Created> CoreFs::Create(uint64_t parent, std::string_view name, uint32_t mode,
                                       int flags, const Caller& caller) {
  util::MutexLock lock(mu_);
  Result<Attr> attr = MakeNode(parent, name, S_IFREG | (mode & 07777), 0, {}, caller);
  if (!attr.ok()) {
    if (attr.code() != Errc::kExists || (flags & O_EXCL)) return attr.error();
    // O_CREAT without O_EXCL on a name that appeared meanwhile: open it.
    SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
    SHARDFS_ASSIGN_OR_RETURN(DirentValue e, txn->LookupEntry(parent, name));
    txn.reset();
    SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(e.ino));
    attr = Referenced(n);
  }
  Node* n = nodes_.at(attr->ino).get();
  n->opens++;
  uint64_t fh = next_fh_++;
  handles_[fh] = Handle{attr->ino, flags};
  return Created{*attr, fh};
}

// One link fewer for child (its entry in parent_ino is already gone).
Status CoreFs::TouchDir(MetaTxn& txn, Node* dir, Timespec when, bool links_changed) {
  dir->rec.mtime = dir->rec.ctime = when;
  if (links_changed) return SaveNode(txn, dir);
  // Only its times changed: the record is written with the next batch of changed records (the
  // committer, fsync, fsyncdir, unmount), as after chmod or utimens. A burst of creates in one
  // directory then writes and seals its record once, not once per file.
  dir->rec_dirty = true;
  return util::Ok();
}

Status CoreFs::DropLink(MetaTxn& txn, uint64_t parent_ino, Node* child) {
  const Timespec now = Now();
  if (S_ISDIR(child->rec.mode)) {
    child->rec.nlink = 0;
    SHARDFS_ASSIGN_OR_RETURN(Node * parent, GetNode(parent_ino));
    if (parent->rec.nlink > 2) parent->rec.nlink--;
    SHARDFS_TRY(SaveNode(txn, parent));
  } else if (child->rec.nlink > 0) {
    child->rec.nlink--;
  }
  child->rec.ctime = now;
  if (child->rec.nlink == 0) {
    // Kept (as an orphan, reclaimed at the next mount after a crash) until the last
    // lookup reference and the last open handle are gone: see MaybeDelete.
    SHARDFS_TRY(txn.AddOrphan(child->rec.ino));
  }
  return SaveNode(txn, child);
}

Status CoreFs::Unlink(uint64_t parent, std::string_view name) {
  return RemoveName(parent, name, /*directory=*/false);
}

Status CoreFs::Rmdir(uint64_t parent, std::string_view name) {
  return RemoveName(parent, name, /*directory=*/true);
}

Status CoreFs::RemoveName(uint64_t parent, std::string_view name, bool directory) {
  util::MutexLock lock(mu_);
  if (read_only_) return ReadOnlyError();
  SHARDFS_TRY(CheckName(name));
  SHARDFS_ASSIGN_OR_RETURN(Node * dir, GetDir(parent));
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
  SHARDFS_ASSIGN_OR_RETURN(DirentValue e, txn->LookupEntry(parent, name));
  if (directory) {
    if (e.type != S_IFDIR) return MakeError(Errc::kNotDir, "not a directory");
    SHARDFS_ASSIGN_OR_RETURN(bool empty, txn->DirIsEmpty(e.ino));
    if (!empty) return MakeError(Errc::kNotEmpty, "directory not empty");
  } else if (e.type == S_IFDIR) {
    return MakeError(Errc::kIsDir, "is a directory");
  }
  SHARDFS_ASSIGN_OR_RETURN(Node * child, GetNode(e.ino));
  SHARDFS_TRY(txn->RemoveEntry(parent, name));
  SHARDFS_TRY(DropLink(*txn, parent, child));
  SHARDFS_TRY(TouchDir(*txn, dir, Now(), /*links_changed=*/directory));
  SHARDFS_TRY(txn->Commit());
  MaybeDelete(e.ino);
  return util::Ok();
}

bool CoreFs::IsAncestor(uint64_t maybe_ancestor, uint64_t dir) {
  for (uint64_t cur = dir, steps = 0; steps < 100000; ++steps) {
    if (cur == maybe_ancestor) return true;
    if (cur == kRootIno) return false;
    auto n = GetNode(cur);
    if (!n.ok()) return false;
    cur = (*n)->rec.parent;
  }
  return false;
}

Status CoreFs::Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                      std::string_view new_name, uint32_t flags) {
  util::MutexLock lock(mu_);
  if (read_only_) return ReadOnlyError();
  if ((flags & kRenameExchange) && (flags & kRenameNoReplace)) {
    return MakeError(Errc::kInvalid, "RENAME_EXCHANGE with RENAME_NOREPLACE");
  }
  SHARDFS_TRY(CheckName(name));
  SHARDFS_TRY(CheckName(new_name));
  SHARDFS_ASSIGN_OR_RETURN(Node * from_dir, GetDir(parent));
  SHARDFS_ASSIGN_OR_RETURN(Node * to_dir, GetDir(new_parent));
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
  SHARDFS_ASSIGN_OR_RETURN(DirentValue src, txn->LookupEntry(parent, name));
  auto dst = txn->LookupEntry(new_parent, new_name);
  if (!dst.ok() && dst.code() != Errc::kNotFound) return dst.error();
  const bool src_dir = src.type == S_IFDIR;
  const bool dst_dir = dst.ok() && dst->type == S_IFDIR;
  if (src_dir && parent != new_parent && IsAncestor(src.ino, new_parent)) {
    return MakeError(Errc::kInvalidOp, "cannot move a directory into itself");
  }
  if (dst_dir && dst.ok() && parent != new_parent && IsAncestor(dst->ino, parent) &&
      (flags & kRenameExchange)) {
    return MakeError(Errc::kInvalidOp, "cannot move a directory into itself");
  }
  SHARDFS_ASSIGN_OR_RETURN(Node * src_node, GetNode(src.ino));
  const Timespec now = Now();

  if (flags & kRenameExchange) {
    if (!dst.ok()) return MakeError(Errc::kNotFound, "nothing to exchange with");
    SHARDFS_ASSIGN_OR_RETURN(Node * dst_node, GetNode(dst->ino));
    SHARDFS_TRY(txn->RemoveEntry(parent, name));
    SHARDFS_TRY(txn->RemoveEntry(new_parent, new_name));
    SHARDFS_TRY(txn->AddEntry(parent, name, dst->ino, dst->type));
    SHARDFS_TRY(txn->AddEntry(new_parent, new_name, src.ino, src.type));
    if (parent != new_parent && src_dir != dst_dir) {
      if (src_dir) {
        from_dir->rec.nlink--;
        to_dir->rec.nlink++;
      } else {
        from_dir->rec.nlink++;
        to_dir->rec.nlink--;
      }
    }
    if (src_dir) src_node->rec.parent = new_parent;
    if (dst_dir) dst_node->rec.parent = parent;
    src_node->rec.ctime = dst_node->rec.ctime = now;
    SHARDFS_TRY(SaveNode(*txn, dst_node));
  } else {
    if (dst.ok()) {
      if (flags & kRenameNoReplace) return MakeError(Errc::kExists, "the target exists");
      if (dst->ino == src.ino) return util::Ok();  // two links to one inode: nothing to do
      if (src_dir && !dst_dir) return MakeError(Errc::kNotDir, "target is not a directory");
      if (!src_dir && dst_dir) return MakeError(Errc::kIsDir, "target is a directory");
      if (dst_dir) {
        SHARDFS_ASSIGN_OR_RETURN(bool empty, txn->DirIsEmpty(dst->ino));
        if (!empty) return MakeError(Errc::kNotEmpty, "target directory not empty");
      }
      SHARDFS_ASSIGN_OR_RETURN(Node * victim, GetNode(dst->ino));
      SHARDFS_TRY(txn->RemoveEntry(new_parent, new_name));
      SHARDFS_TRY(DropLink(*txn, new_parent, victim));
    }
    SHARDFS_TRY(txn->RemoveEntry(parent, name));
    SHARDFS_TRY(txn->AddEntry(new_parent, new_name, src.ino, src.type));
    if (src_dir && parent != new_parent) {
      from_dir->rec.nlink--;
      to_dir->rec.nlink++;
      src_node->rec.parent = new_parent;
    }
    src_node->rec.ctime = now;
  }
  from_dir->rec.mtime = from_dir->rec.ctime = now;
  to_dir->rec.mtime = to_dir->rec.ctime = now;
  SHARDFS_TRY(SaveNode(*txn, src_node));
  SHARDFS_TRY(SaveNode(*txn, from_dir));
  if (to_dir != from_dir) SHARDFS_TRY(SaveNode(*txn, to_dir));
  SHARDFS_TRY(txn->Commit());
  if (dst.ok() && !(flags & kRenameExchange)) MaybeDelete(dst->ino);
  return util::Ok();
}

Result<Attr> CoreFs::Link(uint64_t ino, uint64_t new_parent, std::string_view new_name) {
  util::MutexLock lock(mu_);
  if (read_only_) return ReadOnlyError();
  SHARDFS_TRY(CheckName(new_name));
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  if (S_ISDIR(n->rec.mode)) return MakeError(Errc::kPermission, "hard links to directories");
  if (n->rec.nlink == 0) return MakeError(Errc::kNotFound, "the file was removed");
  if (n->rec.nlink >= kMaxLinks) return MakeError(Errc::kTooManyLinks, "too many links");
  SHARDFS_ASSIGN_OR_RETURN(Node * dir, GetDir(new_parent));
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
  SHARDFS_TRY(txn->AddEntry(new_parent, new_name, ino, n->rec.mode & S_IFMT));
  const Timespec now = Now();
  n->rec.nlink++;
  n->rec.ctime = now;
  dir->rec.mtime = dir->rec.ctime = now;
  SHARDFS_TRY(SaveNode(*txn, n));
  SHARDFS_TRY(SaveNode(*txn, dir));
  SHARDFS_TRY(txn->Commit());
  return Referenced(n);
}

}  // namespace shardfs::core
