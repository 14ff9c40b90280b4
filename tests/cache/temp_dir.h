// A fresh directory under the test temp dir, removed with everything in it at destruction.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "fs/util/files.h"

namespace shardfs::cache {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "shardfs-cache-XXXXXX";
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

}  // namespace shardfs::cache
