#include "cli/mount_command.h"

#include <fcntl.h>
#include <malloc.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/drive/drive_fs.h"
#include "cli/drive/drive_probe.h"
#include "cli/drive/drive_unlock.h"
#include "cli/password.h"
#include "cli/remount_command.h"
#include "cli/status_command.h"
#include "fs/fuse/control_socket.h"
#include "fs/fuse/daemon_socket.h"
#include "fs/fuse/fuse_session.h"
#include "fs/fuse/mount_options.h"
#include "fs/fuse/mount_table.h"
#include "fs/util/files.h"
#include "fs/util/log.h"
#include "fs/util/units.h"

extern char** environ;

namespace shardfs::cli {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {

constexpr const char* kPidFileName = "daemon.pid";
constexpr int kQuietWaitMs = 1000;  // unmount says it is waiting after this long
// How long a mount waits for each storage node to answer (all at once) before giving up on it.
constexpr std::chrono::milliseconds kProbeTimeout{5000};
constexpr std::string_view kSourcePrefix = "shardfs:";
constexpr const char* kCredentialName = "shardfs.password";  // systemd LoadCredential=

// What serving a drive needs once it is unlocked.
struct ServeRequest {
  drive::UnlockedDrive drive;
  fuse::MountOptions options;
  std::string drive_name;
  std::string mountpoint;  // absolute, symlinks resolved
};

// Told exactly once: the error that kept the drive from being mounted, or Ok once it is, with
// a warning for the user ("" when there is none).
using ReportFn = std::function<void(const Status&, const std::string& warning)>;

bool IsShardfsType(const fuse::MountEntry& m) {
  return m.fs_type == "fuse." + std::string(fuse::kSubtype);
}

Result<std::string> CheckMountpoint(const std::string& path) {
  std::string abs = util::AbsolutePath(path);
  struct stat st {};
  if (::stat(abs.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return MakeError(Errc::kNotFound, fmt::format("the mount point {} does not exist; create "
                                                    "it with `mkdir -p {}`",
                                                    abs, abs));
    }
    if (err == ENOTCONN) {
      return MakeError(Errc::kInvalid,
                       fmt::format("{} is still mounted by a FUSE daemon that has died; clear "
                                   "it with `shardfs unmount {}` and mount again",
                                   abs, abs));
    }
    return util::ErrnoError(err, fmt::format("cannot use the mount point {}", abs));
  }
  if (!S_ISDIR(st.st_mode)) {
    return MakeError(Errc::kNotDir, fmt::format("the mount point {} is not a directory", abs));
  }
  char real[PATH_MAX];
  if (::realpath(abs.c_str(), real) == nullptr) {
    return util::ErrnoError(errno, fmt::format("cannot resolve the mount point {}", abs));
  }
  std::string canonical = real;
  if (auto mounts = fuse::ReadMountTable(); mounts.ok()) {
    const fuse::MountEntry* m = fuse::FindMountAt(*mounts, canonical);
    if (m != nullptr && IsShardfsType(*m)) {
      return MakeError(Errc::kExists,
                       fmt::format("{} is already a shardfs mount (of {}); unmount it first with "
                                   "`shardfs unmount {}`",
                                   canonical, m->source, canonical));
    }
  }
  return canonical;
}

// <cache dir>/daemon.pid while the daemon holds the drive's lock.
class PidFile {
 public:
  explicit PidFile(std::string path) : path_(std::move(path)) {
    Status written =
        util::WriteFileAtomic(path_, util::AsBytes(fmt::format("{}\n", ::getpid())), 0644);
    if (!written.ok()) {
      spdlog::warn("cannot write the pid file: {}", written.error().message);
      path_.clear();
    }
  }
  ~PidFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  std::string path_;
};

// The socket `shardfs unmount` waits on; without it unmount still works, without waiting.
std::optional<fuse::DaemonListener> ListenForUnmount(const std::string& mountpoint) {
  auto mounts = fuse::ReadMountTable();
  const fuse::MountEntry* m = mounts.ok() ? fuse::FindMountAt(*mounts, mountpoint) : nullptr;
  if (m == nullptr) {
    spdlog::warn("{} is not in the mount table; `shardfs unmount` will not wait for uploads",
                 mountpoint);
    return std::nullopt;
  }
  auto listener = fuse::DaemonListener::Listen(m->major, m->minor);
  if (!listener.ok()) {
    spdlog::warn("{}; `shardfs unmount` will not wait for uploads", listener.error().message);
    return std::nullopt;
  }
  return std::move(listener).value();
}

// The control socket `shardfs status/sync` talk to; without it the drive still works.
std::unique_ptr<fuse::ControlServer> StartControl(core::Filesystem& fs,
                                                  const std::string& mountpoint) {
  auto mounts = fuse::ReadMountTable();
  const fuse::MountEntry* m = mounts.ok() ? fuse::FindMountAt(*mounts, mountpoint) : nullptr;
  if (m == nullptr) return nullptr;
  auto server = fuse::ControlServer::Start(fs, m->major, m->minor);
  if (!server.ok()) {
    spdlog::warn("shardfs status and sync will not reach this drive: {}", server.error().message);
    return nullptr;
  }
  return std::move(server).value();
}

// What the user who mounts should know at once: a cache whose disk cannot hold its size.
std::string MountWarning(core::Filesystem& fs, const std::string& cache_dir) {
  const core::DriveStatus st = fs.GetStatus();
  if (st.cache_capacity_bytes >= st.cache_budget_bytes) return "";
  return fmt::format(
      "the disk of the cache directory {} has room for {} of cache, less than its size of {} "
      "(cache_size=): the cache evicts what is stored and has writers wait for uploads to stay "
      "within it; free space there or choose a smaller cache_size to silence this",
      cache_dir, util::HumanSize(st.cache_capacity_bytes), util::HumanSize(st.cache_budget_bytes));
}

// Opens, mounts and serves the drive until it is unmounted.
Status ServeDrive(ServeRequest request, const ReportFn& report) {
  fuse::BlockTerminationSignals();  // before the core starts threads
  // Allocations of 1 MiB and more (blocks, sealed blocks, shards) come from util::BigHeap
  // (cli/new_delete.cc), which bounds what freed ones keep resident. For the rest: a fixed
  // mmap threshold (no fresh zeroed pages for mid-sized buffers), two arenas and a trim
  // threshold (glibc's defaults, one arena per thread with a threshold that grows, had the
  // daemon at 474 MiB after a 1 GiB write).
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  core::FsOptions fs_options;
  fs_options.writeback_cache = request.options.writeback_cache;
  fs_options.read_only = request.options.read_only;
  const std::string pid_path = request.drive.config.cache_dir + "/" + kPidFileName;

  // Destroyed in reverse: the session, the pid file, the filesystem (releasing the drive), and
  // last the listener, whose closing tells `shardfs unmount` that everything is done.
  std::optional<fuse::DaemonListener> listener;
  auto unreachable = drive::ProbeNodes(request.drive.config, kProbeTimeout);
  if (!unreachable.ok()) {
    report(unreachable.error(), "");
    return unreachable.error();
  }
  for (const std::string& node : *unreachable) {
    spdlog::warn("mounting without {}; enough nodes answered to read and write", node);
  }
  const std::string cache_dir = request.drive.config.cache_dir;
  auto fs = drive::OpenDriveFilesystem(std::move(request.drive), fs_options);
  if (!fs.ok()) {
    Status error =
        fs.error().WithContext(fmt::format("cannot open drive '{}'", request.drive_name));
    report(error, "");
    return error;
  }
  PidFile pid_file(pid_path);
  auto session = fuse::FuseSession::Mount(**fs, request.options, "shardfs:" + request.drive_name,
                                          request.mountpoint);
  if (!session.ok()) {
    report(session.error(), "");
    return session.error();
  }
  listener = ListenForUnmount(request.mountpoint);
  std::unique_ptr<fuse::ControlServer> control = StartControl(**fs, request.mountpoint);
  const std::string warning = MountWarning(**fs, cache_dir);
  if (!warning.empty()) spdlog::warn("{}", warning);
  report(util::Ok(), warning);
  Status status = (*session)->Run();
  if (status.ok()) {
    spdlog::info("drive '{}' is unmounted and its data stored", request.drive_name);
  }
  return status;
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone: nobody to tell
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// One status byte (0 mounted, else 1 + the Errc) and the error message, or once mounted a
// warning for the user.
void SendReadiness(int fd, const Status& status, const std::string& warning) {
  std::string message(1, '\0');
  if (!status.ok()) {
    message[0] = static_cast<char>(1 + static_cast<int>(status.code()));
    message += status.error().message;
  } else {
    message += warning;
  }
  WriteAll(fd, message);
}

void RedirectToDevNull(int target_fd) {
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return;
  ::dup2(null_fd, target_fd);
  ::close(null_fd);
}

std::string DescribeExit(int wstatus) {
  if (WIFEXITED(wstatus)) return fmt::format("exit code {}", WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) return fmt::format("killed by {}", strsignal(WTERMSIG(wstatus)));
  return "still running";
}

// The parent: waits for the daemon's readiness report. `announce`: say so on stdout once
// mounted (mount(8) is silent on success).
Status AwaitDaemon(int fd, pid_t pid, const ServeRequest& request, bool announce) {
  std::string report;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (report.empty()) {
    int wstatus = 0;
    bool exited = ::waitpid(pid, &wstatus, WNOHANG) == pid;
    return MakeError(Errc::kInternal,
                     fmt::format("the shardfs daemon (pid {}) stopped before mounting ({}); its "
                                 "log is in the system log (journalctl -t shardfs)",
                                 pid, exited ? DescribeExit(wstatus) : "no report"));
  }
  if (report[0] == '\0') {
    if (report.size() > 1) fmt::print(stderr, "shardfs: warning: {}\n", report.substr(1));
    if (!announce) return util::Ok();
    fmt::print("mounted {} at {}; unmount with `shardfs unmount {}`\n", request.drive_name,
               request.mountpoint, request.mountpoint);
    return util::Ok();
  }
  int code = static_cast<unsigned char>(report[0]) - 1;
  if (code > static_cast<int>(Errc::kInternal)) code = static_cast<int>(Errc::kInternal);
  return MakeError(static_cast<Errc>(code), report.substr(1));
}

Status RunDaemon(ServeRequest request, const std::string& log_level, bool announce) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return util::ErrnoError(errno, "cannot create a pipe");
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return util::ErrnoError(err, "cannot start the shardfs daemon");
  }
  if (pid > 0) {
    ::close(fds[1]);
    return AwaitDaemon(fds[0], pid, request, announce);
  }
  // The daemon. stderr stays on the terminal until the report, for fusermount3's messages.
  ::close(fds[0]);
  ::setsid();
  if (::chdir("/") != 0) spdlog::warn("cannot chdir to /");
  RedirectToDevNull(STDIN_FILENO);
  RedirectToDevNull(STDOUT_FILENO);
  util::InitLogging(util::LogSink::kSyslog, log_level);
  int ready_fd = fds[1];
  Status status =
      ServeDrive(std::move(request), [&ready_fd](const Status& ready, const std::string& warning) {
        SendReadiness(ready_fd, ready, warning);
        ::close(ready_fd);
        ready_fd = -1;
        RedirectToDevNull(STDERR_FILENO);
      });
  if (ready_fd >= 0) {  // not reached: ServeDrive always reports
    SendReadiness(ready_fd, status.ok() ? Status(MakeError(Errc::kInternal, "no report")) : status,
                  "");
    ::close(ready_fd);
  }
  if (!status.ok()) spdlog::error("{}", status.error().message);
  return status;
}

Status RunForeground(ServeRequest request) {
  const std::string drive = request.drive_name;
  const std::string mountpoint = request.mountpoint;
  return ServeDrive(std::move(request), [&](const Status& ready, const std::string& warning) {
    if (!warning.empty()) fmt::print(stderr, "shardfs: warning: {}\n", warning);
    if (ready.ok()) {
      fmt::print(stderr, "mounted {} at {}; unmount with `shardfs unmount {}`\n", drive, mountpoint,
                 mountpoint);
    }
  });
}

Status UnmountAt(const std::string& mountpoint) {
  if (::geteuid() == 0) {
    if (::umount2(mountpoint.c_str(), UMOUNT_NOFOLLOW) == 0) return util::Ok();
    int err = errno;
    if (err == EBUSY) {
      return MakeError(Errc::kInvalid,
                       fmt::format("{} is busy: a process has a file open or its working "
                                   "directory there (`fuser -vm {}` shows which)",
                                   mountpoint, mountpoint));
    }
    return util::ErrnoError(err, fmt::format("cannot unmount {}", mountpoint));
  }
  const char* argv[] = {"fusermount3", "-u", "--", mountpoint.c_str(), nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, "fusermount3", nullptr, nullptr, const_cast<char* const*>(argv),
                          environ);
  if (rc != 0) return util::ErrnoError(rc, "cannot run fusermount3 (part of the fuse3 package)");
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return util::ErrnoError(errno, "cannot wait for fusermount3");
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return MakeError(Errc::kInvalid, fmt::format("fusermount3 could not unmount {} (its message "
                                                 "is above)",
                                                 mountpoint));
  }
  return util::Ok();
}

// Only the mount's owner or root may stand for its daemon (anyone can bind a socket name).
bool TrustedDaemon(const fuse::DaemonConnection& daemon, const fuse::MountEntry& mount) {
  if (daemon.uid() == 0) return true;
  std::optional<uint32_t> owner = fuse::MountOwner(mount);
  return owner.has_value() && *owner == daemon.uid();
}

// The drive's files: config= names them, else the config directory (config_dir=, the CLI's
// flags, the environment) holds them under the drive's name.
Result<drive::DrivePaths> FindDrive(const CommonOptions& common, const fuse::MountOptions& options,
                                    const MountCommandOptions& o, const std::string& drive) {
  if (options.config) {
    std::string dir = *options.config;
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      dir = dir.substr(0, dir.find_last_of('/'));  // config.json: its directory
    }
    drive::DrivePaths paths;
    paths.config_dir = paths.drives_dir = paths.drive_dir = dir;
    paths.config_file = dir + "/config.json";
    paths.keyfile = dir + "/keyfile";
    return paths;
  }
  drive::DriveLocation location = common.location;
  if (options.config_dir) location.config_dir = options.config_dir;
  drive::PathEnv env = drive::PathEnv::FromProcess();
  const bool located = location.config_dir || location.system || !env.shardfs_config_dir.empty();
  if (o.from_mount_helper && !located && ::geteuid() == 0) {
    // Through mount(8) at boot, root's drives are the system's (shardfs init --system):
    // mount(8) clears $HOME, and mount.fuse3 then sets it to /root for the filesystem, so
    // /etc/shardfs comes first, then root's own config directory.
    const drive::DrivePaths system = drive::DrivePaths::For("/etc/shardfs", drive);
    if (env.home.empty() || util::PathExists(system.config_file)) location.system = true;
  } else if (o.from_mount_helper && env.home.empty()) {
    // A user's mount(8) call: their drives are under their home.
    if (const struct passwd* pw = ::getpwuid(::geteuid()); pw != nullptr) env.home = pw->pw_dir;
  }
  SHARDFS_ASSIGN_OR_RETURN(std::string dir, drive::ResolveConfigDir(location, env));
  return drive::DrivePaths::For(dir, drive);
}

// password_file=, else --password-file, else the systemd credential, else the environment, else
// the terminal — but only when stdin is one: mount(8) at boot must fail, never wait for a typist.
Result<util::SecretBytes> MountPassword(const CommonOptions& common,
                                        const fuse::MountOptions& options,
                                        const std::string& drive) {
  std::optional<std::string> file =
      options.password_file ? options.password_file : common.password_file;
  const char* credentials = std::getenv("CREDENTIALS_DIRECTORY");
  if (!file && credentials != nullptr && *credentials != '\0') {
    std::string credential = fmt::format("{}/{}", credentials, kCredentialName);
    if (::access(credential.c_str(), F_OK) == 0) file = credential;
  }
  if (!file && !PasswordInEnvironment() && ::isatty(STDIN_FILENO) == 0) {
    return MakeError(Errc::kInvalid,
                     fmt::format("no password for drive '{}' and no terminal to ask on: give "
                                 "password_file=FILE in the mount options (or --password-file "
                                 "FILE), or a systemd credential {}",
                                 drive, kCredentialName));
  }
  return GetPassword(file, PasswordUse::kUnlock, fmt::format("password for drive '{}'", drive));
}

// Everything up to serving: checks, the config, the password, the keys.
Result<ServeRequest> PrepareMount(const CommonOptions& common, const MountCommandOptions& o,
                                  fuse::MountOptions options) {
  const std::string drive =
      o.drive.starts_with(kSourcePrefix) ? o.drive.substr(kSourcePrefix.size()) : o.drive;
  if (o.from_mount_helper && !options.fsname) options.fsname = o.drive;
  SHARDFS_ASSIGN_OR_RETURN(std::string mountpoint, CheckMountpoint(o.mountpoint));
  SHARDFS_ASSIGN_OR_RETURN(drive::DrivePaths paths, FindDrive(common, options, o, drive));
  SHARDFS_TRY(drive::LoadDriveConfig(paths, drive));
  SHARDFS_ASSIGN_OR_RETURN(util::SecretBytes password, MountPassword(common, options, drive));
  SHARDFS_ASSIGN_OR_RETURN(drive::UnlockedDrive unlocked,
                           drive::UnlockDrive(paths, drive, password));
  if (options.cache_dir) unlocked.config.cache_dir = *options.cache_dir;
  if (options.cache_size) unlocked.config.cache_size = *options.cache_size;
  return ServeRequest{std::move(unlocked), std::move(options), drive, std::move(mountpoint)};
}

// The daemon logs its own failures to syslog; these happen before there is one. At boot nobody
// reads stderr, so the reason must be in the system log too.
void LogToSyslog(const Status& status) {
  ::openlog("shardfs", LOG_PID, LOG_DAEMON);
  ::syslog(LOG_ERR, "%s", status.error().message.c_str());
  ::closelog();
}

}  // namespace

Status RunMount(const CommonOptions& common, const MountCommandOptions& o) {
  fuse::MountOptions options;
  Status parsed = util::Ok();
  const bool remount = std::any_of(o.options.begin(), o.options.end(),
                                   [](const std::string& text) { return fuse::HasRemount(text); });
  for (const std::string& text : o.options) {
    parsed =
        remount ? fuse::ParseRemountOptions(text, options) : fuse::ParseMountOptions(text, options);
    if (!parsed.ok()) break;
  }
  if (parsed.ok() && options.remount) {
    util::InitLogging(util::LogSink::kStderr, options.debug ? "debug" : "warn");
    Status remounted = RunRemount(o.mountpoint, options);
    if (!remounted.ok() && o.from_mount_helper) LogToSyslog(remounted.error());
    return remounted;
  }
  const std::string level = options.debug ? "debug" : "info";
  // Before the fork only warnings reach the terminal; the daemon logs `level` to syslog.
  util::InitLogging(util::LogSink::kStderr, o.foreground || options.debug ? level : "warn");
  Result<ServeRequest> request = parsed.ok() ? PrepareMount(common, o, std::move(options))
                                             : Result<ServeRequest>(parsed.error());
  if (!request.ok()) {
    if (!o.foreground) LogToSyslog(request.error());
    return request.error();
  }
  if (o.foreground) return RunForeground(std::move(request).value());
  return RunDaemon(std::move(request).value(), level, !o.from_mount_helper);
}

Status RunUnmount(const std::string& path) {
  // Lexically first: the mount point of a dead daemon cannot be stat'ed.
  std::string target = fuse::NormalizePath(util::AbsolutePath(path));
  SHARDFS_ASSIGN_OR_RETURN(std::vector<fuse::MountEntry> mounts, fuse::ReadMountTable());
  const fuse::MountEntry* mount = fuse::FindMountAt(mounts, target);
  if (mount == nullptr) {
    char real[PATH_MAX];
    if (::realpath(target.c_str(), real) != nullptr) mount = fuse::FindMountAt(mounts, real);
  }
  if (mount == nullptr)
    return MakeError(Errc::kNotFound, fmt::format("nothing is mounted at {}", target));
  auto daemon = fuse::DaemonConnection::Connect(mount->major, mount->minor);
  bool have_daemon = daemon.ok() && TrustedDaemon(*daemon, *mount);
  if (!IsShardfsType(*mount) && !have_daemon) {
    return MakeError(Errc::kInvalid,
                     fmt::format("{} is not a shardfs mount: it is a {} mount of {}",
                                 mount->mount_point, mount->fs_type, mount->source));
  }
  const std::string mountpoint = mount->mount_point;
  if (have_daemon) {
    // Upload first, with progress, while the drive is still mounted: Ctrl-C here leaves it
    // mounted and loses nothing. A daemon without a control socket just waits below.
    Status synced = SyncWithProgress(*mount);
    if (!synced.ok() && synced.code() != Errc::kNotFound) return synced;
  }
  SHARDFS_TRY(UnmountAt(mountpoint));
  if (!have_daemon) {
    fmt::print(
        "unmounted {}; no shardfs daemon was serving it (if it died, its pending uploads "
        "resume at the next mount)\n",
        mountpoint);
    return util::Ok();
  }
  if (!daemon->WaitForExit(kQuietWaitMs)) {
    fmt::print("waiting for the shardfs daemon (pid {}) to finish pending uploads...\n",
               daemon->pid());
    std::fflush(stdout);
    daemon->WaitForExit(-1);
  }
  fmt::print("unmounted {}\n", mountpoint);
  return util::Ok();
}

std::string MountHelpFooter() {
  return "\nMount options (-o, comma-separated; may be repeated, later ones win):\n" +
         fuse::MountOptionsHelp() +
         "\nWithout -f, shardfs unlocks the drive, then runs in the background and logs to "
         "syslog;\nit prints `mounted ...` once the drive is mounted. SIGTERM, SIGINT or SIGHUP "
         "unmount\ncleanly. `shardfs unmount MOUNTPOINT` waits until pending uploads are done.\n"
         "Passwords and the config directory are found as `shardfs --help` describes.\n"
         "\nOn Linux 6.14 and later, requests are served on the CPU of the program that makes "
         "them\n(FUSE over io_uring) once the fuse module allows it; as root:\n"
         "  echo Y > /sys/module/fuse/parameters/enable_uring\n"
         "(`make demo` and `make test` do this). `shardfs status` says which way requests come.\n";
}

}  // namespace shardfs::cli
