#include "fs/util/errc.h"

namespace shardfs::util {

std::string_view ErrcName(Errc code) {
  switch (code) {
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
      return "permission denied";
    case Errc::kUnsupported:
      return "unsupported";
    case Errc::kInternal:
      return "internal error";
  }
  return "unknown error";
}

}  // namespace shardfs::util
