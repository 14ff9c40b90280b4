// shardfs: the client program. main builds the command line, runs one subcommand and turns its
// Status into an exit code: 0 success, 1 the command failed (one "shardfs: error:" line),
// 2 bad usage.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/devnet_command.h"
#include "cli/mount_command.h"
#include "cli/status_command.h"

namespace {

constexpr const char* kFooter = R"(
Passwords come from --password-file FILE, else $SHARDFS_PASSWORD_FILE, else
$SHARDFS_PASSWORD, else a prompt on the terminal.
The config directory is --config-dir, else /etc/shardfs with --system, else
$SHARDFS_CONFIG_DIR, else $XDG_CONFIG_HOME/shardfs, else ~/.config/shardfs.
Run `shardfs COMMAND --help` for the options of each command.
mount(8) and /etc/fstab (type fuse.shardfs) run `shardfs DRIVE DIR -o OPTS`, which is
`shardfs mount DRIVE DIR -o OPTS`; a command name always wins, so a drive named like a
command is written shardfs:NAME there.)";

// Binds an option to a std::optional<std::string> (CLI11 2.1 has no direct support).
CLI::Option* AddOptional(CLI::App* app, const std::string& name, std::optional<std::string>& out,
                         const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name, [&out](const std::string& v) { out = v; }, help)
      ->type_name("TEXT");
}

void AddCommon(CLI::App* cmd, shardfs::cli::CommonOptions& common, bool password) {
  AddOptional(cmd, "--config-dir", common.location.config_dir,
              "Directory holding the drives' configuration (see below for the default)")
      ->type_name("DIR");
  cmd->add_flag("--system", common.location.system,
                "Use the system-wide config directory /etc/shardfs (and /var/cache/shardfs)");
  if (password) {
    AddOptional(cmd, "--password-file", common.password_file,
                "Read the drive's password from FILE (first line; keep it mode 0600)")
        ->type_name("FILE");
  }
}

void AddKdf(CLI::App* cmd, shardfs::cli::KdfOptions& kdf) {
  cmd->add_option("--kdf-memory", kdf.memory,
                  "Memory Argon2id uses to turn the password into a key (8M..4G)")
      ->capture_default_str()
      ->type_name("SIZE");
  cmd->add_option("--kdf-passes", kdf.passes, "Argon2id passes over that memory (1..64)")
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  using shardfs::cli::CommonOptions;
  CLI::App app{
      "shardfs: an end-to-end encrypted drive whose blocks are erasure-coded over "
      "independent storage nodes, mounted as a local directory.",
      "shardfs"};
  app.set_version_flag("--version", std::string("shardfs ") + SHARDFS_VERSION);
  app.require_subcommand(1);
  app.footer(kFooter);
  app.set_help_all_flag("--help-all", "Show the help of every command");

  CommonOptions common;
  shardfs::cli::InitOptions init;
  auto* init_cmd = app.add_subcommand(
      "init", "Create a drive: new 24-word recovery phrase, keys, config and keyfile");
  init_cmd->add_option("DRIVE", init.drive, "Name of the new drive (letters, digits, . _ -)")
      ->required();
  AddCommon(init_cmd, common, true);
  AddOptional(init_cmd, "--nodes", init.nodes,
              "Storage nodes to spread each block's shards over: a node list file, such as "
              "the nodes.conf `shardfs devnet up` writes (see docs/nodes.md)")
      ->type_name("FILE");
  AddOptional(init_cmd, "--store", init.store,
              "Instead of nodes, one local directory holding whole encrypted blocks: dir:PATH")
      ->type_name("STORE");
  init_cmd
      ->add_option("--block-size", init.block_size,
                   "Size of the blocks files are cut into: a power of two, 4K..64M")
      ->capture_default_str()
      ->type_name("SIZE");
  init_cmd
      ->add_option("--ec", init.erasure,
                   "Erasure coding K+M: K data + M parity shards per block; any M nodes "
                   "may be lost (1+M mirrors)")
      ->capture_default_str()
      ->type_name("K+M");
  AddOptional(init_cmd, "--cache-dir", init.cache_dir,
              "Local cache of blocks and metadata (default ~/.cache/shardfs/DRIVE)")
      ->type_name("DIR");
  init_cmd
      ->add_option("--cache-size", init.cache_size,
                   "Most disk space the block cache uses, e.g. 512M, 32G")
      ->capture_default_str()
      ->type_name("SIZE");
  init_cmd
      ->add_option("--quota", init.quota,
                   "Most data the drive stores (df shows it as its size; 0: no limit)")
      ->capture_default_str()
      ->type_name("SIZE");
  init_cmd->add_flag("--restore", init.restore,
                     "Re-create an existing drive from its 24 words instead of making new ones");
  AddOptional(init_cmd, "--mnemonic-file", init.mnemonic_file,
              "With --restore: read the 24 words from FILE instead of the terminal")
      ->type_name("FILE");
  AddOptional(init_cmd, "--mnemonic-out", init.mnemonic_out,
              "Write the new words to FILE (mode 0600, must not exist) instead of showing them")
      ->type_name("FILE");
  AddKdf(init_cmd, init.kdf);

  std::string drive;
  auto* info_cmd = app.add_subcommand("info", "Show a drive's configuration (no password)");
  info_cmd->add_option("DRIVE", drive, "Drive name")->required();
  AddCommon(info_cmd, common, false);

  auto* list_cmd = app.add_subcommand("list", "List the drives in the config directory");
  AddCommon(list_cmd, common, false);

  auto* show_cmd = app.add_subcommand(
      "show-mnemonic", "Print a drive's 24-word recovery phrase (asks for the password)");
  show_cmd->add_option("DRIVE", drive, "Drive name")->required();
  AddCommon(show_cmd, common, true);

  std::optional<std::string> new_password_file;
  shardfs::cli::KdfOptions passwd_kdf;
  auto* passwd_cmd = app.add_subcommand("passwd", "Change the password that unlocks a drive");
  passwd_cmd->add_option("DRIVE", drive, "Drive name")->required();
  AddCommon(passwd_cmd, common, true);
  AddOptional(passwd_cmd, "--new-password-file", new_password_file,
              "Read the new password from FILE instead of the terminal")
      ->type_name("FILE");
  AddKdf(passwd_cmd, passwd_kdf);

  shardfs::cli::MountCommandOptions mount;
  auto* mount_cmd = app.add_subcommand(
      "mount", "Mount a drive on a directory; runs in the background until unmounted");
  mount_cmd->add_option("DRIVE", mount.drive, "Drive name")->required();
  mount_cmd
      ->add_option("MOUNTPOINT", mount.mountpoint, "An existing directory to show the drive in")
      ->required();
  mount_cmd->add_flag("-f,--foreground", mount.foreground,
                      "Stay in the foreground and log to stderr; Ctrl-C unmounts");
  mount_cmd->add_option("-o", mount.options, "Mount options, comma-separated (see below)")
      ->type_name("OPTS")
      ->allow_extra_args(false);
  AddCommon(mount_cmd, common, true);
  mount_cmd->footer(shardfs::cli::MountHelpFooter());

  std::string unmount_point;
  auto* unmount_cmd =
      app.add_subcommand("unmount", "Unmount a drive and wait until its pending uploads are done");
  unmount_cmd->alias("umount");
  unmount_cmd->add_option("MOUNTPOINT", unmount_point, "Where the drive is mounted")->required();

  std::optional<std::string> status_point;
  auto* status_cmd = app.add_subcommand(
      "status", "Show uploads waiting, cache use and each node's health of mounted drives");
  status_cmd->add_option_function<std::string>(
      "MOUNTPOINT", [&status_point](const std::string& v) { status_point = v; },
      "One drive's mount point (default: every mounted shardfs drive)");
  std::string sync_point;
  auto* sync_cmd = app.add_subcommand(
      "sync", "Wait, with progress, until everything written to a drive is stored on its nodes");
  sync_cmd->add_option("MOUNTPOINT", sync_point, "Where the drive is mounted")->required();

  shardfs::cli::DevnetOptions devnet;
  auto* devnet_cmd = app.add_subcommand(
      "devnet", "Run local storage nodes (shardfs-node) on 127.0.0.1 for trying shardfs out");
  devnet_cmd->add_option("ACTION", devnet.action, "up, down or status")
      ->required()
      ->check(CLI::IsMember({"up", "down", "status"}));
  devnet_cmd->add_option("--nodes", devnet.nodes, "How many nodes `up` starts")
      ->capture_default_str();
  AddOptional(devnet_cmd, "--dir", devnet.dir,
              "Where the nodes keep their data, logs and the node list nodes.conf (default "
              "~/.local/share/shardfs/devnet)")
      ->type_name("DIR");
  AddOptional(devnet_cmd, "--node-bin", devnet.node_bin,
              "The shardfs-node program (default: beside shardfs, else on PATH)")
      ->type_name("PATH");
  devnet_cmd->add_option("--quota", devnet.quota, "Bytes each node stores at most (0: no limit)")
      ->capture_default_str()
      ->type_name("SIZE");

  // mount.fuse3 runs `shardfs DRIVE DIR -o OPTS` for mount(8) and /etc/fstab: a first argument
  // that is neither an option nor a command (or its alias) is a drive to mount.
  std::vector<char*> args(argv, argv + argc);
  if (argc >= 3 && argv[1][0] != '-') {
    bool command = false;
    for (const CLI::App* sub : app.get_subcommands({})) command |= sub->check_name(argv[1]);
    if (!command) {
      static char kMount[] = "mount";
      args.insert(args.begin() + 1, kMount);
      mount.from_mount_helper = true;
    }
  }
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with 0; CLI11's own codes for usage errors become 2.
    return app.exit(e) == 0 ? 0 : 2;
  }

  shardfs::util::Status status;
  if (init_cmd->parsed()) {
    status = shardfs::cli::RunInit(common, init);
  } else if (info_cmd->parsed()) {
    status = shardfs::cli::RunInfo(common, drive);
  } else if (list_cmd->parsed()) {
    status = shardfs::cli::RunList(common);
  } else if (show_cmd->parsed()) {
    status = shardfs::cli::RunShowMnemonic(common, drive);
  } else if (passwd_cmd->parsed()) {
    status = shardfs::cli::RunPasswd(common, drive, new_password_file, passwd_kdf);
  } else if (mount_cmd->parsed()) {
    status = shardfs::cli::RunMount(common, mount);
  } else if (unmount_cmd->parsed()) {
    status = shardfs::cli::RunUnmount(unmount_point);
  } else if (status_cmd->parsed()) {
    status = shardfs::cli::RunStatus(status_point);
  } else if (sync_cmd->parsed()) {
    status = shardfs::cli::RunSync(sync_point);
  } else if (devnet_cmd->parsed()) {
    status = shardfs::cli::RunDevnet(devnet);
  }
  if (!status.ok()) {
    std::fflush(stdout);
    fmt::print(stderr, "shardfs: error: {}\n", status.error().message);
    return 1;
  }
  return 0;
}
