#include "fs/util/check.h"

#include <cstdio>
#include <cstdlib>

namespace shardfs::util {

void CheckFailed(const char* file, int line, const char* expr, const char* message) {
  // stderr directly: the logger may be the thing that is broken.
  std::fprintf(stderr, "shardfs: internal check failed at %s:%d: %s (%s)\n", file, line, expr,
               message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace shardfs::util
