// Filesystem: the inode-level, FUSE-free core. Every call is thread-safe and blocking; the
// FUSE adapter (fs/fuse) maps each low-level request to one call here. Inode numbers are never
// reused (generation 0 is always valid); the root is kRootIno. Permission checks on paths are
// the kernel's (default_permissions); the core applies the rules that depend on who creates
// what (setgid directories, umask given by the caller) and the ownership rules of setattr.
//
// Lookup counts: every call returning an Entry (Lookup, Mknod, Mkdir, Symlink, Link, Create,
// and each entry of ReadDir with `plus`) adds one lookup reference to that inode; Forget drops
// them. An inode with no links is deleted once it has no lookups and no open handles.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::core {

inline constexpr uint64_t kRootIno = 1;
inline constexpr size_t kMaxNameLength = 255;
inline constexpr size_t kMaxSymlinkLength = 4095;
inline constexpr size_t kMaxXattrValue = 65536;

struct Timespec {
  int64_t sec = 0;
  uint32_t nsec = 0;
  auto operator<=>(const Timespec&) const = default;
};

struct Attr {
  uint64_t ino = 0;
  uint32_t mode = 0;  // type and permission bits, as st_mode
  uint32_t nlink = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t rdev = 0;
  uint64_t size = 0;
  uint64_t blocks = 0;  // 512-byte units actually stored (holes cost nothing)
  uint32_t blksize = 0;
  Timespec atime, mtime, ctime;
};

// Who is asking (from the FUSE request).
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t umask = 022;
  std::vector<uint32_t> groups;  // supplementary groups, for chown/setgid rules
};

struct SetAttr {
  std::optional<uint32_t> mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;
  // Set to "now" when the *_now flag is set, else to the given time when present.
  std::optional<Timespec> atime;
  std::optional<Timespec> mtime;
  bool atime_now = false;
  bool mtime_now = false;
  std::optional<Timespec> ctime;
  std::optional<uint64_t> fh;  // the handle, for ftruncate
  // Clear S_ISUID, and S_ISGID when group-executable, of a regular file: the kernel asks this
  // with a write or truncate by a caller without CAP_FSETID and with every chown (FUSE's
  // HANDLE_KILLPRIV_V2). Alone it changes nothing (not even ctime) on a file without them.
  bool kill_setid = false;
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint32_t type = 0;    // S_IFMT bits
  uint64_t offset = 0;  // where the next ReadDir continues after this entry
  Attr attr;            // filled when plus
};

struct FsStats {
  uint64_t block_size = 0;
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t available_bytes = 0;
  uint64_t files = 0;
  uint64_t free_files = 0;
  uint32_t name_max = kMaxNameLength;
};

// One storage node as the drive sees it (for `shardfs status`).
struct NodeHealth {
  std::string name;            // the node's id in the drive config ("node1")
  std::string endpoint;        // where it is
  bool healthy = true;         // false while recent calls fail; retried in the background
  double latency_ms = 0;       // moving average of successful calls
  double error_rate = 0;       // moving average, 0..1
  uint64_t shards_stored = 0;  // shards stored since the mount
  uint64_t bad_shards = 0;     // shards found damaged or missing since the mount
  std::string last_error;      // empty when none
};

// What `shardfs status` and `shardfs sync` show of the drive.
struct DriveStatus {
  uint64_t pending_blocks = 0;  // sealed blocks not yet stored on the nodes
  uint64_t pending_bytes = 0;
  uint64_t uploaded_bytes = 0;    // stored since the mount
  uint64_t pending_deletes = 0;   // blocks of deleted or rewritten files still in the store
  std::string last_upload_error;  // empty while uploads work
  uint64_t cache_used_bytes = 0;
  uint64_t cache_budget_bytes = 0;
  uint64_t cache_capacity_bytes = 0;  // the budget, or less when the cache's disk is short
  uint64_t cache_dirty_bytes = 0;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t readahead_blocks = 0;  // blocks loaded into memory ahead of readers since the mount
  uint64_t read_waits = 0;        // reads that found their block not in memory and waited
  uint64_t sealed_blocks = 0;     // blocks sealed into the cache since the mount...
  uint64_t seal_commits = 0;      // ...in this many metadata commits (small ones are grouped)
  uint64_t buffer_bytes = 0;      // file blocks held in memory, and the budget for them
  uint64_t buffer_budget_bytes = 0;
  bool read_only = false;  // changes are refused (mounted ro, or remounted so)
  std::string store;       // BlockStore::Describe()
  std::vector<NodeHealth> nodes;
};

// Renameat2 flags.
inline constexpr uint32_t kRenameNoReplace = 1;
inline constexpr uint32_t kRenameExchange = 2;

// Xattr flags (setxattr).
inline constexpr int kXattrCreate = 1;
inline constexpr int kXattrReplace = 2;

// Fallocate modes understood.
inline constexpr int kFallocKeepSize = 0x01;
inline constexpr int kFallocPunchHole = 0x02;

class Filesystem {
 public:
  virtual ~Filesystem() = default;

  virtual util::Result<Attr> Lookup(uint64_t parent, std::string_view name) = 0;
  virtual void Forget(uint64_t ino, uint64_t nlookup) = 0;
  virtual util::Result<Attr> GetAttr(uint64_t ino) = 0;
  virtual util::Result<Attr> SetAttributes(uint64_t ino, const SetAttr& change,
                                           const Caller& caller) = 0;
  virtual util::Status Access(uint64_t ino, int mask, const Caller& caller) = 0;

  virtual util::Result<Attr> Mknod(uint64_t parent, std::string_view name, uint32_t mode,
                                   uint64_t rdev, const Caller& caller) = 0;
  virtual util::Result<Attr> Mkdir(uint64_t parent, std::string_view name, uint32_t mode,
                                   const Caller& caller) = 0;
  virtual util::Result<Attr> Symlink(uint64_t parent, std::string_view name,
                                     std::string_view target, const Caller& caller) = 0;
  virtual util::Result<std::string> Readlink(uint64_t ino) = 0;
  virtual util::Status Unlink(uint64_t parent, std::string_view name) = 0;
  virtual util::Status Rmdir(uint64_t parent, std::string_view name) = 0;
  virtual util::Status Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                              std::string_view new_name, uint32_t flags) = 0;
  virtual util::Result<Attr> Link(uint64_t ino, uint64_t new_parent, std::string_view new_name) = 0;

  // flags as open(2). Returns a handle for Read/Write/Release.
  virtual util::Result<uint64_t> Open(uint64_t ino, int flags) = 0;
  struct Created {
    Attr attr;
    uint64_t fh;
  };
  virtual util::Result<Created> Create(uint64_t parent, std::string_view name, uint32_t mode,
                                       int flags, const Caller& caller) = 0;
  // Reads up to out.size() bytes at offset; returns how many (0 at or past EOF).
  virtual util::Result<size_t> Read(uint64_t ino, uint64_t fh, uint64_t offset,
                                    util::MutableByteSpan out) = 0;
  virtual util::Result<size_t> Write(uint64_t ino, uint64_t fh, uint64_t offset,
                                     util::ByteSpan data) = 0;
  // The last close of an open file: seals its buffered data into the local cache. The adapter
  // answers no FLUSH (the kernel then stops sending it), so close(2) does not wait for this:
  // the kernel sends RELEASE after close returns. Errors surface at fsync.
  virtual util::Status Release(uint64_t ino, uint64_t fh) = 0;
  // Makes the file's data and metadata durable on local disk (and everything committed
  // before). datasync: metadata other than size may stay unsynced.
  virtual util::Status Fsync(uint64_t ino, uint64_t fh, bool datasync) = 0;
  virtual util::Status Fallocate(uint64_t ino, uint64_t fh, int mode, uint64_t offset,
                                 uint64_t length) = 0;
  virtual util::Result<size_t> CopyFileRange(uint64_t ino_in, uint64_t fh_in, uint64_t off_in,
                                             uint64_t ino_out, uint64_t fh_out, uint64_t off_out,
                                             size_t length) = 0;

  virtual util::Result<uint64_t> OpenDir(uint64_t ino) = 0;
  // Calls emit for entries after `offset` (0 = from the start, including "." and "..") until
  // emit returns false (the reply buffer is full). An entry refused by emit is not counted as
  // returned. Entries that exist for the whole listing are returned exactly once, even while
  // others are added and removed.
  virtual util::Status ReadDir(uint64_t ino, uint64_t fh, uint64_t offset, bool plus,
                               const std::function<bool(const DirEntry&)>& emit) = 0;
  virtual util::Status ReleaseDir(uint64_t ino, uint64_t fh) = 0;
  virtual util::Status FsyncDir(uint64_t ino, uint64_t fh) = 0;

  virtual util::Result<FsStats> StatFs() = 0;

  virtual util::Status SetXattr(uint64_t ino, std::string_view name, util::ByteSpan value,
                                int flags) = 0;
  virtual util::Result<util::Bytes> GetXattr(uint64_t ino, std::string_view name) = 0;
  virtual util::Result<std::vector<std::string>> ListXattr(uint64_t ino) = 0;
  virtual util::Status RemoveXattr(uint64_t ino, std::string_view name) = 0;

  // Seals every buffer, waits for pending uploads, syncs (unmount).
  virtual util::Status Shutdown() = 0;
  // Seals every buffer into the cache and syncs it, so that the upload queue holds everything
  // written so far (the start of `shardfs sync`).
  virtual util::Status SealAll() = 0;
  // Read-only (every change refused with kReadOnly while reads go on) or read-write again: `mount
  // -o remount,ro|rw`. Going read-only first seals and syncs what was written (as SealAll), so
  // the local state is whole while the drive is frozen; uploads go on.
  virtual util::Status SetReadOnly(bool read_only) = 0;
  virtual DriveStatus GetStatus() = 0;
};

}  // namespace shardfs::core
