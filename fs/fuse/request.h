// Helpers shared by the FUSE callbacks (internal to fs/fuse): Serve, the one path from a
// request to the core and back to exactly one reply, and the conversions between core types and
// the kernel's (struct stat, fuse_entry_param, who is calling). Thread-safe.
//
// Every reply function libfuse has frees the request: nothing may touch `req` (or the adapter
// through it) after replying. A reply that fails (the request was interrupted) means the kernel
// never saw it, so callbacks that hand out references (entries, open handles) take them back.
#pragma once

#include <sys/stat.h>

#include <cerrno>
#include <exception>
#include <optional>
#include <type_traits>

#include <fuse_lowlevel.h>

#include "fs/core/filesystem.h"
#include "fs/fuse/adapter.h"
#include "fs/util/result.h"

namespace shardfs::fuse::internal {

inline Adapter& AdapterOf(fuse_req_t req) { return *static_cast<Adapter*>(fuse_req_userdata(req)); }

// The attributes as the kernel is shown them: with the mount's uid=, gid= and umask= applied.
struct stat ToStat(const AdapterConfig& config, const core::Attr& attr);
fuse_entry_param EntryParam(const AdapterConfig& config, const core::Attr& attr);

// Who is asking. The supplementary groups cost a read of /proc/<tid>/status, so they are
// fetched only for the calls whose rules need them (chmod/chown, setgid bits, access).
core::Caller CallerOf(fuse_req_t req, bool with_groups);
// Groups matter to a create only when it asks for a setgid bit (cleared for non-members).
inline bool CreateNeedsGroups(mode_t mode) { return (mode & S_ISGID) != 0; }

// Whether the caller holds CAP_FSETID (its effective set, read from /proc/<pid>/status; a
// caller that is gone counts as without). Linux keeps set-id bits only for such callers.
bool CallerHasFsetid(fuse_req_t req);

// Clears S_ISUID, and S_ISGID when group-executable, of regular file ino, and tells the kernel
// its cached attributes are stale: the clearing happens in shardfs (HANDLE_KILLPRIV_V2), and
// without the notice stat(2) would show the old mode for up to attr_timeout. Nothing happens
// (not even a ctime change) when the file has no such bits.
util::Status KillSetIdBits(core::Filesystem& fs, fuse_req_t req, uint64_t ino);
// KillSetIdBits when the request's own flags ask for it (a write, an O_TRUNC open).
util::Status KillSetIdBitsIfAsked(core::Filesystem& fs, fuse_req_t req, uint64_t ino);
// KillSetIdBits unless the caller holds CAP_FSETID: the calls whose requests carry no flag for
// it (fallocate, punching a hole, copy_file_range into ino).
util::Status KillSetIdBitsUnlessPrivileged(core::Filesystem& fs, fuse_req_t req, uint64_t ino);

// Logs a failed core call at its severity; returns the errno for the reply.
int ErrnoForReply(const char* op, uint64_t ino, const util::Error& error);
void LogException(const char* op, uint64_t ino, const char* what);

// Drops references the kernel never received; logs rather than throws.
void ForgetQuietly(core::Filesystem& fs, uint64_t ino, uint64_t nlookup) noexcept;
void ReleaseQuietly(core::Filesystem& fs, uint64_t ino, uint64_t fh) noexcept;
void ReleaseDirQuietly(core::Filesystem& fs, uint64_t ino, uint64_t fh) noexcept;

// Runs `call(fs)` (returning a Result or a Status); on success `reply(result)` sends the reply,
// on error the mapped errno is sent, and an exception becomes a logged EIO. `reply` must be
// noexcept in effect: it only formats and sends.
template <typename Call, typename Reply>
void Serve(fuse_req_t req, const char* op, uint64_t ino, Call&& call, Reply&& reply) noexcept {
  using R = std::invoke_result_t<Call&, core::Filesystem&>;
  std::optional<R> result;
  try {
    result.emplace(call(AdapterOf(req).fs));
  } catch (const std::exception& e) {
    LogException(op, ino, e.what());
  } catch (...) {
    LogException(op, ino, "unknown exception");
  }
  if (!result) {
    fuse_reply_err(req, EIO);
  } else if (!result->ok()) {
    fuse_reply_err(req, ErrnoForReply(op, ino, result->error()));
  } else {
    reply(*result);
  }
}

// Replies for the common shapes.
inline auto ReplyOk(fuse_req_t req) {
  return [req](const util::Status&) noexcept { fuse_reply_err(req, 0); };
}
inline auto ReplyAttr(fuse_req_t req) {
  return [req](const util::Result<core::Attr>& attr) noexcept {
    const AdapterConfig& config = AdapterOf(req).config;
    struct stat st = ToStat(config, *attr);
    fuse_reply_attr(req, &st, config.attr_timeout);
  };
}
// An entry with ino 0 is a negative entry: the kernel caches the miss for entry_timeout.
void ReplyEntry(fuse_req_t req, const core::Attr& attr) noexcept;
inline auto ReplyEntryFn(fuse_req_t req) {
  return [req](const util::Result<core::Attr>& attr) noexcept { ReplyEntry(req, *attr); };
}

// Adds node operations (names, attributes, links, xattrs, statfs) to the table.
void AddNodeOps(fuse_lowlevel_ops& ops);
// Adds data operations (open files and directories, read, write, readdir...) to the table.
void AddDataOps(fuse_lowlevel_ops& ops);

}  // namespace shardfs::fuse::internal
