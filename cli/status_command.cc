#include "cli/status_command.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "fs/fuse/control_socket.h"
#include "fs/util/files.h"
#include "fs/util/units.h"

namespace shardfs::cli {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {

uid_t DaemonUid(const fuse::MountEntry& m) { return fuse::MountOwner(m).value_or(0); }

std::string Duration(double seconds) {
  if (seconds < 0 || seconds > 360000) return "?";
  const auto s = static_cast<uint64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

// One progress line: bar, what is left, rate, time left.
std::string ProgressLine(const core::DriveStatus& st, uint64_t total_bytes, double rate) {
  constexpr int kWidth = 24;
  const double done = total_bytes == 0
                          ? 1.0
                          : 1.0 - static_cast<double>(std::min(st.pending_bytes, total_bytes)) /
                                      static_cast<double>(total_bytes);
  const int filled = static_cast<int>(done * kWidth);
  std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '-');
  std::string line = fmt::format("[{}] {:3.0f}%  {} in {} blocks left", bar, done * 100,
                                 util::HumanSize(st.pending_bytes), st.pending_blocks);
  if (rate > 0) {
    line += fmt::format("  {:.1f} MB/s  {} left", rate / 1e6,
                        Duration(static_cast<double>(st.pending_bytes) / rate));
  }
  if (!st.last_upload_error.empty()) line += "  (retrying: " + st.last_upload_error + ")";
  return line;
}

void PrintStatus(const fuse::MountEntry& m, const fuse::MountStatus& mount) {
  const core::DriveStatus& st = mount.drive;
  fmt::print("{} on {}{}\n", m.source, m.mount_point, st.read_only ? " (read-only)" : "");
  fmt::print("  store      {}\n", st.store);
  fmt::print("  uploads    {} blocks, {} waiting; {} stored since mount{}\n", st.pending_blocks,
             util::HumanSize(st.pending_bytes), util::HumanSize(st.uploaded_bytes),
             st.last_upload_error.empty() ? "" : "; last error: " + st.last_upload_error);
  fmt::print(
      "  deletes    {} blocks of deleted or overwritten files still to delete from the "
      "store\n",
      st.pending_deletes);
  fmt::print("  cache      {} of {} used, {} not yet uploaded; {} hits, {} misses\n",
             util::HumanSize(st.cache_used_bytes), util::HumanSize(st.cache_budget_bytes),
             util::HumanSize(st.cache_dirty_bytes), st.cache_hits, st.cache_misses);
  if (st.cache_capacity_bytes < st.cache_budget_bytes) {
    fmt::print("             its disk has room for {} only: it evicts and waits for uploads\n",
               util::HumanSize(st.cache_capacity_bytes));
  }
  fmt::print("  memory     {} of {} in file buffers\n", util::HumanSize(st.buffer_bytes),
             util::HumanSize(st.buffer_budget_bytes));
  fmt::print("  readahead  {} blocks loaded ahead of readers; {} reads waited for a block\n",
             st.readahead_blocks, st.read_waits);
  fmt::print("  sealed     {} blocks in {} metadata commits (blocks of small files share them)\n",
             st.sealed_blocks, st.seal_commits);
  if (mount.uring_entries > 0) {
    fmt::print("  requests   io_uring, served on the caller's CPU ({} ring entries); {} served\n",
               mount.uring_entries, mount.uring_requests);
  } else {
    fmt::print("  requests   /dev/fuse (io_uring is off: see `shardfs mount --help`)\n");
  }
  if (st.nodes.empty()) return;
  fmt::print("  {:<12} {:<8} {:>10} {:>7} {:>8} {:>6}  {}\n", "node", "health", "latency", "errors",
             "stored", "bad", "endpoint");
  for (const auto& n : st.nodes) {
    fmt::print("  {:<12} {:<8} {:>8.1f}ms {:>6.1f}% {:>8} {:>6}  {}{}\n", n.name,
               !n.healthy         ? "DOWN"
               : n.bad_shards > 0 ? "damaged"
                                  : "ok",
               n.latency_ms, n.error_rate * 100, n.shards_stored, n.bad_shards, n.endpoint,
               n.last_error.empty() ? "" : "  (" + n.last_error + ")");
  }
}

bool IsShardfs(const fuse::MountEntry& m) {
  return m.fs_type == "fuse.shardfs" || m.fs_type == "fuse" || m.source.rfind("shardfs", 0) == 0;
}

}  // namespace

Result<fuse::MountEntry> FindMount(const std::string& path) {
  std::string target = fuse::NormalizePath(util::AbsolutePath(path));
  SHARDFS_ASSIGN_OR_RETURN(std::vector<fuse::MountEntry> mounts, fuse::ReadMountTable());
  const fuse::MountEntry* mount = fuse::FindMountAt(mounts, target);
  if (mount == nullptr) {
    char real[PATH_MAX];
    if (::realpath(target.c_str(), real) != nullptr) mount = fuse::FindMountAt(mounts, real);
  }
  if (mount == nullptr) {
    return MakeError(Errc::kNotFound, fmt::format("nothing is mounted at {}", target));
  }
  return *mount;
}

Status SyncWithProgress(const fuse::MountEntry& m) {
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto last_print = start - std::chrono::hours(1);
  uint64_t total = 0, first_uploaded = 0, printed = 0;
  bool first = true, done = false;
  std::string error, store;
  Status s = fuse::ControlRequest(
      m.major, m.minor, DaemonUid(m), "sync", [&](std::string_view line) -> Status {
        if (line.find("\"done\"") != std::string_view::npos) {
          done = true;
          return util::Ok();
        }
        if (line.rfind("{\"error\"", 0) == 0) {
          error = std::string(line);
          return util::Ok();
        }
        SHARDFS_ASSIGN_OR_RETURN(fuse::MountStatus mount, fuse::StatusFromJson(line));
        const core::DriveStatus& st = mount.drive;
        if (first) {
          first_uploaded = st.uploaded_bytes;
          store = st.store;
          first = false;
        }
        total = std::max(total, st.pending_bytes);
        const double secs = std::chrono::duration<double>(Clock::now() - start).count();
        const double rate =
            secs > 0.5 ? static_cast<double>(st.uploaded_bytes - first_uploaded) / secs : 0;
        const auto now = Clock::now();
        if (st.pending_blocks > 0 && (tty || now - last_print >= std::chrono::seconds(5))) {
          fmt::print(stderr, "{}{}", tty ? "\r\033[K" : "", ProgressLine(st, total, rate));
          if (!tty) fmt::print(stderr, "\n");
          last_print = now;
          ++printed;
        }
        return util::Ok();
      });
  if (tty && printed > 0) fmt::print(stderr, "\r\033[K");
  SHARDFS_TRY(s);
  if (!error.empty()) return MakeError(Errc::kUnavailable, "the daemon says: " + error);
  if (!done) return MakeError(Errc::kUnavailable, "the daemon stopped before the sync finished");
  if (total > 0) {
    // A dir: store is one directory, not nodes.
    const std::string where = store.starts_with("dir:") ? "in " + store : "on the nodes";
    fmt::print(stderr, "stored {} {} in {}\n", util::HumanSize(total), where,
               Duration(std::chrono::duration<double>(Clock::now() - start).count()));
  }
  return util::Ok();
}

Status RunSync(const std::string& mountpoint) {
  SHARDFS_ASSIGN_OR_RETURN(fuse::MountEntry m, FindMount(mountpoint));
  Status s = SyncWithProgress(m);
  if (s.code() == Errc::kNotFound) {
    return MakeError(Errc::kNotFound,
                     fmt::format("{} is not served by a running shardfs daemon", m.mount_point));
  }
  SHARDFS_TRY(s);
  fmt::print("{}: everything written is stored\n", m.mount_point);
  return util::Ok();
}

Status RunStatus(const std::optional<std::string>& mountpoint) {
  std::vector<fuse::MountEntry> targets;
  if (mountpoint) {
    SHARDFS_ASSIGN_OR_RETURN(fuse::MountEntry m, FindMount(*mountpoint));
    targets.push_back(m);
  } else {
    SHARDFS_ASSIGN_OR_RETURN(std::vector<fuse::MountEntry> mounts, fuse::ReadMountTable());
    for (const auto& m : mounts)
      if (IsShardfs(m)) targets.push_back(m);
    if (targets.empty()) {
      fmt::print("no shardfs drive is mounted\n");
      return util::Ok();
    }
  }
  Status first_error = util::Ok();
  for (const auto& m : targets) {
    Status s = fuse::ControlRequest(
        m.major, m.minor, DaemonUid(m), "status", [&](std::string_view line) -> Status {
          SHARDFS_ASSIGN_OR_RETURN(fuse::MountStatus st, fuse::StatusFromJson(line));
          PrintStatus(m, st);
          return util::Ok();
        });
    if (!s.ok()) {
      fmt::print("{} on {}: {}\n", m.source, m.mount_point, s.error().message);
      if (first_error.ok() && mountpoint) first_error = s;
    }
  }
  return first_error;
}

}  // namespace shardfs::cli
