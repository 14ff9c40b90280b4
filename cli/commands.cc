#include "cli/commands.h"

#include "cli/drive/drive_fs.h"

#include <cstdio>

#include <fmt/format.h>

#include "cli/drive/drive_init.h"
#include "cli/drive/drive_unlock.h"
#include "cli/password.h"
#include "fs/util/files.h"
#include "fs/util/units.h"

namespace shardfs::cli {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {

Result<std::string> ConfigDir(const CommonOptions& common) {
  return drive::ResolveConfigDir(common.location, drive::PathEnv::FromProcess());
}

Result<crypto::KdfParams> ParseKdf(const KdfOptions& o) {
  auto memory = util::ParseSize(o.memory);
  if (!memory.ok()) return memory.error().WithContext("--kdf-memory");
  if (*memory < (8u << 20) || *memory > (uint64_t{crypto::kMaxKdfMCostKib} << 10)) {
    return MakeError(Errc::kInvalid, "--kdf-memory must be between 8M and 4G");
  }
  if (o.passes < 1 || o.passes > crypto::kMaxKdfTCost) {
    return MakeError(Errc::kInvalid,
                     fmt::format("--kdf-passes must be between 1 and {}", crypto::kMaxKdfTCost));
  }
  return crypto::KdfParams{o.passes, static_cast<uint32_t>(*memory >> 10), 1};
}

enum class Shown { kFirstTime, kAgain };

// Prints the words numbered in columns, with the warning that matters.
void ShowMnemonic(const util::SecretBytes& mnemonic, Shown shown) {
  std::vector<std::string_view> words;
  std::string_view all = mnemonic.view();
  for (size_t pos = 0; pos < all.size();) {
    size_t end = all.find(' ', pos);
    if (end == std::string_view::npos) end = all.size();
    words.push_back(all.substr(pos, end - pos));
    pos = end + 1;
  }
  std::fputs(
      "\nYour recovery phrase. It is the only way back into this drive if you forget the\n"
      "password or lose this machine, and anyone who has it can read every file. Write the\n"
      "words down on paper, in order, and keep them somewhere safe.\n",
      stdout);
  std::fputs(shown == Shown::kFirstTime
                 ? "This is the only time they are shown without the password.\n\n"
                 : "Clear the screen and the terminal's scrollback when you are done.\n\n",
             stdout);
  const size_t rows = (words.size() + 3) / 4;
  for (size_t r = 0; r < rows; ++r) {
    std::string line = "   ";
    for (size_t c = 0; c < 4; ++c) {
      size_t i = c * rows + r;
      if (i < words.size()) line += fmt::format("{:>2}. {:<10}", i + 1, words[i]);
    }
    std::string_view trimmed(line);
    while (!trimmed.empty() && trimmed.back() == ' ') trimmed.remove_suffix(1);
    fmt::print("{}\n", trimmed);
  }
  std::fputs("\n", stdout);
}

void PrintConfig(const core::DriveConfig& c, const drive::DrivePaths& paths) {
  fmt::print("drive         {}\n", c.name);
  fmt::print("id            {}\n", c.drive_id);
  fmt::print("created       {}\n", c.created);
  fmt::print("block size    {}\n", util::FormatSize(c.block_size));
  fmt::print("erasure code  {} ({} data + {} parity shards per block; any {} may be lost)\n",
             c.erasure.ToString(), c.erasure.data, c.erasure.parity, c.erasure.parity);
  fmt::print("store         {}\n", c.store.ToString());
  for (const core::NodeSpec& n : c.nodes) {
    fmt::print("  node        {:<12} {}{}{}\n", n.id, n.endpoint, n.bucket.empty() ? "" : "/",
               n.bucket);
  }
  fmt::print("cache         {} (up to {})\n", c.cache_dir, util::FormatSize(c.cache_size));
  fmt::print("quota         {}\n",
             c.quota == 0 ? "none (as much as the store takes)" : util::FormatSize(c.quota));
  fmt::print("config        {}\n", paths.config_file);
  fmt::print("keyfile       {}\n", paths.keyfile);
}

Result<core::DriveConfig> BuildConfig(const CommonOptions& common, const InitOptions& o) {
  SHARDFS_TRY(core::ValidateDriveName(o.drive));
  core::DriveConfig c;
  c.name = o.drive;
  auto block = util::ParseSize(o.block_size);
  if (!block.ok()) return block.error().WithContext("--block-size");
  c.block_size = *block;
  SHARDFS_TRY(core::ValidateBlockSize(c.block_size));
  auto ec = core::ErasureCoding::Parse(o.erasure);
  if (!ec.ok()) return ec.error().WithContext("--ec");
  c.erasure = *ec;
  if (o.store.has_value() == o.nodes.has_value()) {
    return MakeError(Errc::kInvalid,
                     "give either --nodes FILE (storage nodes, e.g. the nodes.conf of "
                     "`shardfs devnet up`) or --store dir:PATH (one local directory)");
  }
  if (o.nodes) {
    c.store = {core::StoreSpec::Kind::kNodes, ""};
    SHARDFS_ASSIGN_OR_RETURN(c.nodes, core::ReadNodeListFile(*o.nodes));
  } else {
    auto store = core::StoreSpec::Parse(*o.store);
    if (!store.ok()) return store.error().WithContext("--store");
    c.store = *store;
    if (c.store.kind == core::StoreSpec::Kind::kNodes) {
      return MakeError(Errc::kInvalid, "--store nodes: give the node list with --nodes FILE");
    }
    c.store.path = util::AbsolutePath(c.store.path);
  }
  if (o.cache_dir) {
    c.cache_dir = util::AbsolutePath(*o.cache_dir);
  } else {
    SHARDFS_ASSIGN_OR_RETURN(c.cache_dir, drive::DefaultCacheDir(o.drive, common.location.system,
                                                                 drive::PathEnv::FromProcess()));
  }
  auto cache_size = util::ParseSize(o.cache_size);
  if (!cache_size.ok()) return cache_size.error().WithContext("--cache-size");
  c.cache_size = *cache_size;
  auto quota = util::ParseSize(o.quota);
  if (!quota.ok()) return quota.error().WithContext("--quota");
  c.quota = *quota;
  return c;
}

}  // namespace

Status RunInit(const CommonOptions& common, const InitOptions& o) {
  drive::InitRequest req;
  SHARDFS_ASSIGN_OR_RETURN(req.config, BuildConfig(common, o));
  if (!req.config.nodes.empty()) {
    auto ready = drive::PrepareNodes(req.config);
    if (!ready.ok()) return ready.error().WithContext("the nodes are not ready for a drive");
  }
  SHARDFS_ASSIGN_OR_RETURN(req.config_dir, ConfigDir(common));
  SHARDFS_ASSIGN_OR_RETURN(req.kdf, ParseKdf(o.kdf));
  if (o.mnemonic_file && !o.restore) {
    return MakeError(Errc::kInvalid,
                     "--mnemonic-file is for --restore; a new drive gets new "
                     "words");
  }
  // Refuse early, before asking for a password, when the name is taken.
  drive::DrivePaths paths = drive::DrivePaths::For(req.config_dir, o.drive);
  if (util::PathExists(paths.drive_dir)) {
    return MakeError(Errc::kExists, fmt::format("a drive named '{}' already exists in {}; choose "
                                                "another name (shardfs never overwrites a drive)",
                                                o.drive, paths.drive_dir));
  }
  if (o.restore) {
    if (o.mnemonic_file) {
      SHARDFS_ASSIGN_OR_RETURN(req.restore_mnemonic, ReadSecretFile(*o.mnemonic_file, "mnemonic"));
    } else {
      auto typed = PromptHidden("The drive's 24 words, separated by spaces: ");
      if (!typed.ok()) {
        return MakeError(Errc::kInvalid,
                         "--restore needs the words: pass --mnemonic-file FILE, "
                         "or run in a terminal to type them");
      }
      req.restore_mnemonic = std::move(typed).value();
    }
  }
  if (o.mnemonic_out) req.mnemonic_out = util::AbsolutePath(*o.mnemonic_out);
  SHARDFS_ASSIGN_OR_RETURN(req.password,
                           GetPassword(common.password_file, PasswordUse::kNew,
                                       fmt::format("password for drive '{}'", o.drive)));
  util::SystemClock clock;
  bool restoring = o.restore;
  auto result = drive::CreateDrive(std::move(req), clock);
  if (!result.ok()) {
    if (restoring && result.code() == Errc::kInvalid) {
      return result.error().WithContext("the words given for --restore");
    }
    return result.error();
  }
  fmt::print("{} drive '{}' (id {}).\n", restoring ? "Restored" : "Created", result->config.name,
             result->config.drive_id);
  PrintConfig(result->config, result->paths);
  if (o.mnemonic_out) {
    fmt::print(
        "\nThe recovery phrase was written to {} (mode 0600). Copy it somewhere safe and "
        "offline, then delete that file: anyone who has the words can read the drive.\n",
        *o.mnemonic_out);
  } else if (!restoring) {
    ShowMnemonic(result->mnemonic, Shown::kFirstTime);
  }
  std::fflush(stdout);
  return util::Ok();
}

Status RunInfo(const CommonOptions& common, const std::string& drive) {
  SHARDFS_ASSIGN_OR_RETURN(std::string dir, ConfigDir(common));
  drive::DrivePaths paths = drive::DrivePaths::For(dir, drive);
  SHARDFS_ASSIGN_OR_RETURN(core::DriveConfig config, drive::LoadDriveConfig(paths, drive));
  PrintConfig(config, paths);
  return util::Ok();
}

Status RunList(const CommonOptions& common) {
  SHARDFS_ASSIGN_OR_RETURN(std::string dir, ConfigDir(common));
  auto names = drive::ListDrives(dir);
  if (names.empty()) {
    fmt::print(stderr, "no drives in {}; create one with `shardfs init DRIVE --store dir:PATH`\n",
               dir);
    return util::Ok();
  }
  for (const auto& name : names) {
    auto config = drive::LoadDriveConfig(drive::DrivePaths::For(dir, name), name);
    if (config.ok()) {
      fmt::print("{:<20} {}  {}\n", name, config->drive_id, config->store.ToString());
    } else {
      fmt::print("{:<20} (unreadable: {})\n", name, config.error().message);
    }
  }
  return util::Ok();
}

Status RunShowMnemonic(const CommonOptions& common, const std::string& drive) {
  SHARDFS_ASSIGN_OR_RETURN(std::string dir, ConfigDir(common));
  drive::DrivePaths paths = drive::DrivePaths::For(dir, drive);
  SHARDFS_TRY(drive::LoadDriveConfig(paths, drive));
  SHARDFS_ASSIGN_OR_RETURN(util::SecretBytes password,
                           GetPassword(common.password_file, PasswordUse::kUnlock,
                                       fmt::format("password for drive '{}'", drive)));
  SHARDFS_ASSIGN_OR_RETURN(drive::UnlockedDrive unlocked,
                           drive::UnlockDrive(paths, drive, password));
  ShowMnemonic(unlocked.mnemonic, Shown::kAgain);
  return util::Ok();
}

Status RunPasswd(const CommonOptions& common, const std::string& drive,
                 const std::optional<std::string>& new_password_file, const KdfOptions& kdf) {
  SHARDFS_ASSIGN_OR_RETURN(std::string dir, ConfigDir(common));
  SHARDFS_ASSIGN_OR_RETURN(crypto::KdfParams params, ParseKdf(kdf));
  drive::DrivePaths paths = drive::DrivePaths::For(dir, drive);
  SHARDFS_TRY(drive::LoadDriveConfig(paths, drive));
  std::string what = fmt::format("password for drive '{}'", drive);
  SHARDFS_ASSIGN_OR_RETURN(
      util::SecretBytes old_password,
      GetPassword(common.password_file, PasswordUse::kUnlock, "current " + what));
  // Check the old password before asking for a new one.
  SHARDFS_TRY(drive::UnlockDrive(paths, drive, old_password));
  Result<util::SecretBytes> new_password = new_password_file
                                               ? ReadSecretFile(*new_password_file, "new password")
                                               : PromptHidden(fmt::format("New {}: ", what));
  if (!new_password.ok()) {
    return MakeError(Errc::kInvalid,
                     "no new password: pass --new-password-file FILE, or run in "
                     "a terminal");
  }
  if (!new_password_file) {
    SHARDFS_ASSIGN_OR_RETURN(util::SecretBytes again,
                             PromptHidden(fmt::format("Repeat {}: ", what)));
    if (!(again == *new_password)) {
      return MakeError(Errc::kInvalid, "the two passwords differ; the password was not changed");
    }
  }
  SHARDFS_TRY(drive::ChangePassword(paths, drive, old_password, *new_password, params));
  fmt::print("The password of drive '{}' was changed.\n", drive);
  return util::Ok();
}

}  // namespace shardfs::cli
