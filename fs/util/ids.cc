#include "fs/util/ids.h"

#include <algorithm>

#include "fs/util/encoding.h"

namespace shardfs::util {

std::string ObjectId::Hex() const { return ToHex(bytes); }

bool ObjectId::FromHex(std::string_view hex, ObjectId* out) {
  auto b = util::FromHex(hex);
  if (!b || b->size() != 16) return false;
  std::copy(b->begin(), b->end(), out->bytes.begin());
  return true;
}

}  // namespace shardfs::util
