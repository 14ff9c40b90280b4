#include "cli/drive/drive_unlock.h"

#include <fmt/format.h>

#include "fs/crypto/bip39.h"
#include "fs/util/encoding.h"
#include "fs/util/files.h"

namespace shardfs::drive {

using util::Errc;
using util::MakeError;
using util::Result;

namespace {
constexpr uint64_t kMaxConfigBytes = 1 << 20;
}

Result<core::DriveConfig> LoadDriveConfig(const DrivePaths& paths, const std::string& name) {
  SHARDFS_TRY(core::ValidateDriveName(name));
  auto text = util::ReadFile(paths.config_file, kMaxConfigBytes);
  if (!text.ok()) {
    if (text.code() == Errc::kNotFound) {
      return MakeError(Errc::kNotFound,
                       fmt::format("no drive named '{}' in {} (looked for {}); create it with "
                                   "`shardfs init {}`, or point --config-dir at the right place",
                                   name, paths.config_dir, paths.config_file, name));
    }
    return text.error();
  }
  SHARDFS_ASSIGN_OR_RETURN(core::DriveConfig config,
                           core::ParseDriveConfig(util::AsStringView(*text), paths.config_file));
  if (config.name != name) {
    return MakeError(Errc::kInvalid, fmt::format("{} describes drive '{}', not '{}'",
                                                 paths.config_file, config.name, name));
  }
  return config;
}

Result<crypto::DriveKeys> KeysOf(const util::SecretBytes& mnemonic) {
  SHARDFS_ASSIGN_OR_RETURN(util::SecretBytes seed, crypto::MnemonicToSeed(mnemonic.view(), ""));
  return crypto::DeriveDriveKeys(seed);
}

Result<std::string> DriveIdOf(const util::SecretBytes& mnemonic) {
  SHARDFS_ASSIGN_OR_RETURN(crypto::DriveKeys keys, KeysOf(mnemonic));
  return util::ToHex(keys.drive_id);
}

Result<UnlockedDrive> UnlockDrive(const DrivePaths& paths, const std::string& name,
                                  const util::SecretBytes& password) {
  SHARDFS_ASSIGN_OR_RETURN(core::DriveConfig config, LoadDriveConfig(paths, name));
  SHARDFS_ASSIGN_OR_RETURN(util::SecretBytes stored, crypto::ReadKeyfile(paths.keyfile, password));
  auto mnemonic = crypto::NormalizeMnemonic(stored.view(), crypto::kDriveMnemonicWords);
  if (!mnemonic.ok()) {
    return MakeError(Errc::kCorrupt, fmt::format("keyfile {} opened but does not hold a valid "
                                                 "mnemonic; recreate it with `shardfs init {} "
                                                 "--restore`",
                                                 paths.keyfile, name));
  }
  SHARDFS_ASSIGN_OR_RETURN(crypto::DriveKeys keys, KeysOf(*mnemonic));
  std::string id = util::ToHex(keys.drive_id);
  if (id != config.drive_id) {
    return MakeError(Errc::kCorrupt,
                     fmt::format("keyfile {} belongs to another drive (id {}), not to '{}' (id "
                                 "{}); put the right keyfile back or re-create it with "
                                 "`shardfs init --restore`",
                                 paths.keyfile, id, name, config.drive_id));
  }
  return UnlockedDrive{std::move(config), std::move(mnemonic).value(), std::move(keys)};
}

util::Status ChangePassword(const DrivePaths& paths, const std::string& name,
                            const util::SecretBytes& old_password,
                            const util::SecretBytes& new_password, const crypto::KdfParams& kdf) {
  if (new_password.empty()) return MakeError(Errc::kInvalid, "the new password is empty");
  SHARDFS_ASSIGN_OR_RETURN(UnlockedDrive drive, UnlockDrive(paths, name, old_password));
  SHARDFS_ASSIGN_OR_RETURN(util::Bytes keyfile,
                           crypto::WrapSecret(drive.mnemonic, new_password, kdf));
  return crypto::WriteKeyfile(paths.keyfile, keyfile, /*replace=*/true);
}

}  // namespace shardfs::drive
