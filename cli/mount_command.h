// The `mount` and `unmount` subcommands.
//
// mount checks the mount point and the -o options, then unlocks the drive while still attached
// to the terminal (a wrong password is reported there). Unless -f, it forks a daemon: the child
// leaves the terminal's session, logs to syslog, opens the drive's filesystem (after the fork:
// threads do not survive one), mounts it, and only then tells the waiting parent through a pipe
// that the drive is mounted, or why not; the parent prints that and exits. With -f everything
// runs in the foreground, logging to stderr. Either way SIGINT, SIGTERM or SIGHUP unmount
// cleanly, and the process exits after the core's Shutdown (pending uploads done).
//
// While it holds the drive, the daemon keeps its pid in <cache dir>/daemon.pid (for service
// managers and people) and listens on a socket named after its mount (fs/fuse/daemon_socket.h).
// unmount finds the mount in /proc/self/mountinfo, unmounts it (umount2 as root, else
// `fusermount3 -u`) and waits on that socket until the daemon has exited; it does not need the
// drive's name, config or cache directory, so it works for any fsname= or subtype=.
//
// For mount(8) and /etc/fstab the -o options also say where the drive and its password are
// (config=, config_dir=, password_file=, or the systemd credential shardfs.password). A mount
// never prompts unless stdin is a terminal, and one whose drive is on nodes first probes them
// briefly, failing at once when fewer than k answer: a boot never hangs on a mount.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"
#include "fs/util/result.h"

namespace shardfs::cli {

struct MountCommandOptions {
  std::string drive;  // NAME, or shardfs:NAME (the form for drives named like a command)
  std::string mountpoint;
  bool foreground = false;
  std::vector<std::string> options;  // the text of each -o, in order
  // Run by mount(8) as `shardfs DRIVE DIR -o OPTS`: the default fsname is DRIVE as written (so
  // findmnt and `mount -a` see the fstab source), and since mount(8) clears $HOME, root's default
  // config directory is /etc/shardfs.
  bool from_mount_helper = false;
};

util::Status RunMount(const CommonOptions& common, const MountCommandOptions& options);
util::Status RunUnmount(const std::string& mountpoint);

// The -o options and how the daemon behaves, for `shardfs mount --help`.
std::string MountHelpFooter();

}  // namespace shardfs::cli
