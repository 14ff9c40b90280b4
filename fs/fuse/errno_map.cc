#include "fs/fuse/errno_map.h"

#include <cerrno>

namespace shardfs::fuse {

using util::Errc;
namespace level = spdlog::level;

ErrorReply MapError(Errc code) {
  // Compiled with -Wswitch-enum and no default: a new Errc must be given its errno here.
  switch (code) {
    case Errc::kOk:
      // Only a bug replies with an Error that says "no error"; errno 0 would claim success.
      return {EIO, level::err};
    case Errc::kNotFound:
      return {ENOENT, level::debug};
    case Errc::kExists:
      return {EEXIST, level::debug};
    case Errc::kNotEmpty:
      return {ENOTEMPTY, level::debug};
    case Errc::kNotDir:
      return {ENOTDIR, level::debug};
    case Errc::kIsDir:
      return {EISDIR, level::debug};
    case Errc::kNameTooLong:
      return {ENAMETOOLONG, level::debug};
    case Errc::kNoSpace:
      return {ENOSPC, level::warn};
    case Errc::kUnavailable:
      // Not EAGAIN: applications do not retry a read(2) or close(2) that fails with it; the
      // core has already retried and hedged before giving up.
      return {EIO, level::warn};
    case Errc::kCorrupt:
      return {EIO, level::err};
    case Errc::kInvalid:
      return {EINVAL, level::debug};
    case Errc::kPermission:
      return {EPERM, level::debug};
    case Errc::kReadOnly:
      return {EROFS, level::debug};
    case Errc::kAccessDenied:
      return {EACCES, level::debug};
    case Errc::kNoAttribute:
      return {ENODATA, level::debug};
    case Errc::kTooLarge:
      return {EFBIG, level::debug};
    case Errc::kTooManyLinks:
      return {EMLINK, level::debug};
    case Errc::kCrossDevice:
      return {EXDEV, level::debug};
    case Errc::kInvalidOp:
      return {EINVAL, level::debug};
    case Errc::kUnsupported:
      return {EOPNOTSUPP, level::debug};
    case Errc::kInternal:
      return {EIO, level::err};
  }
  return {EIO, level::err};  // not a valid Errc: a memory error somewhere
}

}  // namespace shardfs::fuse
