#include "fs/fuse/request.h"

#include <linux/capability.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "fs/fuse/errno_map.h"
#include "fs/fuse/uring_transport.h"

namespace shardfs::fuse::internal {

namespace {

timespec ToTimespec(const core::Timespec& t) {
  timespec out{};
  out.tv_sec = static_cast<time_t>(t.sec);
  out.tv_nsec = static_cast<long>(t.nsec);
  return out;
}

}  // namespace

struct stat ToStat(const AdapterConfig& config, const core::Attr& attr) {
  struct stat st {};
  st.st_ino = attr.ino;
  st.st_mode = attr.mode & ~static_cast<mode_t>(config.umask);
  st.st_nlink = attr.nlink;
  st.st_uid = config.uid.value_or(attr.uid);
  st.st_gid = config.gid.value_or(attr.gid);
  st.st_rdev = attr.rdev;
  st.st_size = static_cast<off_t>(attr.size);
  st.st_blocks = static_cast<blkcnt_t>(attr.blocks);
  st.st_blksize = static_cast<blksize_t>(attr.blksize);
  st.st_atim = ToTimespec(attr.atime);
  st.st_mtim = ToTimespec(attr.mtime);
  st.st_ctim = ToTimespec(attr.ctime);
  return st;
}

fuse_entry_param EntryParam(const AdapterConfig& config, const core::Attr& attr) {
  fuse_entry_param e{};
  e.ino = attr.ino;
  e.generation = 0;  // inode numbers are never reused
  if (attr.ino != 0) {
    e.attr = ToStat(config, attr);
    e.attr_timeout = config.attr_timeout;
  }
  e.entry_timeout = config.entry_timeout;
  return e;
}

core::Caller CallerOf(fuse_req_t req, bool with_groups) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  core::Caller caller;
  caller.uid = ctx->uid;
  caller.gid = ctx->gid;
  caller.umask = ctx->umask;
  if (!with_groups) return caller;
  std::array<gid_t, 64> small;
  int n = fuse_req_getgroups(req, static_cast<int>(small.size()), small.data());
  if (n < 0) {
    spdlog::debug("cannot read the supplementary groups of pid {}: {}", ctx->pid,
                  std::strerror(-n));
    return caller;
  }
  if (static_cast<size_t>(n) <= small.size()) {
    caller.groups.assign(small.begin(), small.begin() + n);
    return caller;
  }
  std::vector<gid_t> large(static_cast<size_t>(n));
  n = fuse_req_getgroups(req, n, large.data());
  if (n > 0) {
    caller.groups.assign(large.begin(), large.begin() + std::min<size_t>(n, large.size()));
  }
  return caller;
}

bool CallerHasFsetid(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  std::ifstream status("/proc/" + std::to_string(ctx->pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with("CapEff:")) continue;
    const uint64_t caps = std::strtoull(line.c_str() + 7, nullptr, 16);
    return (caps & (uint64_t{1} << CAP_FSETID)) != 0;
  }
  return false;
}

namespace {

// Set-id bits a modification by a caller without CAP_FSETID clears (should_remove_suid).
bool HasSetIdToKill(uint32_t mode) {
  return S_ISREG(mode) &&
         ((mode & S_ISUID) != 0 || (mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP));
}

// KillSetIdBits once the file is known to have bits to clear.
util::Status ClearSetIdBits(core::Filesystem& fs, fuse_req_t req, uint64_t ino) {
  core::SetAttr kill;
  kill.kill_setid = true;
  SHARDFS_TRY(fs.SetAttributes(ino, kill, CallerOf(req, false)));
  // Attributes only (offset < 0): no page is touched, so this never waits on a read.
  if (fuse_session* se = AdapterOf(req).session.load(); se != nullptr) {
    int rc = fuse_lowlevel_notify_inval_inode(se, ino, -1, 0);
    if (rc != 0 && rc != -ENOENT) {
      spdlog::debug("inode {}: the kernel was not told its mode changed: {}", ino,
                    std::strerror(-rc));
    }
  }
  return util::Ok();
}

}  // namespace

util::Status KillSetIdBits(core::Filesystem& fs, fuse_req_t req, uint64_t ino) {
  SHARDFS_ASSIGN_OR_RETURN(core::Attr attr, fs.GetAttr(ino));
  return HasSetIdToKill(attr.mode) ? ClearSetIdBits(fs, req, ino) : util::Ok();
}

util::Status KillSetIdBitsIfAsked(core::Filesystem& fs, fuse_req_t req, uint64_t ino) {
  return RequestKillsSetIdBits() ? KillSetIdBits(fs, req, ino) : util::Ok();
}

util::Status KillSetIdBitsUnlessPrivileged(core::Filesystem& fs, fuse_req_t req, uint64_t ino) {
  SHARDFS_ASSIGN_OR_RETURN(core::Attr attr, fs.GetAttr(ino));
  if (!HasSetIdToKill(attr.mode) || CallerHasFsetid(req)) return util::Ok();
  return ClearSetIdBits(fs, req, ino);
}

int ErrnoForReply(const char* op, uint64_t ino, const util::Error& error) {
  ErrorReply reply = MapError(error.code);
  spdlog::log(reply.level, "{} (inode {}): {} [{}]", op, ino, error.message,
              util::ErrcName(error.code));
  return reply.errno_value;
}

void LogException(const char* op, uint64_t ino, const char* what) {
  spdlog::error("{} (inode {}): unexpected exception: {}; replying EIO", op, ino, what);
}

void ForgetQuietly(core::Filesystem& fs, uint64_t ino, uint64_t nlookup) noexcept {
  try {
    fs.Forget(ino, nlookup);
  } catch (const std::exception& e) {
    LogException("forget", ino, e.what());
  } catch (...) {
    LogException("forget", ino, "unknown exception");
  }
}

void ReleaseQuietly(core::Filesystem& fs, uint64_t ino, uint64_t fh) noexcept {
  try {
    auto status = fs.Release(ino, fh);
    if (!status.ok()) ErrnoForReply("release", ino, status.error());
  } catch (const std::exception& e) {
    LogException("release", ino, e.what());
  } catch (...) {
    LogException("release", ino, "unknown exception");
  }
}

void ReleaseDirQuietly(core::Filesystem& fs, uint64_t ino, uint64_t fh) noexcept {
  try {
    auto status = fs.ReleaseDir(ino, fh);
    if (!status.ok()) ErrnoForReply("releasedir", ino, status.error());
  } catch (const std::exception& e) {
    LogException("releasedir", ino, e.what());
  } catch (...) {
    LogException("releasedir", ino, "unknown exception");
  }
}

void ReplyEntry(fuse_req_t req, const core::Attr& attr) noexcept {
  Adapter& adapter = AdapterOf(req);
  fuse_entry_param e = EntryParam(adapter.config, attr);
  if (fuse_reply_entry(req, &e) != 0 && attr.ino != 0) ForgetQuietly(adapter.fs, attr.ino, 1);
}

}  // namespace shardfs::fuse::internal
