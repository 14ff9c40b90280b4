// Opening an existing drive: read its config (no password needed) and unlock its keys with the
// password. Unlocking checks that the keyfile's mnemonic really belongs to this drive (the
// drive id derived from it must match the config). Thread-compatible.
#pragma once

#include <string>

#include "cli/drive/drive_paths.h"
#include "fs/core/drive_config.h"
#include "fs/crypto/keyfile.h"
#include "fs/crypto/keys.h"
#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::drive {

// kNotFound names the drive and the config directory searched.
util::Result<core::DriveConfig> LoadDriveConfig(const DrivePaths& paths, const std::string& name);

struct UnlockedDrive {
  core::DriveConfig config;
  util::SecretBytes mnemonic;
  crypto::DriveKeys keys;
};

// The drive id (32 hex digits) that a normalized mnemonic gives.
util::Result<std::string> DriveIdOf(const util::SecretBytes& mnemonic);
// Derives the drive's keys from its normalized mnemonic.
util::Result<crypto::DriveKeys> KeysOf(const util::SecretBytes& mnemonic);

util::Result<UnlockedDrive> UnlockDrive(const DrivePaths& paths, const std::string& name,
                                        const util::SecretBytes& password);

// Re-wraps the mnemonic under a new password (new salt), replacing the keyfile atomically.
util::Status ChangePassword(const DrivePaths& paths, const std::string& name,
                            const util::SecretBytes& old_password,
                            const util::SecretBytes& new_password, const crypto::KdfParams& kdf);

}  // namespace shardfs::drive
