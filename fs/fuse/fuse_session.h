// FuseSession: one mounted shardfs filesystem, served by libfuse's multithreaded low-level loop.
// Mount() creates the libfuse session over a core::Filesystem (which must outlive it) with the
// options of mount_options.h, mounts it, and installs libfuse's handlers for SIGINT, SIGTERM and
// SIGHUP (they end the loop). Run() serves requests until the filesystem is unmounted or such a
// signal arrives, then unmounts and calls the core's Shutdown() (seal buffers, wait for pending
// uploads). The destructor unmounts if Run() never did. Not thread-safe: one thread calls Mount,
// Run and the destructor; libfuse's worker threads call into the core meanwhile.
//
// Signals: libfuse's workers block them, but threads the core starts would not. Call
// BlockTerminationSignals() before opening the core, so its threads inherit the mask and the
// signals reach only Run()'s thread, which unblocks them.
#pragma once

#include <memory>
#include <string>

#include "fs/core/filesystem.h"
#include "fs/fuse/mount_options.h"
#include "fs/util/result.h"

namespace shardfs::fuse {

class FuseSession {
 public:
  // default_fsname is used unless options.fsname is set. `mountpoint` must be absolute and is
  // not touched before the mount (a stat would wait for this very daemon).
  static util::Result<std::unique_ptr<FuseSession>> Mount(core::Filesystem& fs,
                                                          const MountOptions& options,
                                                          const std::string& default_fsname,
                                                          const std::string& mountpoint);
  ~FuseSession();
  FuseSession(const FuseSession&) = delete;
  FuseSession& operator=(const FuseSession&) = delete;

  // Serves until unmounted or signalled, unmounts, shuts the core down; returns the core's
  // Shutdown status (or the loop's failure). Call once.
  util::Status Run();

  const std::string& mountpoint() const;

 private:
  struct State;
  explicit FuseSession(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and the threads it creates later).
void BlockTerminationSignals();

}  // namespace shardfs::fuse
