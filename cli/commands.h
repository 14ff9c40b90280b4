// The shardfs subcommands that manage drives (init, info, list, show-mnemonic, passwd). Each
// takes its parsed options, talks to the user on stdout/stderr, and returns a Status; main
// turns an error into one "shardfs: error: ..." line and exit code 1.
#pragma once

#include <optional>
#include <string>

#include "cli/drive/drive_paths.h"
#include "fs/util/result.h"

namespace shardfs::cli {

struct CommonOptions {
  drive::DriveLocation location;
  std::optional<std::string> password_file;
};

struct KdfOptions {
  std::string memory = "64M";
  uint32_t passes = 3;
};

struct InitOptions {
  std::string drive;
  std::string block_size = "4M";
  std::string erasure = "4+2";
  std::optional<std::string> store;
  std::optional<std::string> nodes;  // a node list file (nodes.conf)
  std::optional<std::string> cache_dir;
  std::string cache_size = "2G";
  std::string quota = "0";  // 0: none
  bool restore = false;
  std::optional<std::string> mnemonic_file;
  std::optional<std::string> mnemonic_out;
  KdfOptions kdf;
};

util::Status RunInit(const CommonOptions& common, const InitOptions& options);
util::Status RunInfo(const CommonOptions& common, const std::string& drive);
util::Status RunList(const CommonOptions& common);
util::Status RunShowMnemonic(const CommonOptions& common, const std::string& drive);
util::Status RunPasswd(const CommonOptions& common, const std::string& drive,
                       const std::optional<std::string>& new_password_file, const KdfOptions& kdf);

}  // namespace shardfs::cli
