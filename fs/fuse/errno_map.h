// The one mapping from the project's error kinds (util::Errc) to the errno a FUSE reply carries,
// with the log severity each kind deserves: bugs and damage are errors, an unreachable store a
// warning, and what applications cause every day (ENOENT, EEXIST, ...) only debug noise.
// Pure functions; thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include "fs/util/errc.h"

namespace shardfs::fuse {

struct ErrorReply {
  int errno_value = 0;
  spdlog::level::level_enum level = spdlog::level::debug;
};

ErrorReply MapError(util::Errc code);
inline int ErrnoOf(util::Errc code) { return MapError(code).errno_value; }

}  // namespace shardfs::fuse
