#include "fs/fuse/fuse_session.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>

#include "fs/fuse/adapter.h"
#include "fs/fuse/uring_transport.h"

namespace shardfs::fuse {

using util::Errc;
using util::MakeError;
using util::Status;

namespace {

// The loop's threads: each blocks in the core while it waits for nodes, so keep plenty.
constexpr unsigned kMaxThreads = 64;
constexpr unsigned kMaxIdleThreads = 16;

// libfuse logs through one process-wide function that has no context pointer. Its messages go
// to our log; the last error is kept, so that a failed mount can say why.
struct LibfuseErrors {
  std::mutex mu;
  std::string last;
};

LibfuseErrors& TheLibfuseErrors() {
  static LibfuseErrors errors;
  return errors;
}

spdlog::level::level_enum LevelOf(fuse_log_level level) {
  switch (level) {
    case FUSE_LOG_EMERG:
    case FUSE_LOG_ALERT:
    case FUSE_LOG_CRIT:
    case FUSE_LOG_ERR:
      return spdlog::level::err;
    case FUSE_LOG_WARNING:
      return spdlog::level::warn;
    case FUSE_LOG_NOTICE:
    case FUSE_LOG_INFO:
      return spdlog::level::info;
    case FUSE_LOG_DEBUG:
      return spdlog::level::debug;
  }
  return spdlog::level::err;
}

void LogFromLibfuse(fuse_log_level level, const char* format, va_list args) {
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, format, args);
  if (n < 0) return;
  std::string_view message(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
  while (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  spdlog::log(LevelOf(level), "libfuse: {}", message);
  if (level <= FUSE_LOG_ERR) {
    LibfuseErrors& errors = TheLibfuseErrors();
    std::lock_guard lock(errors.mu);
    errors.last = message;
  }
}

std::string TakeLastLibfuseError() {
  LibfuseErrors& errors = TheLibfuseErrors();
  std::lock_guard lock(errors.mu);
  std::string out = std::move(errors.last);
  errors.last.clear();
  return out;
}

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

Status ShutdownCore(core::Filesystem& fs) {
  try {
    return fs.Shutdown();
  } catch (const std::exception& e) {
    return MakeError(Errc::kInternal, fmt::format("shutdown failed: {}", e.what()));
  }
}

}  // namespace

struct FuseSession::State {
  ~State() {
    uring.reset();  // its threads run requests on the session
    if (adapter) adapter->session = nullptr;
    if (session != nullptr) {
      if (signals_installed) fuse_remove_signal_handlers(session);
      if (mounted) fuse_session_unmount(session);
      fuse_session_destroy(session);
    }
    fuse_opt_free_args(&args);
  }

  std::unique_ptr<Adapter> adapter;
  std::string mountpoint;
  std::vector<std::string> arg_strings;  // what args points into
  std::vector<char*> argv;
  fuse_args args{};
  fuse_session* session = nullptr;
  bool mounted = false;
  bool signals_installed = false;
  std::unique_ptr<internal::UringTransport> uring;
};

FuseSession::FuseSession(std::unique_ptr<State> state) : state_(std::move(state)) {}
FuseSession::~FuseSession() = default;

const std::string& FuseSession::mountpoint() const { return state_->mountpoint; }

util::Result<std::unique_ptr<FuseSession>> FuseSession::Mount(core::Filesystem& fs,
                                                              const MountOptions& options,
                                                              const std::string& default_fsname,
                                                              const std::string& mountpoint) {
  auto state = std::make_unique<State>();
  state->adapter.reset(new Adapter{
      fs, AdapterConfig{options.attr_timeout, options.entry_timeout, options.writeback_cache,
                        options.uid, options.gid, options.umask}});
  state->mountpoint = mountpoint;
  state->arg_strings.push_back("shardfs");
  for (std::string& arg : LibfuseArguments(options, default_fsname)) {
    state->arg_strings.push_back(std::move(arg));
  }
  for (std::string& arg : state->arg_strings) state->argv.push_back(arg.data());
  state->args.argc = static_cast<int>(state->argv.size());
  state->args.argv = state->argv.data();
  state->args.allocated = 0;

  fuse_set_log_func(LogFromLibfuse);
  TakeLastLibfuseError();
  state->session = fuse_session_new(&state->args, &LowLevelOps(), sizeof(fuse_lowlevel_ops),
                                    state->adapter.get());
  if (state->session == nullptr) {
    return MakeError(Errc::kInvalid,
                     fmt::format("libfuse refused the mount options: {}", TakeLastLibfuseError()));
  }
  state->adapter->session = state->session;
  if (fuse_session_mount(state->session, mountpoint.c_str()) != 0) {
    std::string why = TakeLastLibfuseError();
    return MakeError(
        Errc::kInvalid,
        fmt::format("cannot mount at {}: {}", mountpoint,
                    why.empty() ? "fusermount3 refused (see its message above)" : why));
  }
  state->mounted = true;
  state->uring = internal::UringTransport::Attach(state->session, options.io_uring);
  if (fuse_set_signal_handlers(state->session) != 0) {
    return MakeError(Errc::kInternal, "cannot install the signal handlers that unmount cleanly");
  }
  state->signals_installed = true;
  spdlog::info("mounted {} ({})", mountpoint, state->arg_strings.back());
  return std::unique_ptr<FuseSession>(new FuseSession(std::move(state)));
}

Status FuseSession::Run() {
  State& s = *state_;
  sigset_t signals = TerminationSignals();
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);

  fuse_loop_config* config = fuse_loop_cfg_create();
  if (config == nullptr) return MakeError(Errc::kInternal, "out of memory for the FUSE loop");
  fuse_loop_cfg_set_clone_fd(config, 1);
  fuse_loop_cfg_set_max_threads(config, kMaxThreads);
  fuse_loop_cfg_set_idle_threads(config, kMaxIdleThreads);
  int rc = fuse_session_loop_mt(s.session, config);
  fuse_loop_cfg_destroy(config);
  if (rc == -ECONNABORTED) {
    // libfuse 3.14 takes only ENODEV for "unmounted"; on this kernel an unmount sometimes
    // shows as an aborted connection. Either way the filesystem is gone: finish normally.
    spdlog::info("the kernel closed the FUSE connection of {}", s.mountpoint);
    rc = 0;
  }

  if (rc > 0) {
    spdlog::info("{}: unmounting {}", strsignal(rc), s.mountpoint);
  } else if (rc < 0) {
    spdlog::error("the FUSE loop failed: {}; unmounting {}", std::strerror(-rc), s.mountpoint);
  }
  if (s.mounted) {
    fuse_session_unmount(s.session);
    s.mounted = false;
  }
  s.uring.reset();  // the kernel ended the rings' commands when the connection closed
  spdlog::info("unmounted {}; sealing open files and finishing pending uploads", s.mountpoint);
  Status shutdown = ShutdownCore(s.adapter->fs);
  if (!shutdown.ok()) spdlog::error("shutdown: {}", shutdown.error().message);
  if (rc < 0) {
    return MakeError(Errc::kInternal, fmt::format("the FUSE loop failed: {}", std::strerror(-rc)));
  }
  return shutdown;
}

void BlockTerminationSignals() {
  sigset_t signals = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

}  // namespace shardfs::fuse
