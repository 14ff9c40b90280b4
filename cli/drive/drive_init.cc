#include "cli/drive/drive_init.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include <cerrno>
#include <ctime>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "cli/drive/drive_unlock.h"
#include "fs/crypto/bip39.h"
#include "fs/util/files.h"

namespace shardfs::drive {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {

std::string Rfc3339(util::Clock::TimePoint t) {
  std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(secs));
}

Status MakeConfigDirs(const DrivePaths& paths) {
  auto s = util::MakeDirs(paths.drives_dir, 0700);
  if (s.ok()) return s;
  return MakeError(s.code(), fmt::format("cannot use the config directory {}: {}; choose a "
                                         "writable one with --config-dir or SHARDFS_CONFIG_DIR "
                                         "(--system needs root)",
                                         paths.config_dir, s.error().message));
}

Status MakeDataDir(const std::string& path, std::string_view what, std::string_view option) {
  auto s = util::MakeDirs(path, 0700);
  if (s.ok()) return s;
  return MakeError(s.code(), fmt::format("cannot create the {} {}: {}; choose another with {}",
                                         what, path, s.error().message, option));
}

// Removes what a failed CreateDrive made, so a retry starts clean.
class Cleanup {
 public:
  ~Cleanup() {
    for (const auto& p : paths_) (void)util::RemoveTree(p);
  }
  void Add(std::string path) { paths_.push_back(std::move(path)); }
  void Dismiss() { paths_.clear(); }

 private:
  std::vector<std::string> paths_;
};

}  // namespace

Result<InitResult> CreateDrive(InitRequest req, const util::Clock& clock) {
  core::DriveConfig& config = req.config;
  SHARDFS_TRY(core::ValidateDriveName(config.name));
  if (req.password.empty()) {
    return MakeError(Errc::kInvalid, "the password is empty; a drive needs a password");
  }
  DrivePaths paths = DrivePaths::For(req.config_dir, config.name);
  auto exists = [&] {
    return MakeError(Errc::kExists,
                     fmt::format("a drive named '{}' already exists in {}; choose another name "
                                 "(shardfs never overwrites a drive)",
                                 config.name, paths.drive_dir));
  };
  if (util::PathExists(paths.drive_dir)) return exists();
  if (req.mnemonic_out && util::PathExists(*req.mnemonic_out)) {
    return MakeError(Errc::kExists, fmt::format("{} already exists; shardfs never overwrites a "
                                                "file: choose another --mnemonic-out",
                                                *req.mnemonic_out));
  }

  util::SecretBytes mnemonic;
  if (req.restore_mnemonic) {
    SHARDFS_ASSIGN_OR_RETURN(mnemonic, crypto::NormalizeMnemonic(req.restore_mnemonic->view(),
                                                                 crypto::kDriveMnemonicWords));
  } else {
    SHARDFS_ASSIGN_OR_RETURN(mnemonic, crypto::GenerateMnemonic());
  }
  SHARDFS_ASSIGN_OR_RETURN(config.drive_id, DriveIdOf(mnemonic));
  config.created = Rfc3339(clock.Now());
  SHARDFS_TRY(core::ValidateDriveConfig(config, "the new drive"));

  SHARDFS_TRY(MakeConfigDirs(paths));
  if (config.store.kind == core::StoreSpec::Kind::kDir) {
    SHARDFS_TRY(MakeDataDir(config.store.path, "store directory", "--store dir:PATH"));
  }
  for (const core::NodeSpec& node : config.nodes) {
    if (node.IsDir()) {
      SHARDFS_TRY(
          MakeDataDir(node.endpoint.substr(4), "directory of node " + node.id, "the node list"));
    }
  }
  SHARDFS_TRY(MakeDataDir(config.cache_dir, "cache directory", "--cache-dir"));

  // Argon2id takes a moment; do it before anything is written.
  SHARDFS_ASSIGN_OR_RETURN(util::Bytes keyfile,
                           crypto::WrapSecret(mnemonic, req.password, req.kdf));

  std::string tmpl = paths.drives_dir + "/." + config.name + ".new-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return util::ErrnoError(errno, fmt::format("cannot write in the config directory {}; choose "
                                               "a writable one with --config-dir or "
                                               "SHARDFS_CONFIG_DIR",
                                               paths.drives_dir));
  }
  Cleanup cleanup;
  cleanup.Add(tmpl);
  std::string config_text = core::SerializeDriveConfig(config);
  SHARDFS_TRY(util::WriteFileAtomic(tmpl + "/config.json", util::AsBytes(config_text), 0600,
                                    util::Overwrite::kRefuse));
  SHARDFS_TRY(crypto::WriteKeyfile(tmpl + "/keyfile", keyfile, /*replace=*/false));
  if (req.mnemonic_out) {
    util::SecretBytes text(mnemonic.size() + 1);
    std::copy(mnemonic.span().begin(), mnemonic.span().end(), text.data());
    text.data()[mnemonic.size()] = '\n';
    SHARDFS_TRY(
        util::WriteFileAtomic(*req.mnemonic_out, text.span(), 0600, util::Overwrite::kRefuse));
    cleanup.Add(*req.mnemonic_out);
  }
  SHARDFS_TRY(util::FsyncPath(tmpl));
  // RENAME_NOREPLACE: if another init won the race for this name, we fail instead of replacing.
  if (::renameat2(AT_FDCWD, tmpl.c_str(), AT_FDCWD, paths.drive_dir.c_str(), RENAME_NOREPLACE) !=
      0) {
    if (errno == EEXIST || errno == ENOTEMPTY) return exists();
    return util::ErrnoError(errno, fmt::format("cannot create {}", paths.drive_dir));
  }
  cleanup.Dismiss();
  SHARDFS_TRY(util::FsyncPath(paths.drives_dir));
  return InitResult{std::move(config), std::move(paths), std::move(mnemonic)};
}

}  // namespace shardfs::drive
