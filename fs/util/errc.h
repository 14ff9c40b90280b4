// Errc: the short list of error kinds the whole project speaks. Each kind tells the caller what
// to do (retry, report corruption, give up), not where the error came from; the message does that.
// errno appears only in fs/fuse, which maps these kinds in one switch.
#pragma once

#include <string_view>

namespace shardfs::util {

enum class Errc {
  kOk,            // no error: what code() of a successful Result says
  kNotFound,      // no such file, drive, key, object
  kExists,        // refuses to overwrite something that is there
  kNotEmpty,      // directory not empty
  kNotDir,        // a path component or target is not a directory
  kIsDir,         // a directory where a file was expected
  kNameTooLong,   // a name over the limit
  kNoSpace,       // disk, cache or quota full
  kUnavailable,   // retryable: a node or service is down or slow
  kCorrupt,       // tampered or damaged data; never returned as plaintext
  kInvalid,       // bad input from the user or caller
  kPermission,    // not permitted (EPERM: only the owner or root may), or a wrong password
  kAccessDenied,  // the mode bits refuse it (EACCES)
  kNoAttribute,   // no such extended attribute (ENODATA)
  kTooLarge,      // larger than allowed (EFBIG, E2BIG)
  kTooManyLinks,  // link count limit (EMLINK)
  kCrossDevice,   // across drives or mounts (EXDEV)
  kInvalidOp,     // the operation makes no sense on this object (EINVAL from the filesystem)
  kUnsupported,   // a format version or feature this build does not know
  kReadOnly,      // the drive is mounted read-only (EROFS)
  kInternal,      // a bug or an unexpected library failure
};

std::string_view ErrcName(Errc code);

}  // namespace shardfs::util
