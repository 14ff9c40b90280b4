// CreateDrive: makes a new drive (or re-creates one from its mnemonic) under a config
// directory. All or nothing: the config and keyfile are written into a temporary directory that
// is renamed into place only when complete, and an existing drive of the same name is never
// touched. The caller (the CLI) gathers the password and shows the mnemonic. Thread-compatible.
#pragma once

#include <optional>
#include <string>

#include "cli/drive/drive_paths.h"
#include "fs/core/drive_config.h"
#include "fs/crypto/keyfile.h"
#include "fs/util/bytes.h"
#include "fs/util/clock.h"
#include "fs/util/result.h"

namespace shardfs::drive {

struct InitRequest {
  std::string config_dir;
  core::DriveConfig config;  // everything but drive_id and created, which CreateDrive fills in
  // Restore: the words as the user typed them (checked and normalized here). Empty: generate.
  std::optional<util::SecretBytes> restore_mnemonic;
  util::SecretBytes password;
  crypto::KdfParams kdf;
  // Also write the mnemonic to this file (mode 0600, never over an existing file).
  std::optional<std::string> mnemonic_out;
};

struct InitResult {
  core::DriveConfig config;
  DrivePaths paths;
  util::SecretBytes mnemonic;  // normalized words, for the CLI to show once
};

util::Result<InitResult> CreateDrive(InitRequest request, const util::Clock& clock);

}  // namespace shardfs::drive
