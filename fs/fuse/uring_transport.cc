#include "fs/fuse/uring_transport.h"

#include <liburing.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>

namespace shardfs::fuse::internal {

namespace {

// The parts of the protocol (7.42) that Debian 12's kernel headers (6.1) predate.
constexpr uint64_t kInitOverIoUring = 1ULL << 41;  // in the INIT flags, both ways
constexpr uint64_t kInitKillprivV2 = FUSE_HANDLE_KILLPRIV_V2;
constexpr uint32_t kCmdRegister = 1;        // hand the kernel an entry, wait for a request
constexpr uint32_t kCmdCommitAndFetch = 2;  // reply in the entry, wait for the next one

struct RingEntInOut {
  uint64_t flags;
  uint64_t commit_id;   // the request's, to name it in the commit
  uint32_t payload_sz;  // bytes in the payload buffer, both ways
  uint32_t padding;
  uint64_t reserved;
};

// The entry's header buffer: fuse_in_header or fuse_out_header, the operation's own header
// (fuse_write_in, ...) and the entry's bookkeeping. Every other byte of a request or reply is in
// the payload buffer.
struct RingReqHeader {
  unsigned char in_out[128];
  unsigned char op_in[128];
  RingEntInOut ent;
};

// In the SQE's command area (which needs 128-byte SQEs).
struct RingCmdReq {
  uint64_t flags;
  uint64_t commit_id;
  uint16_t qid;
  uint8_t padding[6];
};

static_assert(sizeof(RingReqHeader) == 288);
static_assert(sizeof(RingCmdReq) == 24);
static_assert(offsetof(fuse_init_out, flags2) == 32);

// A request is rebuilt in front of its payload, so that libfuse sees one buffer without the
// payload (up to max_write bytes) being copied: the headers go into this gap.
constexpr size_t kGap = 4096;
static_assert(kGap >= sizeof(fuse_in_header) + sizeof(RingReqHeader::op_in));

constexpr __kernel_timespec kStopCheck{1, 0};  // how often an idle ring thread looks at stop

// Writes from this size on are served on any CPU (Entry::Process).
constexpr size_t kBulkWrite = 256 * 1024;

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// The kernel has a queue per possible CPU, and uses io_uring only once every queue has an entry.
unsigned PossibleCpus() {
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string text;
  if (in >> text) {
    // "0-3" or "0" (or "0-1,4-5": the last number is the highest CPU).
    size_t cut = text.find_last_of("-,");
    std::string last = cut == std::string::npos ? text : text.substr(cut + 1);
    try {
      return static_cast<unsigned>(std::stoul(last)) + 1;
    } catch (const std::exception&) {
    }
  }
  return static_cast<unsigned>(std::max(1, get_nprocs_conf()));
}

}  // namespace

struct UringTransport::Impl {
  fuse_session* se = nullptr;
  int fd = -1;
  bool use_uring = true;                 // io_uring may be used (the mount option)
  std::atomic<bool> offered{false};      // the kernel's INIT offers io_uring, and it may be used
  std::atomic<bool> killpriv_v2{false};  // ...and FUSE_HANDLE_KILLPRIV_V2
  std::atomic<uint64_t> init_unique{0};  // of that INIT, while its reply is not sent
  std::atomic<bool> stop{false};
  std::atomic<bool> warned{false};
  std::mutex mu;  // guards threads
  std::vector<std::thread> threads;

  void SawInit(const fuse_in_header& ih, const fuse_init_in& in);
  ssize_t SendInitReply(int to, const fuse_out_header& oh, const iovec* iov, int count);
  void Start(size_t payload_size);
  void Serve(unsigned qid, size_t payload_size);
  void WarnOnce(const std::string& what);
};

namespace {

std::atomic<UringTransport::Impl*> g_active{nullptr};
std::atomic<unsigned> g_entries{0};
std::atomic<uint64_t> g_served{0};

// One ring entry: its buffers and the request it holds. Owned by one thread.
class Entry {
 public:
  Entry(unsigned qid, size_t payload_size) : qid_(qid), payload_size_(payload_size) {
    CPU_ZERO(&own_cpu_);
    CPU_SET(qid, &own_cpu_);
    CPU_ZERO(&any_cpu_);
    sched_getaffinity(0, sizeof any_cpu_, &any_cpu_);  // before the thread pins itself
  }

  // The queue's requests come from callers on CPU qid: serve them there. A CPU that is not
  // online sends none (its entries only make the kernel's set complete).
  void Pin() { pthread_setaffinity_np(pthread_self(), sizeof own_cpu_, &own_cpu_); }
  ~Entry() {
    if (area_ != MAP_FAILED) munmap(area_, kGap + payload_size_);
  }
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;

  bool Allocate() {
    area_ = mmap(nullptr, kGap + payload_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
    if (area_ == MAP_FAILED) return false;
    payload_ = static_cast<unsigned char*>(area_) + kGap;
    iov_[0] = {&header_, sizeof header_};
    iov_[1] = {payload_, payload_size_};
    return true;
  }

  // Queues the entry's command on the ring (not submitted).
  bool Prepare(io_uring* ring, int fd, uint32_t cmd) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (sqe == nullptr) return false;
    std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));  // a 128-byte SQE
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = fd;
    sqe->cmd_op = cmd;
    sqe->addr = reinterpret_cast<uintptr_t>(iov_);
    sqe->len = 2;
    RingCmdReq req{};
    req.commit_id = cmd == kCmdCommitAndFetch ? commit_id_ : 0;
    req.qid = static_cast<uint16_t>(qid_);
    std::memcpy(sqe->cmd, &req, sizeof req);
    return true;
  }

  // Runs the request the kernel put in the buffers; the reply is in them when this returns.
  void Process(fuse_session* se);

  // The writev of a reply while this entry's request runs in this thread.
  ssize_t TakeReply(const fuse_out_header& oh, const iovec* iov, int count);

  uint64_t unique() const { return unique_; }

 private:
  void ReplyError(uint64_t unique, int error) {
    fuse_out_header oh{sizeof oh, -error, unique};
    std::memcpy(header_.in_out, &oh, sizeof oh);
    header_.ent.payload_sz = 0;
  }

  const unsigned qid_;
  const size_t payload_size_;
  alignas(64) RingReqHeader header_{};
  void* area_ = MAP_FAILED;
  unsigned char* payload_ = nullptr;
  iovec iov_[2]{};
  cpu_set_t own_cpu_;
  cpu_set_t any_cpu_;
  uint64_t commit_id_ = 0;
  uint64_t unique_ = 0;
  bool replied_ = false;
};

thread_local Entry* tl_entry = nullptr;
thread_local bool tl_kill_setid = false;

template <typename T>
bool ArgsOf(const unsigned char* req, size_t len, T* out) {
  if (len < sizeof(fuse_in_header) + sizeof(T)) return false;
  std::memcpy(out, req + sizeof(fuse_in_header), sizeof(T));
  return true;
}

template <typename In>  // fuse_open_in or fuse_create_in
bool OpenKills(const unsigned char* req, size_t len) {
  In in;
  return ArgsOf(req, len, &in) && (in.open_flags & FUSE_OPEN_KILL_SUIDGID) != 0;
}

// Notes the set-id flags of a request about to be served on this thread (RequestKillsSetIdBits).
void NoteRequest(const unsigned char* req, size_t len) {
  tl_kill_setid = false;
  if (len < sizeof(fuse_in_header)) return;
  fuse_in_header ih;
  std::memcpy(&ih, req, sizeof ih);
  switch (ih.opcode) {
    case FUSE_WRITE: {
      fuse_write_in in;
      tl_kill_setid = ArgsOf(req, len, &in) && (in.write_flags & FUSE_WRITE_KILL_SUIDGID) != 0;
      break;
    }
    case FUSE_OPEN:
      tl_kill_setid = OpenKills<fuse_open_in>(req, len);
      break;
    case FUSE_CREATE:
      tl_kill_setid = OpenKills<fuse_create_in>(req, len);
      break;
    case FUSE_SETATTR: {
      fuse_setattr_in in;
      tl_kill_setid = ArgsOf(req, len, &in) && (in.valid & FATTR_KILL_SUIDGID) != 0;
      break;
    }
    default:
      break;
  }
}

void Entry::Process(fuse_session* se) {
  fuse_in_header ih;
  std::memcpy(&ih, header_.in_out, sizeof ih);
  commit_id_ = header_.ent.commit_id;
  const size_t payload_len = header_.ent.payload_sz;
  const size_t len = ih.len;
  if (len < sizeof ih + payload_len || len - sizeof ih - payload_len > sizeof header_.op_in ||
      payload_len > payload_size_) {
    spdlog::error(
        "io_uring: request {} (opcode {}) has inconsistent sizes ({} bytes, {} of "
        "payload); answering EIO",
        ih.unique, ih.opcode, len, payload_len);
    ReplyError(ih.unique, EIO);
    return;
  }
  const size_t op_len = len - sizeof ih - payload_len;
  unsigned char* start = payload_ - op_len - sizeof ih;
  std::memcpy(start, &ih, sizeof ih);
  std::memcpy(start + sizeof ih, header_.op_in, op_len);
  fuse_buf buf{};
  buf.size = len;
  buf.mem = start;
  unique_ = ih.unique;
  replied_ = false;
  // A large write may seal blocks (milliseconds of AES-GCM): let it run on any CPU, or the
  // writer, the kernel's flusher and every seal would share the one CPU they came from.
  const bool bulk = ih.opcode == FUSE_WRITE && payload_len >= kBulkWrite;
  if (bulk) pthread_setaffinity_np(pthread_self(), sizeof any_cpu_, &any_cpu_);
  tl_entry = this;
  NoteRequest(start, len);
  fuse_session_process_buf(se, &buf);
  tl_entry = nullptr;
  if (bulk) pthread_setaffinity_np(pthread_self(), sizeof own_cpu_, &own_cpu_);
  g_served.fetch_add(1, std::memory_order_relaxed);
  if (!replied_) {
    // Every operation of the adapter replies before it returns; this is a bug, not the user's.
    spdlog::error("io_uring: request {} (opcode {}) ended without a reply; answering EIO",
                  ih.unique, ih.opcode);
    ReplyError(ih.unique, EIO);
  }
}

ssize_t Entry::TakeReply(const fuse_out_header& oh, const iovec* iov, int count) {
  size_t total = 0;
  for (int i = 1; i < count; ++i) total += iov[i].iov_len;
  if (total > payload_size_) {
    spdlog::error("io_uring: a reply of {} bytes does not fit the {} of a ring entry", total,
                  payload_size_);
    errno = EINVAL;
    return -1;
  }
  size_t at = 0;
  for (int i = 1; i < count; ++i) {
    std::memmove(payload_ + at, iov[i].iov_base, iov[i].iov_len);
    at += iov[i].iov_len;
  }
  std::memcpy(header_.in_out, &oh, sizeof oh);
  header_.ent.payload_sz = static_cast<uint32_t>(total);
  replied_ = true;
  return static_cast<ssize_t>(sizeof oh + total);
}

ssize_t ReadHook(int fd, void* buf, size_t len, void*) {
  ssize_t n = read(fd, buf, len);
  // libfuse serves what it read on this thread, right after this returns.
  NoteRequest(static_cast<const unsigned char*>(buf), n > 0 ? static_cast<size_t>(n) : 0);
  if (n >= static_cast<ssize_t>(sizeof(fuse_in_header))) {
    fuse_in_header ih;
    std::memcpy(&ih, buf, sizeof ih);
    if (ih.opcode == FUSE_INIT) {
      if (UringTransport::Impl* t = g_active.load()) {
        fuse_init_in in{};
        std::memcpy(&in, static_cast<const char*>(buf) + sizeof ih,
                    std::min(sizeof in, static_cast<size_t>(n) - sizeof ih));
        t->SawInit(ih, in);
      }
    }
  }
  return n;
}

ssize_t WritevHook(int fd, iovec* iov, int count, void*) {
  if (count >= 1 && iov[0].iov_len == sizeof(fuse_out_header)) {
    fuse_out_header oh;
    std::memcpy(&oh, iov[0].iov_base, sizeof oh);
    // Notifications (unique 0) and replies to /dev/fuse requests go to /dev/fuse.
    if (oh.unique != 0) {
      if (Entry* e = tl_entry; e != nullptr && oh.unique == e->unique()) {
        return e->TakeReply(oh, iov, count);
      }
      UringTransport::Impl* t = g_active.load();
      if (t != nullptr && oh.unique == t->init_unique.load()) {
        return t->SendInitReply(fd, oh, iov, count);
      }
    }
  }
  return writev(fd, iov, count);
}

}  // namespace

void UringTransport::Impl::SawInit(const fuse_in_header& ih, const fuse_init_in& in) {
  uint64_t flags = in.flags;
  if ((flags & FUSE_INIT_EXT) != 0) flags |= static_cast<uint64_t>(in.flags2) << 32;
  offered = use_uring && (flags & kInitOverIoUring) != 0;
  killpriv_v2 = (flags & kInitKillprivV2) != 0;
  init_unique = ih.unique;
  if (use_uring && !offered) {
    spdlog::debug(
        "io_uring: the kernel does not offer FUSE over io_uring (the fuse module's "
        "enable_uring is off, or the kernel predates 6.14); serving /dev/fuse");
  }
}

ssize_t UringTransport::Impl::SendInitReply(int to, const fuse_out_header& oh, const iovec* iov,
                                            int count) {
  init_unique = 0;
  constexpr size_t kNeeded = offsetof(fuse_init_out, flags2) + sizeof(uint32_t);
  if ((!offered && !killpriv_v2) || oh.error != 0 || count != 2 || iov[1].iov_len < kNeeded ||
      iov[1].iov_len > sizeof(fuse_init_out)) {
    return writev(to, iov, count);
  }
  fuse_init_out out{};
  std::memcpy(&out, iov[1].iov_base, iov[1].iov_len);
  // The filesystem clears set-id bits where the request says so (RequestKillsSetIdBits). In
  // return the kernel marks a file's inode as having nothing to clear after its first check,
  // instead of asking for security.capability (a GETXATTR round trip) before every write(2).
  if (killpriv_v2) out.flags |= static_cast<uint32_t>(kInitKillprivV2);
  if (offered) {
    out.flags |= FUSE_INIT_EXT;
    out.flags2 |= static_cast<uint32_t>(kInitOverIoUring >> 32);
  }
  iovec patched[2] = {iov[0], {&out, iov[1].iov_len}};
  ssize_t n = writev(to, patched, 2);
  if (n < 0 || !offered) return n;
  // The kernel took the INIT: its largest request or reply sizes the payload buffers.
  size_t pages = (out.flags & FUSE_MAX_PAGES) != 0 ? out.max_pages : 32;
  size_t payload = std::max<size_t>({8192, out.max_write, pages * PageSize()});
  payload = (payload + PageSize() - 1) / PageSize() * PageSize();
  Start(payload);
  return n;
}

void UringTransport::Impl::Start(size_t payload_size) {
  std::lock_guard lock(mu);
  if (!threads.empty()) return;
  const unsigned queues = PossibleCpus();
  spdlog::debug("io_uring: {} queues of {} entries, {} KiB of payload each", queues,
                kEntriesPerQueue, payload_size / 1024);
  for (unsigned q = 0; q < queues; ++q) {
    for (unsigned i = 0; i < kEntriesPerQueue; ++i) {
      threads.emplace_back([this, q, payload_size] { Serve(q, payload_size); });
    }
  }
}

void UringTransport::Impl::WarnOnce(const std::string& what) {
  if (!warned.exchange(true)) {
    spdlog::warn("io_uring: {}; requests go through /dev/fuse instead", what);
  }
}

void UringTransport::Impl::Serve(unsigned qid, size_t payload_size) {
  Entry entry(qid, payload_size);
  entry.Pin();
  if (!entry.Allocate()) {
    WarnOnce("cannot allocate a ring entry's buffers");
    return;
  }
  io_uring ring;
  io_uring_params params{};
  params.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
  int rc = io_uring_queue_init_params(2, &ring, &params);
  if (rc == -EINVAL) {
    params = io_uring_params{};
    params.flags = IORING_SETUP_SQE128;
    rc = io_uring_queue_init_params(2, &ring, &params);
  }
  if (rc < 0) {
    WarnOnce(std::string("cannot create an io_uring: ") + std::strerror(-rc));
    return;
  }
  uint32_t cmd = kCmdRegister;
  bool serving = false;
  while (!stop.load()) {
    if (!entry.Prepare(&ring, fd, cmd)) {
      WarnOnce("the submission queue is full");
      break;
    }
    rc = io_uring_submit(&ring);
    if (rc < 0) {
      WarnOnce(std::string("submitting: ") + std::strerror(-rc));
      break;
    }
    if (!serving) {
      serving = true;
      g_entries++;
    }
    // The command stays with the kernel until a request comes; look at stop now and then.
    io_uring_cqe* cqe = nullptr;
    do {
      __kernel_timespec wait = kStopCheck;
      rc = io_uring_wait_cqe_timeout(&ring, &cqe, &wait);
    } while ((rc == -ETIME || rc == -EINTR) && !stop.load());
    if (rc < 0 || cqe == nullptr) {
      if (rc != -ETIME && rc != -EINTR) WarnOnce(std::string("waiting: ") + std::strerror(-rc));
      break;
    }
    const int res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    if (res < 0) {
      // ENOTCONN and ECONNABORTED: the connection ended (unmount). Anything else at the first
      // command means the kernel refused the entry; it then serves /dev/fuse alone.
      if (res != -ENOTCONN && res != -ECONNABORTED && res != -ECANCELED) {
        WarnOnce(std::string(cmd == kCmdRegister ? "registering an entry: " : "committing: ") +
                 std::strerror(-res));
      }
      break;
    }
    entry.Process(se);
    cmd = kCmdCommitAndFetch;
  }
  if (serving) g_entries--;
  io_uring_queue_exit(&ring);
}

std::unique_ptr<UringTransport> UringTransport::Attach(fuse_session* se, bool io_uring) {
  auto impl = std::make_unique<Impl>();
  impl->se = se;
  impl->use_uring = io_uring;
  impl->fd = fuse_session_fd(se);
  Impl* expected = nullptr;
  if (!g_active.compare_exchange_strong(expected, impl.get())) return nullptr;
  static const fuse_custom_io io = {WritevHook, ReadHook, nullptr, nullptr};
  if (int rc = fuse_session_custom_io(se, &io, impl->fd); rc != 0) {
    g_active = nullptr;
    spdlog::warn("io_uring: libfuse refused the custom io: {}", std::strerror(-rc));
    return nullptr;
  }
  return std::unique_ptr<UringTransport>(new UringTransport(std::move(impl)));
}

UringTransport::UringTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UringTransport::~UringTransport() {
  impl_->stop = true;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mu);
    threads.swap(impl_->threads);
  }
  for (std::thread& t : threads) t.join();
  g_active = nullptr;
}

UringTransport::Stats UringTransport::CurrentStats() {
  return Stats{g_entries.load(), g_served.load(std::memory_order_relaxed)};
}

bool RequestKillsSetIdBits() { return tl_kill_setid; }

}  // namespace shardfs::fuse::internal
