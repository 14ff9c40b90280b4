// SHARDFS_CHECK: broken invariants abort with a message instead of limping on. Not for bad
// input (that gets a Result error) — only for states the code itself promises never to reach.
#pragma once

namespace shardfs::util {

[[noreturn]] void CheckFailed(const char* file, int line, const char* expr, const char* message);

}  // namespace shardfs::util

#define SHARDFS_CHECK(cond, message)                                      \
  do {                                                                    \
    if (!(cond)) [[unlikely]] {                                           \
      ::shardfs::util::CheckFailed(__FILE__, __LINE__, #cond, (message)); \
    }                                                                     \
  } while (false)
