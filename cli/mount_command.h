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
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"
#include "fs/util/result.h"

namespace shardfs::cli {

struct MountCommandOptions {
  std::string drive;
  std::string mountpoint;
  bool foreground = false;
  std::vector<std::string> options;  // the text of each -o, in order
};

util::Status RunMount(const CommonOptions& common, const MountCommandOptions& options);
util::Status RunUnmount(const std::string& mountpoint);

// The -o options and how the daemon behaves, for `shardfs mount --help`.
std::string MountHelpFooter();

}  // namespace shardfs::cli
