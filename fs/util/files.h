// Small POSIX file helpers with Result errors that name the path and the cause. Writes that must
// survive a crash go through WriteFileAtomic: temp file in the same directory, fsync, rename,
// fsync of the directory — a reader sees the old file or the new one, never a mix.
// Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::util {

// An Error for a failed system call: the Errc follows errno, the message is
// "<what>: <strerror>".
Error ErrnoError(int err, std::string_view what);

// Reads a whole file; files over max_bytes give kInvalid rather than exhausting memory.
Result<Bytes> ReadFile(const std::string& path, uint64_t max_bytes);

enum class Overwrite { kAllow, kRefuse };
// Atomically creates or replaces path with data and the given permission bits. With kRefuse an
// existing path is left untouched and the call returns kExists.
Status WriteFileAtomic(const std::string& path, ByteSpan data, mode_t mode,
                       Overwrite overwrite = Overwrite::kAllow);

// Writes data as the whole content of the open file fd (from offset 0; the file ends up exactly
// data.size() bytes long). Large data bypasses the page cache with O_DIRECT through an aligned
// per-thread bounce buffer when the file system allows it: on these machines copying into fresh
// page-cache pages runs at 0.2-0.6 GB/s, a direct write at ~1 GB/s with no copy in the kernel.
// Falls back to plain writes. Does not fsync. `what` names the file in errors.
Status WriteWholeFile(int fd, ByteSpan data, std::string_view what);

Status FsyncPath(const std::string& path);  // a file or a directory
// mkdir -p; new directories get mode. Existing ones are left as they are.
Status MakeDirs(const std::string& path, mode_t mode);
bool PathExists(const std::string& path);
std::string ParentDir(const std::string& path);
// Makes a relative path absolute against the current directory (no symlink resolution).
std::string AbsolutePath(const std::string& path);
// Removes a directory tree (for cleaning up half-made state); missing paths are fine.
Status RemoveTree(const std::string& path);

}  // namespace shardfs::util
