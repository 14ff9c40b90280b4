// TempDir: a fresh directory under the test temp dir (named after `what`), removed with
// everything in it on destruction. For every test binary; not synchronized.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "fs/util/files.h"

namespace shardfs::testutil {

class TempDir {
 public:
  explicit TempDir(const std::string& what = "test") {
    std::string base = ::testing::TempDir();
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    std::string tmpl = base + "/shardfs-" + what + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << tmpl;
    path_ = tmpl;
  }
  ~TempDir() { (void)util::RemoveTree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace shardfs::testutil
