// The data operations: open files (open, create, read, write, release, fsync, fallocate,
// copy_file_range) and directories (opendir, readdir, readdirplus, releasedir, fsyncdir).
#include <fcntl.h>
#include <linux/falloc.h>

#include <memory>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fs/fuse/request.h"
#include "fs/fuse/uring_transport.h"

namespace shardfs::fuse::internal {

namespace {

using core::Filesystem;
using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

// The smallest record fuse_add_direntry_plus writes: fuse_entry_out (128 bytes), the dirent
// header (24) and a name padded to 8.
constexpr size_t kMinDirentPlusSize = 160;

int OpenFlags(const Adapter& adapter, int flags) {
  if (adapter.writeback_active.load(std::memory_order_relaxed)) {
    // The kernel fills its page cache by reading, even through a write-only descriptor...
    if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
    // ...and it computes O_APPEND offsets itself: the core writes where it is told.
    flags &= ~O_APPEND;
  }
  return flags;
}

Result<int> DecodeFallocateMode(int mode) {
  switch (mode) {
    case 0:
      return 0;
    case FALLOC_FL_KEEP_SIZE:
      return core::kFallocKeepSize;
    case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
      return core::kFallocPunchHole | core::kFallocKeepSize;
    default:
      return MakeError(Errc::kUnsupported,
                       fmt::format("fallocate mode {:#x} is not supported", mode));
  }
}

util::ByteSpan BytesOf(const char* data, size_t size) {
  return {reinterpret_cast<const uint8_t*>(data), size};
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Filesystem& fs = AdapterOf(req).fs;
  Serve(
      req, "open", ino,
      [&](Filesystem& f) -> Result<uint64_t> {
        SHARDFS_TRY(KillSetIdBitsIfAsked(f, req, ino));
        return f.Open(ino, OpenFlags(AdapterOf(req), fi->flags));
      },
      [&](const Result<uint64_t>& fh) noexcept {
        fi->fh = *fh;
        fi->keep_cache = 1;  // the drive has one writer, this mount: cached pages stay valid
        if (fuse_reply_open(req, fi) != 0) ReleaseQuietly(fs, ino, *fh);
      });
}

void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  Adapter& adapter = AdapterOf(req);
  Serve(
      req, "create", parent,
      [&](Filesystem& fs) -> Result<Filesystem::Created> {
        const bool kill = RequestKillsSetIdBits();
        SHARDFS_ASSIGN_OR_RETURN(Filesystem::Created c,
                                 fs.Create(parent, name, mode, OpenFlags(adapter, fi->flags),
                                           CallerOf(req, CreateNeedsGroups(mode))));
        if (kill) {
          // An existing file opened with O_TRUNC through create.
          core::SetAttr k;
          k.kill_setid = true;
          auto attr = fs.SetAttributes(c.attr.ino, k, CallerOf(req, false));
          if (!attr.ok()) {
            ReleaseQuietly(fs, c.attr.ino, c.fh);
            ForgetQuietly(fs, c.attr.ino, 1);
            return attr.error();
          }
          c.attr = *attr;
        }
        return c;
      },
      [&](const Result<Filesystem::Created>& created) noexcept {
        fi->fh = created->fh;
        fi->keep_cache = 1;
        fuse_entry_param e = EntryParam(adapter.config, created->attr);
        if (fuse_reply_create(req, &e, fi) != 0) {
          ForgetQuietly(adapter.fs, created->attr.ino, 1);
          ReleaseQuietly(adapter.fs, created->attr.ino, created->fh);
        }
      });
}

void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  std::unique_ptr<uint8_t[]> buf;
  Serve(
      req, "read", ino,
      [&](Filesystem& fs) {
        buf = std::make_unique_for_overwrite<uint8_t[]>(size);
        return fs.Read(ino, fi->fh, static_cast<uint64_t>(off),
                       util::MutableByteSpan(buf.get(), size));
      },
      [&](const Result<size_t>& n) noexcept {
        fuse_reply_buf(req, reinterpret_cast<const char*>(buf.get()), *n);
      });
}

void Write(fuse_req_t req, fuse_ino_t ino, const char* data, size_t size, off_t off,
           fuse_file_info* fi) {
  Serve(
      req, "write", ino,
      [&](Filesystem& fs) -> Result<size_t> {
        SHARDFS_TRY(KillSetIdBitsIfAsked(fs, req, ino));
        return fs.Write(ino, fi->fh, static_cast<uint64_t>(off), BytesOf(data, size));
      },
      [req](const Result<size_t>& n) noexcept { fuse_reply_write(req, *n); });
}

void Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Serve(
      req, "release", ino, [&](Filesystem& fs) { return fs.Release(ino, fi->fh); }, ReplyOk(req));
}

void Fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  Serve(
      req, "fsync", ino, [&](Filesystem& fs) { return fs.Fsync(ino, fi->fh, datasync != 0); },
      ReplyOk(req));
}

void Fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
               fuse_file_info* fi) {
  Serve(
      req, "fallocate", ino,
      [&](Filesystem& fs) -> Status {
        SHARDFS_ASSIGN_OR_RETURN(int core_mode, DecodeFallocateMode(mode));
        if (offset < 0 || length <= 0) {
          return MakeError(Errc::kInvalid, "fallocate needs offset >= 0 and length > 0");
        }
        // Every mode modifies the file (Linux's file_modified), and no flag says who asks.
        SHARDFS_TRY(KillSetIdBitsUnlessPrivileged(fs, req, ino));
        return fs.Fallocate(ino, fi->fh, core_mode, static_cast<uint64_t>(offset),
                            static_cast<uint64_t>(length));
      },
      ReplyOk(req));
}

void CopyFileRange(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, fuse_file_info* fi_in,
                   fuse_ino_t ino_out, off_t off_out, fuse_file_info* fi_out, size_t len,
                   int flags) {
  Serve(
      req, "copy_file_range", ino_in,
      [&](Filesystem& fs) -> Result<size_t> {
        if (flags != 0) {
          return MakeError(Errc::kInvalid,
                           fmt::format("copy_file_range flags {:#x} are not supported", flags));
        }
        SHARDFS_TRY(KillSetIdBitsUnlessPrivileged(fs, req, ino_out));
        return fs.CopyFileRange(ino_in, fi_in->fh, static_cast<uint64_t>(off_in), ino_out,
                                fi_out->fh, static_cast<uint64_t>(off_out), len);
      },
      [req](const Result<size_t>& n) noexcept { fuse_reply_write(req, *n); });
}

void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Filesystem& fs = AdapterOf(req).fs;
  Serve(
      req, "opendir", ino, [&](Filesystem& f) { return f.OpenDir(ino); },
      [&](const Result<uint64_t>& fh) noexcept {
        fi->fh = *fh;
        if (fuse_reply_open(req, fi) != 0) ReleaseDirQuietly(fs, ino, *fh);
      });
}

// One readdir reply being filled. `counted` holds the inodes whose lookup reference the core
// took for entries in `buf` (readdirplus): if the reply never reaches the kernel, they are
// forgotten again when this goes out of scope.
struct DirReply {
  explicit DirReply(Filesystem& filesystem) : fs(filesystem) {}
  ~DirReply() {
    for (uint64_t ino : counted) ForgetQuietly(fs, ino, 1);
  }
  DirReply(const DirReply&) = delete;
  DirReply& operator=(const DirReply&) = delete;

  Filesystem& fs;
  std::unique_ptr<char[]> buf;
  size_t size = 0;
  size_t used = 0;
  std::vector<uint64_t> counted;
};

// Adds one entry; false when it does not fit, before the core counts it as returned.
bool AddEntry(fuse_req_t req, const AdapterConfig& config, const core::DirEntry& entry, bool plus,
              DirReply& out) {
  char* at = out.buf.get() + out.used;
  const size_t room = out.size - out.used;
  const bool dots = entry.name == "." || entry.name == "..";
  // The kernel takes a lookup reference for each plus entry but "." and "..", and those with
  // ino 0 — exactly the ones the core counts (fs/core/filesystem.h).
  const bool counts = plus && !dots && entry.ino != 0;
  size_t need = 0;
  if (plus) {
    fuse_entry_param e{};
    if (counts) {
      e = EntryParam(config, entry.attr);
      e.ino = entry.ino;
    } else {
      e.attr.st_ino = entry.ino;
      e.attr.st_mode = entry.type;
    }
    need = fuse_add_direntry_plus(req, at, room, entry.name.c_str(), &e,
                                  static_cast<off_t>(entry.offset));
  } else {
    struct stat st {};
    st.st_ino = entry.ino;
    st.st_mode = entry.type;
    need =
        fuse_add_direntry(req, at, room, entry.name.c_str(), &st, static_cast<off_t>(entry.offset));
  }
  if (need > room) return false;
  if (counts) {
    try {
      out.counted.push_back(entry.ino);
    } catch (...) {
      return false;  // not taken: the entry comes again in the next call
    }
  }
  out.used += need;
  return true;
}

void ReadDirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
                   bool plus) {
  Adapter& adapter = AdapterOf(req);
  const char* op = plus ? "readdirplus" : "readdir";
  DirReply out(adapter.fs);
  Serve(
      req, op, ino,
      [&](Filesystem& fs) -> Status {
        out.buf = std::make_unique_for_overwrite<char[]>(size);
        out.size = size;
        if (plus) out.counted.reserve(size / kMinDirentPlusSize + 1);
        Status status = fs.ReadDir(
            ino, fi->fh, static_cast<uint64_t>(off), plus,
            [&](const core::DirEntry& e) { return AddEntry(req, adapter.config, e, plus, out); });
        if (!status.ok() && out.used > 0) {
          // Return what was listed; the next call starts after it and meets the error again.
          ErrnoForReply(op, ino, status.error());
          return util::Ok();
        }
        return status;
      },
      [&](const Status&) noexcept {
        if (fuse_reply_buf(req, out.buf.get(), out.used) == 0) out.counted.clear();
      });
}

void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, false);
}

void ReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, true);
}

void ReleaseDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Serve(
      req, "releasedir", ino, [&](Filesystem& fs) { return fs.ReleaseDir(ino, fi->fh); },
      ReplyOk(req));
}

void FsyncDir(fuse_req_t req, fuse_ino_t ino, int /*datasync*/, fuse_file_info* fi) {
  Serve(
      req, "fsyncdir", ino, [&](Filesystem& fs) { return fs.FsyncDir(ino, fi->fh); }, ReplyOk(req));
}

}  // namespace

void AddDataOps(fuse_lowlevel_ops& ops) {
  ops.open = Open;
  ops.create = Create;
  ops.read = Read;
  ops.write = Write;
  // No flush: its ENOSYS makes the kernel stop sending FLUSH, which saves every close(2) a
  // round trip (and the seal, which RELEASE does after close has returned). The kernel still
  // writes a file's dirty pages before close returns; locks are the kernel's own.
  ops.release = Release;
  ops.fsync = Fsync;
  ops.fallocate = Fallocate;
  ops.copy_file_range = CopyFileRange;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.readdirplus = ReadDirPlus;
  ops.releasedir = ReleaseDir;
  ops.fsyncdir = FsyncDir;
}

}  // namespace shardfs::fuse::internal
