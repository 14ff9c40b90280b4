#include "fs/fuse/errno_map.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace shardfs::fuse {
namespace {

using util::Errc;

TEST(ErrnoMap, EveryKind) {
  EXPECT_EQ(ErrnoOf(Errc::kNotFound), ENOENT);
  EXPECT_EQ(ErrnoOf(Errc::kExists), EEXIST);
  EXPECT_EQ(ErrnoOf(Errc::kNotEmpty), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf(Errc::kNotDir), ENOTDIR);
  EXPECT_EQ(ErrnoOf(Errc::kIsDir), EISDIR);
  EXPECT_EQ(ErrnoOf(Errc::kNameTooLong), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(Errc::kNoSpace), ENOSPC);
  EXPECT_EQ(ErrnoOf(Errc::kUnavailable), EIO);
  EXPECT_EQ(ErrnoOf(Errc::kCorrupt), EIO);
  EXPECT_EQ(ErrnoOf(Errc::kInvalid), EINVAL);
  EXPECT_EQ(ErrnoOf(Errc::kPermission), EPERM);
  EXPECT_EQ(ErrnoOf(Errc::kAccessDenied), EACCES);
  EXPECT_EQ(ErrnoOf(Errc::kNoAttribute), ENODATA);
  EXPECT_EQ(ErrnoOf(Errc::kTooLarge), EFBIG);
  EXPECT_EQ(ErrnoOf(Errc::kTooManyLinks), EMLINK);
  EXPECT_EQ(ErrnoOf(Errc::kCrossDevice), EXDEV);
  EXPECT_EQ(ErrnoOf(Errc::kInvalidOp), EINVAL);
  EXPECT_EQ(ErrnoOf(Errc::kUnsupported), EOPNOTSUPP);
  EXPECT_EQ(ErrnoOf(Errc::kInternal), EIO);
  EXPECT_EQ(ErrnoOf(Errc::kOk), EIO);  // an Error saying "no error" is a bug, never success
}

TEST(ErrnoMap, SeverityFollowsWhatTheErrorMeans) {
  EXPECT_EQ(MapError(Errc::kInternal).level, spdlog::level::err);
  EXPECT_EQ(MapError(Errc::kCorrupt).level, spdlog::level::err);
  EXPECT_EQ(MapError(Errc::kUnavailable).level, spdlog::level::warn);
  EXPECT_EQ(MapError(Errc::kNotFound).level, spdlog::level::debug);
  EXPECT_EQ(MapError(Errc::kExists).level, spdlog::level::debug);
  EXPECT_EQ(MapError(Errc::kAccessDenied).level, spdlog::level::debug);
}

}  // namespace
}  // namespace shardfs::fuse
