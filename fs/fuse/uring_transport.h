// FUSE over io_uring (Linux 6.14 and later, when the fuse module's enable_uring parameter is
// on). The kernel then queues each request on the queue of the CPU its caller runs on, and this
// transport serves every queue with threads pinned to that CPU, so a request and its reply never
// cross CPUs. Through /dev/fuse the woken thread is usually on the other, idle, CPU; on the
// 2-vCPU machines measured (README, Benchmarks) a wakeup across CPUs costs 50-150 us,
// which made a FUSE round trip 60-300 us against ~20 us on one CPU.
//
// libfuse 3.14 does not know this protocol, so it keeps what it does well - decoding requests
// and encoding replies (fuse_session_process_buf, the fuse_reply_* calls) - and this file moves
// the bytes, through a custom io on the session:
//   - read: /dev/fuse as before; it notes whether the kernel's INIT offers io_uring;
//   - writev: a reply to a request that came from a ring goes into that ring entry's buffers
//     (the thread that runs the request replies in it: every operation of the adapter replies
//     before it returns); everything else (INIT, notifications, requests that came through
//     /dev/fuse) is written to /dev/fuse. The INIT reply also accepts io_uring, and once it is
//     written the ring threads start and register their entries.
// Forgets and interrupts keep coming through /dev/fuse, whose loop keeps running. When the
// kernel does not offer io_uring, or a registration fails, everything stays on /dev/fuse.
// Seeing the raw requests also lets it pass on what libfuse 3.14 drops: the set-id flags of
// HANDLE_KILLPRIV_V2 (RequestKillsSetIdBits).
#pragma once

#include <cstdint>
#include <memory>

struct fuse_session;

namespace shardfs::fuse::internal {

// Whether the request this thread is running asks the filesystem to clear set-id bits: a write,
// or an O_TRUNC open, by a caller without CAP_FSETID, a truncate without it, or a chown of a
// non-directory. The kernel says so in flags of the request itself (FUSE_HANDLE_KILLPRIV_V2,
// which the transport accepts in INIT when the kernel offers it) that libfuse 3.14 does not pass
// on; the transport notes them before it hands the request to libfuse, in the same thread.
bool RequestKillsSetIdBits();

class UringTransport {
 public:
  // Threads and ring entries per CPU queue: each runs one request at a time, and a request can
  // block in the core for as long as nodes take, so a queue needs several.
  static constexpr unsigned kEntriesPerQueue = 8;

  // Installs the custom io on a mounted session, before its loop starts; with io_uring false
  // every request stays on /dev/fuse (the INIT reply still takes HANDLE_KILLPRIV_V2). One
  // session per process at a time is attached; for any other this returns null and changes
  // nothing.
  static std::unique_ptr<UringTransport> Attach(fuse_session* se, bool io_uring = true);

  // Stops the ring threads (they also end on their own when the kernel closes the connection)
  // and joins them. Call before the session is destroyed.
  ~UringTransport();
  UringTransport(const UringTransport&) = delete;
  UringTransport& operator=(const UringTransport&) = delete;

  // What `shardfs status` shows, for the process: ring entries handed to the kernel (0 until
  // INIT, and when io_uring is off) and requests served through them since the start.
  struct Stats {
    unsigned entries = 0;
    uint64_t served = 0;
  };
  static Stats CurrentStats();

  struct Impl;

 private:
  explicit UringTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shardfs::fuse::internal
