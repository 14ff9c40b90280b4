// TempDir: a fresh directory under the test temp dir, removed with everything in it on
// destruction. Not synchronized.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "fs/util/files.h"

namespace shardfs::remote {

class TempDir {
 public:
  TempDir() {
    std::string base = ::testing::TempDir();
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    std::string tmpl = base + "/shardfs-remote-XXXXXX";
    SHARDFS_CHECK(::mkdtemp(tmpl.data()) != nullptr, "cannot create a temp directory");
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() { (void)util::RemoveTree(path_); }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace shardfs::remote
