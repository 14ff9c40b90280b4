#include "fs/crypto/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace shardfs::crypto {

util::Status FillRandom(util::MutableByteSpan out) {
  size_t done = 0;
  while (done < out.size()) {
    // getrandom may return fewer bytes than asked (over 256 bytes, or when a signal arrives),
    // so loop until the buffer is full. Flags 0: the urandom pool, blocking only before it is
    // first seeded, which is what key generation wants.
    ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return util::MakeError(util::Errc::kInternal,
                             std::string("getrandom failed: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return util::Ok();
}

util::Result<util::Bytes> RandomBytes(size_t n) {
  util::Bytes out(n);
  SHARDFS_TRY(FillRandom(out));
  return out;
}

util::Result<util::SecretBytes> RandomSecret(size_t n) {
  util::SecretBytes out(n);
  SHARDFS_TRY(FillRandom(out.mutable_span()));
  return out;
}

}  // namespace shardfs::crypto
