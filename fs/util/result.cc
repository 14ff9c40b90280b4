#include "fs/util/result.h"

namespace shardfs::util {

Error Error::WithContext(std::string_view context) const {
  std::string m(context);
  m += ": ";
  m += message;
  return Error{code, std::move(m)};
}

}  // namespace shardfs::util
