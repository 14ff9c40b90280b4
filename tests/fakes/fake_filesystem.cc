#include "tests/fakes/fake_filesystem.h"

#include <fcntl.h>

#include <algorithm>
#include <cstring>

namespace shardfs::fuse::testing {

using core::Attr;
using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

FakeFilesystem::FakeFilesystem() {
  Node root;
  root.attr.ino = core::kRootIno;
  root.attr.mode = S_IFDIR | 0777;
  root.attr.nlink = 2;
  root.attr.blksize = 4096;
  root.parent = core::kRootIno;
  nodes_[core::kRootIno] = std::move(root);
}

uint64_t FakeFilesystem::OutstandingLookups() const {
  std::lock_guard lock(mu_);
  uint64_t total = 0;
  for (auto [ino, n] : lookups_) total += ino == core::kRootIno ? 0 : n;
  return total;
}

Result<FakeFilesystem::Node*> FakeFilesystem::Find(uint64_t ino) {
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return MakeError(Errc::kNotFound, "no such inode");
  return &it->second;
}

Result<FakeFilesystem::Node*> FakeFilesystem::FindDir(uint64_t ino) {
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  if (!S_ISDIR(node->attr.mode)) return MakeError(Errc::kNotDir, "not a directory");
  return node;
}

Result<Attr> FakeFilesystem::AddNode(uint64_t parent, std::string_view name, uint32_t mode,
                                     const core::Caller& caller) {
  SHARDFS_ASSIGN_OR_RETURN(Node * dir, FindDir(parent));
  if (name.size() > core::kMaxNameLength) return MakeError(Errc::kNameTooLong, "name too long");
  if (dir->children.contains(name)) return MakeError(Errc::kExists, "exists");
  Node node;
  node.attr.ino = next_ino_++;
  node.attr.mode = (mode & S_IFMT) | (mode & 07777 & ~caller.umask);
  node.attr.nlink = S_ISDIR(mode) ? 2 : 1;
  node.attr.uid = caller.uid;
  node.attr.gid = caller.gid;
  node.attr.blksize = 4096;
  node.parent = parent;
  node.name = name;
  if (S_ISDIR(mode)) ++dir->attr.nlink;
  AddName(*dir, name, node.attr.ino);
  Attr attr = node.attr;
  nodes_[attr.ino] = std::move(node);
  ++lookups_[attr.ino];
  return attr;
}

void FakeFilesystem::AddName(Node& dir, std::string_view name, uint64_t ino) {
  dir.children[std::string(name)] = ino;
  dir.slots[dir.next_slot] = std::string(name);
  dir.slot_of[std::string(name)] = dir.next_slot++;
}

void FakeFilesystem::RemoveName(Node& dir, std::string_view name) {
  auto slot = dir.slot_of.find(name);
  if (slot != dir.slot_of.end()) {
    dir.slots.erase(slot->second);
    dir.slot_of.erase(slot);
  }
  auto it = dir.children.find(name);
  if (it != dir.children.end()) dir.children.erase(it);
}

void FakeFilesystem::DropLink(uint64_t ino) {
  Node& node = nodes_[ino];
  if (S_ISDIR(node.attr.mode)) {
    node.attr.nlink = 0;
    --nodes_[node.parent].attr.nlink;
  } else if (node.attr.nlink > 0) {
    --node.attr.nlink;
  }
  MaybeDelete(ino);
}

void FakeFilesystem::MaybeDelete(uint64_t ino) {
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || ino == core::kRootIno) return;
  if (it->second.attr.nlink > 0 || it->second.opens > 0 || lookups_[ino] > 0) return;
  nodes_.erase(it);
  lookups_.erase(ino);
}

bool FakeFilesystem::IsAncestor(uint64_t maybe_ancestor, uint64_t dir) {
  for (uint64_t at = dir;; at = nodes_[at].parent) {
    if (at == maybe_ancestor) return true;
    if (at == core::kRootIno) return false;
  }
}

Result<Attr> FakeFilesystem::Lookup(uint64_t parent, std::string_view name) {
  std::lock_guard lock(mu_);
  if (name == ".") {
    SHARDFS_ASSIGN_OR_RETURN(Node * self, Find(parent));
    ++lookups_[parent];
    return self->attr;
  }
  SHARDFS_ASSIGN_OR_RETURN(Node * dir, FindDir(parent));
  if (name == "..") {
    ++lookups_[dir->parent];
    return nodes_[dir->parent].attr;
  }
  auto it = dir->children.find(name);
  if (it == dir->children.end()) return MakeError(Errc::kNotFound, "no such name");
  ++lookups_[it->second];
  return nodes_[it->second].attr;
}

void FakeFilesystem::Forget(uint64_t ino, uint64_t nlookup) {
  std::lock_guard lock(mu_);
  uint64_t& n = lookups_[ino];
  n -= std::min(n, nlookup);
  MaybeDelete(ino);
}

Result<Attr> FakeFilesystem::GetAttr(uint64_t ino) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  return node->attr;
}

Result<Attr> FakeFilesystem::SetAttributes(uint64_t ino, const core::SetAttr& change,
                                           const core::Caller&) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  if (change.kill_setid) {
    kill_setid_calls_++;
    node->attr.mode &= ~static_cast<uint32_t>(S_ISUID);
    if (node->attr.mode & S_IXGRP) node->attr.mode &= ~static_cast<uint32_t>(S_ISGID);
  }
  if (change.mode) node->attr.mode = (node->attr.mode & S_IFMT) | (*change.mode & 07777);
  if (change.uid) node->attr.uid = *change.uid;
  if (change.gid) node->attr.gid = *change.gid;
  if (change.size) {
    node->data.resize(*change.size);
    node->attr.size = *change.size;
  }
  if (change.atime) node->attr.atime = *change.atime;
  if (change.mtime) node->attr.mtime = *change.mtime;
  return node->attr;
}

Status FakeFilesystem::Access(uint64_t, int, const core::Caller&) { return util::Ok(); }

Result<Attr> FakeFilesystem::Mknod(uint64_t parent, std::string_view name, uint32_t mode, uint64_t,
                                   const core::Caller& caller) {
  if (!S_ISREG(mode)) return MakeError(Errc::kUnsupported, "only regular files");
  std::lock_guard lock(mu_);
  return AddNode(parent, name, mode, caller);
}

Result<Attr> FakeFilesystem::Mkdir(uint64_t parent, std::string_view name, uint32_t mode,
                                   const core::Caller& caller) {
  std::lock_guard lock(mu_);
  return AddNode(parent, name, S_IFDIR | (mode & 07777), caller);
}

Result<Attr> FakeFilesystem::Symlink(uint64_t parent, std::string_view name,
                                     std::string_view target, const core::Caller& caller) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Attr attr, AddNode(parent, name, S_IFLNK | 0777, caller));
  Node& node = nodes_[attr.ino];
  node.data = target;
  node.attr.size = target.size();
  return node.attr;
}

Result<std::string> FakeFilesystem::Readlink(uint64_t ino) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  if (!S_ISLNK(node->attr.mode)) return MakeError(Errc::kInvalidOp, "not a symlink");
  return node->data;
}

Status FakeFilesystem::Unlink(uint64_t parent, std::string_view name) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * dir, FindDir(parent));
  auto it = dir->children.find(name);
  if (it == dir->children.end()) return MakeError(Errc::kNotFound, "no such name");
  const uint64_t ino = it->second;
  if (S_ISDIR(nodes_[ino].attr.mode)) return MakeError(Errc::kIsDir, "a directory");
  RemoveName(*dir, name);
  DropLink(ino);
  return util::Ok();
}

Status FakeFilesystem::Rmdir(uint64_t parent, std::string_view name) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * dir, FindDir(parent));
  auto it = dir->children.find(name);
  if (it == dir->children.end()) return MakeError(Errc::kNotFound, "no such name");
  const uint64_t ino = it->second;
  Node& node = nodes_[ino];
  if (!S_ISDIR(node.attr.mode)) return MakeError(Errc::kNotDir, "not a directory");
  if (!node.children.empty()) return MakeError(Errc::kNotEmpty, "not empty");
  RemoveName(*dir, name);
  DropLink(ino);
  return util::Ok();
}

Status FakeFilesystem::Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                              std::string_view new_name, uint32_t flags) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * from, FindDir(parent));
  SHARDFS_ASSIGN_OR_RETURN(Node * to, FindDir(new_parent));
  auto src = from->children.find(name);
  if (src == from->children.end()) return MakeError(Errc::kNotFound, "no such name");
  const uint64_t moving = src->second;
  if (from == to && name == new_name) return util::Ok();
  const bool moving_dir = S_ISDIR(nodes_[moving].attr.mode);
  if (moving_dir && IsAncestor(moving, new_parent)) {
    return MakeError(Errc::kInvalidOp, "a directory cannot move into itself");
  }
  auto dst = to->children.find(new_name);
  const std::string from_name(name), to_name(new_name);
  if (flags & core::kRenameExchange) {
    if (dst == to->children.end()) return MakeError(Errc::kNotFound, "no target");
    const uint64_t other = dst->second;
    if (S_ISDIR(nodes_[other].attr.mode) && IsAncestor(other, parent)) {
      return MakeError(Errc::kInvalidOp, "a directory cannot move into itself");
    }
    from->children[from_name] = other;
    to->children[to_name] = moving;
    for (auto [ino, dir] : {std::pair{moving, new_parent}, std::pair{other, parent}}) {
      Node& n = nodes_[ino];
      if (!S_ISDIR(n.attr.mode) || n.parent == dir) continue;
      --nodes_[n.parent].attr.nlink;
      n.parent = dir;
      ++nodes_[dir].attr.nlink;
    }
    return util::Ok();
  }
  if (dst != to->children.end()) {
    if (flags & core::kRenameNoReplace) return MakeError(Errc::kExists, "target exists");
    const uint64_t replaced = dst->second;
    Node& old = nodes_[replaced];
    if (S_ISDIR(old.attr.mode) && !moving_dir) return MakeError(Errc::kIsDir, "target is a dir");
    if (!S_ISDIR(old.attr.mode) && moving_dir) return MakeError(Errc::kNotDir, "not a dir");
    if (S_ISDIR(old.attr.mode) && !old.children.empty()) {
      return MakeError(Errc::kNotEmpty, "target directory not empty");
    }
    RemoveName(*to, to_name);
    DropLink(replaced);
  }
  RemoveName(*from, from_name);
  AddName(*to, to_name, moving);
  Node& n = nodes_[moving];
  if (moving_dir && n.parent != new_parent) {
    --nodes_[n.parent].attr.nlink;
    n.parent = new_parent;
    ++nodes_[new_parent].attr.nlink;
  }
  return util::Ok();
}

Result<Attr> FakeFilesystem::Link(uint64_t ino, uint64_t new_parent, std::string_view new_name) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * dir, FindDir(new_parent));
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  if (S_ISDIR(node->attr.mode)) return MakeError(Errc::kPermission, "hard links to directories");
  if (dir->children.contains(new_name)) return MakeError(Errc::kExists, "exists");
  AddName(*dir, new_name, ino);
  ++node->attr.nlink;
  ++lookups_[ino];
  return node->attr;
}

Result<uint64_t> FakeFilesystem::Open(uint64_t ino, int flags) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  last_open_flags_ = flags;
  if (flags & O_TRUNC) {
    node->data.clear();
    node->attr.size = 0;
  }
  ++node->opens;
  handles_[next_fh_] = ino;
  return next_fh_++;
}

Result<FakeFilesystem::Created> FakeFilesystem::Create(uint64_t parent, std::string_view name,
                                                       uint32_t mode, int flags,
                                                       const core::Caller& caller) {
  std::lock_guard lock(mu_);
  last_open_flags_ = flags;
  SHARDFS_ASSIGN_OR_RETURN(Attr attr, AddNode(parent, name, S_IFREG | (mode & 07777), caller));
  ++nodes_[attr.ino].opens;
  handles_[next_fh_] = attr.ino;
  return Created{attr, next_fh_++};
}

Result<size_t> FakeFilesystem::Read(uint64_t ino, uint64_t, uint64_t offset,
                                    util::MutableByteSpan out) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  if (node->name == "corrupt") return MakeError(Errc::kCorrupt, "block failed authentication");
  if (offset >= node->data.size()) return size_t{0};
  size_t n = std::min(out.size(), node->data.size() - offset);
  std::memcpy(out.data(), node->data.data() + offset, n);
  return n;
}

Result<size_t> FakeFilesystem::Write(uint64_t ino, uint64_t, uint64_t offset, util::ByteSpan data) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  if (node->data.size() < offset + data.size()) node->data.resize(offset + data.size());
  std::memcpy(node->data.data() + offset, data.data(), data.size());
  node->attr.size = node->data.size();
  node->attr.blocks = (node->attr.size + 511) / 512;
  return data.size();
}

Status FakeFilesystem::Release(uint64_t ino, uint64_t fh) {
  std::lock_guard lock(mu_);
  if (handles_.erase(fh) == 0) return MakeError(Errc::kInvalid, "no such handle");
  auto it = nodes_.find(ino);
  if (it != nodes_.end() && it->second.opens > 0) --it->second.opens;
  MaybeDelete(ino);
  return util::Ok();
}
Status FakeFilesystem::Fsync(uint64_t, uint64_t, bool) { return util::Ok(); }

Status FakeFilesystem::Fallocate(uint64_t ino, uint64_t, int mode, uint64_t offset,
                                 uint64_t length) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  if (mode & core::kFallocPunchHole) {
    if (offset < node->data.size()) {
      const uint64_t end = std::min<uint64_t>(node->data.size(), offset + length);
      std::fill(node->data.begin() + static_cast<ptrdiff_t>(offset),
                node->data.begin() + static_cast<ptrdiff_t>(end), '\0');
    }
    return util::Ok();
  }
  if (!(mode & core::kFallocKeepSize) && node->data.size() < offset + length) {
    node->data.resize(offset + length);
    node->attr.size = node->data.size();
  }
  return util::Ok();
}

Result<size_t> FakeFilesystem::CopyFileRange(uint64_t ino_in, uint64_t, uint64_t off_in,
                                             uint64_t ino_out, uint64_t, uint64_t off_out,
                                             size_t length) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * in, Find(ino_in));
  SHARDFS_ASSIGN_OR_RETURN(Node * out, Find(ino_out));
  if (off_in >= in->data.size()) return size_t{0};
  const size_t n = std::min<size_t>(length, in->data.size() - off_in);
  const std::string bytes = in->data.substr(off_in, n);
  if (out->data.size() < off_out + n) out->data.resize(off_out + n);
  out->data.replace(off_out, n, bytes);
  out->attr.size = out->data.size();
  return n;
}

Result<uint64_t> FakeFilesystem::OpenDir(uint64_t ino) {
  std::lock_guard lock(mu_);
  SHARDFS_TRY(FindDir(ino));
  return next_fh_++;
}

Status FakeFilesystem::ReadDir(uint64_t ino, uint64_t, uint64_t offset, bool plus,
                               const std::function<bool(const core::DirEntry&)>& emit) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * dir, FindDir(ino));
  std::vector<core::DirEntry> entries;
  if (offset < 1) entries.push_back({".", ino, S_IFDIR, 1, dir->attr});
  if (offset < 2) entries.push_back({"..", dir->parent, S_IFDIR, 2, nodes_[dir->parent].attr});
  for (auto it = dir->slots.upper_bound(std::max<uint64_t>(offset, 2)); it != dir->slots.end();
       ++it) {
    const uint64_t child = dir->children.at(it->second);
    const Attr& attr = nodes_[child].attr;
    entries.push_back({it->second, child, attr.mode & S_IFMT, it->first, attr});
  }
  for (const core::DirEntry& e : entries) {
    if (!emit(e)) break;
    if (plus && e.name != "." && e.name != "..") ++lookups_[e.ino];
  }
  return util::Ok();
}

Status FakeFilesystem::ReleaseDir(uint64_t, uint64_t) { return util::Ok(); }
Status FakeFilesystem::FsyncDir(uint64_t, uint64_t) { return util::Ok(); }

Result<core::FsStats> FakeFilesystem::StatFs() {
  core::FsStats s;
  s.block_size = 4096;
  s.total_bytes = uint64_t{1} << 30;
  s.free_bytes = uint64_t{1} << 29;
  s.available_bytes = uint64_t{1} << 28;
  s.files = 1000;
  s.free_files = 900;
  return s;
}

Status FakeFilesystem::SetXattr(uint64_t ino, std::string_view name, util::ByteSpan value,
                                int flags) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  auto it = node->xattrs.find(name);
  if ((flags & core::kXattrCreate) && it != node->xattrs.end()) {
    return MakeError(Errc::kExists, "attribute exists");
  }
  if ((flags & core::kXattrReplace) && it == node->xattrs.end()) {
    return MakeError(Errc::kNoAttribute, "no such attribute");
  }
  node->xattrs[std::string(name)] = util::Bytes(value.begin(), value.end());
  return util::Ok();
}

Result<util::Bytes> FakeFilesystem::GetXattr(uint64_t ino, std::string_view name) {
  getxattr_calls_++;
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  auto it = node->xattrs.find(name);
  if (it == node->xattrs.end()) return MakeError(Errc::kNoAttribute, "no such attribute");
  return it->second;
}

Result<std::vector<std::string>> FakeFilesystem::ListXattr(uint64_t ino) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  std::vector<std::string> names;
  for (const auto& [name, value] : node->xattrs) names.push_back(name);
  return names;
}

Status FakeFilesystem::RemoveXattr(uint64_t ino, std::string_view name) {
  std::lock_guard lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * node, Find(ino));
  auto it = node->xattrs.find(name);
  if (it == node->xattrs.end()) return MakeError(Errc::kNoAttribute, "no such attribute");
  node->xattrs.erase(it);
  return util::Ok();
}

Status FakeFilesystem::Shutdown() {
  ++shutdown_calls_;
  return util::Ok();
}

}  // namespace shardfs::fuse::testing
