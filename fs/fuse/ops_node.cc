// The node operations: names, attributes, links, extended attributes, statfs, access.
#include <sys/statvfs.h>
#include <sys/xattr.h>

#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fs/fuse/request.h"
#include "fs/fuse/uring_transport.h"

namespace shardfs::fuse::internal {

namespace {

using core::Attr;
using core::Filesystem;
using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

core::Timespec FromTimespec(const timespec& t) {
  return {static_cast<int64_t>(t.tv_sec), static_cast<uint32_t>(t.tv_nsec)};
}

core::SetAttr DecodeSetAttr(const struct stat& in, int to_set, const fuse_file_info* fi) {
  core::SetAttr change;
  // The kernel sends the whole st_mode; only the permission bits can change.
  if (to_set & FUSE_SET_ATTR_MODE) change.mode = in.st_mode & 07777;
  if (to_set & FUSE_SET_ATTR_UID) change.uid = in.st_uid;
  if (to_set & FUSE_SET_ATTR_GID) change.gid = in.st_gid;
  if (to_set & FUSE_SET_ATTR_SIZE) change.size = static_cast<uint64_t>(in.st_size);
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    change.atime_now = true;
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    change.atime = FromTimespec(in.st_atim);
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    change.mtime_now = true;
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    change.mtime = FromTimespec(in.st_mtim);
  }
  if (to_set & FUSE_SET_ATTR_CTIME) change.ctime = FromTimespec(in.st_ctim);
  if (fi != nullptr) change.fh = fi->fh;  // ftruncate, futimens...
  return change;
}

Result<uint32_t> DecodeRenameFlags(unsigned int flags) {
  if ((flags & ~static_cast<unsigned int>(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0) {
    return MakeError(Errc::kInvalid, fmt::format("rename flags {:#x} are not supported", flags));
  }
  uint32_t out = 0;
  if (flags & RENAME_NOREPLACE) out |= core::kRenameNoReplace;
  if (flags & RENAME_EXCHANGE) out |= core::kRenameExchange;
  return out;
}

Result<int> DecodeXattrFlags(int flags) {
  if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) != 0) {
    return MakeError(Errc::kInvalid, fmt::format("setxattr flags {:#x} are not supported", flags));
  }
  int out = 0;
  if (flags & XATTR_CREATE) out |= core::kXattrCreate;
  if (flags & XATTR_REPLACE) out |= core::kXattrReplace;
  return out;
}

// getxattr/listxattr: size 0 asks how big the value is; a smaller buffer is ERANGE.
void ReplyXattr(fuse_req_t req, size_t size, const void* data, size_t length) noexcept {
  if (size == 0) {
    fuse_reply_xattr(req, length);
  } else if (length > size) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, static_cast<const char*>(data), length);
  }
}

struct statvfs ToStatvfs(const core::FsStats& s) {
  struct statvfs out {};
  const uint64_t bsize = s.block_size != 0 ? s.block_size : 4096;
  out.f_bsize = bsize;
  out.f_frsize = bsize;
  out.f_blocks = s.total_bytes / bsize;
  out.f_bfree = s.free_bytes / bsize;
  out.f_bavail = s.available_bytes / bsize;
  out.f_files = s.files;
  out.f_ffree = s.free_files;
  out.f_favail = s.free_files;
  out.f_namemax = s.name_max;
  return out;
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Serve(
      req, "lookup", parent,
      [&](Filesystem& fs) -> Result<Attr> {
        auto attr = fs.Lookup(parent, name);
        if (!attr.ok() && attr.code() == Errc::kNotFound) return Attr{};  // negative entry
        return attr;
      },
      ReplyEntryFn(req));
}

void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  ForgetQuietly(AdapterOf(req).fs, ino, nlookup);
  fuse_reply_none(req);
}

void ForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  Filesystem& fs = AdapterOf(req).fs;
  for (size_t i = 0; i < count; ++i) ForgetQuietly(fs, forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* /*fi*/) {
  Serve(
      req, "getattr", ino, [&](Filesystem& fs) { return fs.GetAttr(ino); }, ReplyAttr(req));
}

void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  Serve(
      req, "setattr", ino,
      [&](Filesystem& fs) {
        const int owner_bits = FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID;
        core::SetAttr change = DecodeSetAttr(*attr, to_set, fi);
        change.kill_setid = RequestKillsSetIdBits();
        return fs.SetAttributes(ino, change, CallerOf(req, (to_set & owner_bits) != 0));
      },
      ReplyAttr(req));
}

void Readlink(fuse_req_t req, fuse_ino_t ino) {
  Serve(
      req, "readlink", ino, [&](Filesystem& fs) { return fs.Readlink(ino); },
      [req](const Result<std::string>& target) noexcept {
        fuse_reply_readlink(req, target->c_str());
      });
}

void Mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  Serve(
      req, "mknod", parent,
      [&](Filesystem& fs) {
        return fs.Mknod(parent, name, mode, rdev, CallerOf(req, CreateNeedsGroups(mode)));
      },
      ReplyEntryFn(req));
}

void Mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Serve(
      req, "mkdir", parent,
      [&](Filesystem& fs) {
        return fs.Mkdir(parent, name, mode, CallerOf(req, CreateNeedsGroups(mode)));
      },
      ReplyEntryFn(req));
}

void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Serve(
      req, "unlink", parent, [&](Filesystem& fs) { return fs.Unlink(parent, name); }, ReplyOk(req));
}

void Rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Serve(
      req, "rmdir", parent, [&](Filesystem& fs) { return fs.Rmdir(parent, name); }, ReplyOk(req));
}

void Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  Serve(
      req, "symlink", parent,
      [&](Filesystem& fs) { return fs.Symlink(parent, name, target, CallerOf(req, false)); },
      ReplyEntryFn(req));
}

void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
            const char* new_name, unsigned int flags) {
  Serve(
      req, "rename", parent,
      [&](Filesystem& fs) -> Status {
        SHARDFS_ASSIGN_OR_RETURN(uint32_t core_flags, DecodeRenameFlags(flags));
        return fs.Rename(parent, name, new_parent, new_name, core_flags);
      },
      ReplyOk(req));
}

void Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
  Serve(
      req, "link", ino, [&](Filesystem& fs) { return fs.Link(ino, new_parent, new_name); },
      ReplyEntryFn(req));
}

void Access(fuse_req_t req, fuse_ino_t ino, int mask) {
  Serve(
      req, "access", ino, [&](Filesystem& fs) { return fs.Access(ino, mask, CallerOf(req, true)); },
      ReplyOk(req));
}

void StatFs(fuse_req_t req, fuse_ino_t ino) {
  Serve(
      req, "statfs", ino, [&](Filesystem& fs) { return fs.StatFs(); },
      [req](const Result<core::FsStats>& stats) noexcept {
        struct statvfs out = ToStatvfs(*stats);
        fuse_reply_statfs(req, &out);
      });
}

void SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags) {
  Serve(
      req, "setxattr", ino,
      [&](Filesystem& fs) -> Status {
        SHARDFS_ASSIGN_OR_RETURN(int core_flags, DecodeXattrFlags(flags));
        return fs.SetXattr(ino, name, util::AsBytes(std::string_view(value, size)), core_flags);
      },
      ReplyOk(req));
}

void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Serve(
      req, "getxattr", ino, [&](Filesystem& fs) { return fs.GetXattr(ino, name); },
      [req, size](const Result<util::Bytes>& value) noexcept {
        ReplyXattr(req, size, value->data(), value->size());
      });
}

void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Serve(
      req, "listxattr", ino,
      [&](Filesystem& fs) -> Result<std::string> {
        SHARDFS_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListXattr(ino));
        std::string list;  // each name followed by a NUL, as listxattr(2) returns them
        for (const std::string& n : names) {
          list += n;
          list.push_back('\0');
        }
        return list;
      },
      [req, size](const Result<std::string>& list) noexcept {
        ReplyXattr(req, size, list->data(), list->size());
      });
}

void RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Serve(
      req, "removexattr", ino, [&](Filesystem& fs) { return fs.RemoveXattr(ino, name); },
      ReplyOk(req));
}

}  // namespace

void AddNodeOps(fuse_lowlevel_ops& ops) {
  ops.lookup = Lookup;
  ops.forget = Forget;
  ops.forget_multi = ForgetMulti;
  ops.getattr = GetAttr;
  ops.setattr = SetAttr;
  ops.readlink = Readlink;
  ops.mknod = Mknod;
  ops.mkdir = Mkdir;
  ops.unlink = Unlink;
  ops.rmdir = Rmdir;
  ops.symlink = Symlink;
  ops.rename = Rename;
  ops.link = Link;
  ops.access = Access;
  ops.statfs = StatFs;
  ops.setxattr = SetXattr;
  ops.getxattr = GetXattr;
  ops.listxattr = ListXattr;
  ops.removexattr = RemoveXattr;
}

}  // namespace shardfs::fuse::internal
