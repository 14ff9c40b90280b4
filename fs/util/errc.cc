#include "fs/util/errc.h"

namespace shardfs::util {

std::string_view ErrcName(Errc code) {
  switch (code) {
    case Errc::kOk:
      return "ok";
    case Errc::kNotFound:
      return "not found";
    case Errc::kExists:
      return "exists";
    case Errc::kNotEmpty:
      return "not empty";
    case Errc::kNotDir:
      return "not a directory";
    case Errc::kIsDir:
      return "is a directory";
    case Errc::kNameTooLong:
      return "name too long";
    case Errc::kNoSpace:
      return "no space";
    case Errc::kUnavailable:
      return "unavailable";
    case Errc::kCorrupt:
      return "corrupt";
    case Errc::kInvalid:
      return "invalid";
    case Errc::kPermission:
      return "operation not permitted";
    case Errc::kAccessDenied:
      return "access denied";
    case Errc::kNoAttribute:
      return "no such attribute";
    case Errc::kTooLarge:
      return "too large";
    case Errc::kTooManyLinks:
      return "too many links";
    case Errc::kCrossDevice:
      return "cross-device";
    case Errc::kInvalidOp:
      return "invalid operation";
    case Errc::kUnsupported:
      return "unsupported";
    case Errc::kReadOnly:
      return "read-only";
    case Errc::kInternal:
      return "internal error";
  }
  return "unknown error";
}

}  // namespace shardfs::util
