#include "fs/util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>

#include <fmt/format.h>

#include "fs/util/unique_fd.h"

namespace shardfs::util {

Error ErrnoError(int err, std::string_view what) {
  Errc code = Errc::kInternal;
  switch (err) {
    case ENOENT:
      code = Errc::kNotFound;
      break;
    case EEXIST:
      code = Errc::kExists;
      break;
    case ENOTEMPTY:
      code = Errc::kNotEmpty;
      break;
    case ENOTDIR:
      code = Errc::kNotDir;
      break;
    case EISDIR:
      code = Errc::kIsDir;
      break;
    case ENAMETOOLONG:
      code = Errc::kNameTooLong;
      break;
    case ENOSPC:
    case EDQUOT:
      code = Errc::kNoSpace;
      break;
    case EACCES:
      code = Errc::kAccessDenied;
      break;
    case EPERM:
    case EROFS:
      code = Errc::kPermission;
      break;
    case EINVAL:
      code = Errc::kInvalid;
      break;
    case EAGAIN:
    case EINTR:
    case ETIMEDOUT:
      code = Errc::kUnavailable;
      break;
    default:
      break;
  }
  return MakeError(code, fmt::format("{}: {}", what, std::strerror(err)));
}

namespace {

Status WriteAll(int fd, ByteSpan data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, fmt::format("cannot write {}", path));
    }
    done += static_cast<size_t>(n);
  }
  return Ok();
}

}  // namespace

Result<Bytes> ReadFile(const std::string& path, uint64_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(errno, fmt::format("cannot open {}", path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError(errno, fmt::format("cannot stat {}", path));
  if (S_ISDIR(st.st_mode)) return MakeError(Errc::kIsDir, fmt::format("{} is a directory", path));
  Bytes out;
  uint8_t buf[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, fmt::format("cannot read {}", path));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      SecureZero(buf, sizeof buf);
      return MakeError(Errc::kInvalid,
                       fmt::format("{} is larger than the {} bytes expected", path, max_bytes));
    }
    out.insert(out.end(), buf, buf + n);
  }
  SecureZero(buf, sizeof buf);  // the file may have held a secret
  return out;
}

namespace {

constexpr size_t kDirectMin = 256 * 1024;  // below this the page cache copy is cheap enough
constexpr size_t kDirectAlign = 4096;

Status WriteAllAt(int fd, const uint8_t* data, size_t size, size_t at, std::string_view what) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(at + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, fmt::format("cannot write {}", what));
    }
    done += static_cast<size_t>(n);
  }
  return Ok();
}

// An aligned buffer for one write. Not kept per thread: twenty threads (FUSE workers sealing,
// uploaders) each holding a block-sized one held 84 MiB for good. In the shardfs daemon it
// comes from util::BigHeap, which keeps recently freed ones warm.
struct AlignedDelete {
  void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{kDirectAlign}); }
};
using AlignedBuffer = std::unique_ptr<uint8_t[], AlignedDelete>;

AlignedBuffer NewAligned(size_t size) {
  return AlignedBuffer(
      static_cast<uint8_t*>(::operator new[](size, std::align_val_t{kDirectAlign}, std::nothrow)));
}

// O_DIRECT write of data padded to the alignment; false when the file system refuses it. Data
// that starts aligned (blocks in the daemon do) is written from where it is, and only its last
// partial page goes through a small buffer; otherwise all of it does.
bool TryDirectWrite(int fd, ByteSpan data, Status& status, std::string_view what) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) return false;
  const bool aligned = reinterpret_cast<uintptr_t>(data.data()) % kDirectAlign == 0;
  const size_t head = aligned ? data.size() / kDirectAlign * kDirectAlign : 0;
  const size_t tail = data.size() - head;
  const size_t padded = (tail + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
  AlignedBuffer bounce = padded == 0 ? nullptr : NewAligned(padded);
  bool direct = padded == 0 || bounce != nullptr;
  if (direct) {
    status = WriteAllAt(fd, data.data(), head, 0, what);
    if (status.ok() && padded > 0) {
      std::memcpy(bounce.get(), data.data() + head, tail);
      std::memset(bounce.get() + tail, 0, padded - tail);
      status = WriteAllAt(fd, bounce.get(), padded, head, what);
    }
    // EINVAL: the file system takes O_DIRECT at open but not this write; use the page cache.
    if (!status.ok() && status.code() == Errc::kInvalid) direct = false;
  }
  if (::fcntl(fd, F_SETFL, flags) != 0 && direct && status.ok()) {
    status = ErrnoError(errno, fmt::format("cannot reset the flags of {}", what));
  }
  return direct;
}

}  // namespace

Status WriteWholeFile(int fd, ByteSpan data, std::string_view what) {
  Status status = Ok();
  if (data.size() < kDirectMin || !TryDirectWrite(fd, data, status, what)) {
    status = WriteAllAt(fd, data.data(), data.size(), 0, what);
  }
  SHARDFS_TRY(status);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, fmt::format("cannot stat {}", what));
  if (static_cast<uint64_t>(st.st_size) != data.size() &&
      ::ftruncate(fd, static_cast<off_t>(data.size())) != 0) {
    return ErrnoError(errno, fmt::format("cannot set the size of {}", what));
  }
  return Ok();
}

// ---- SequentialFileWriter ----

namespace {
constexpr size_t kStageMax = 1 << 20;
void FreeAligned(uint8_t* p) {
  if (p != nullptr) AlignedDelete()(p);
}
size_t RoundUp(uint64_t n) { return (n + kDirectAlign - 1) / kDirectAlign * kDirectAlign; }
}  // namespace

SequentialFileWriter::SequentialFileWriter(int fd, uint64_t expected_size, std::string what)
    : fd_(fd), what_(std::move(what)) {
  if (expected_size < kDirectMin) return;
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_DIRECT) != 0) return;
  // Always the same size, so the executables' allocator (util::BigHeap) reuses warm ones.
  stage_cap_ = kStageMax;
  head_ = NewAligned(kDirectAlign).release();
  stage_ = NewAligned(stage_cap_).release();
  stage_at_ = kDirectAlign;
  direct_ = head_ != nullptr && stage_ != nullptr;
  if (!direct_) (void)::fcntl(fd_, F_SETFL, flags);
}

SequentialFileWriter::~SequentialFileWriter() {
  FreeAligned(head_);
  FreeAligned(stage_);
}

Status SequentialFileWriter::Append(ByteSpan data) {
  if (finished_) return MakeError(Errc::kInternal, fmt::format("{} is already finished", what_));
  if (!direct_) {
    SHARDFS_TRY(WriteAllAt(fd_, data.data(), data.size(), size_, what_));
    size_ += data.size();
    return Ok();
  }
  while (!data.empty()) {
    size_t n;
    if (size_ < kDirectAlign) {
      n = std::min<size_t>(data.size(), kDirectAlign - size_);
      std::memcpy(head_ + size_, data.data(), n);
    } else {
      n = std::min(data.size(), stage_cap_ - stage_len_);
      std::memcpy(stage_ + stage_len_, data.data(), n);
      stage_len_ += n;
    }
    size_ += n;
    data = data.subspan(n);
    if (stage_len_ == stage_cap_) SHARDFS_TRY(FlushStage());
    if (!direct_) return Append(data);
  }
  return Ok();
}

Status SequentialFileWriter::FlushStage() {
  const size_t padded = RoundUp(stage_len_);
  std::memset(stage_ + stage_len_, 0, padded - stage_len_);
  Status s = WriteAllAt(fd_, stage_, padded, stage_at_, what_);
  if (!s.ok() && s.code() == Errc::kInvalid) return DropToBuffered();
  SHARDFS_TRY(s);
  stage_at_ += stage_len_;
  stage_len_ = 0;
  return Ok();
}

Status SequentialFileWriter::DropToBuffered() {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0) {
    return ErrnoError(errno, fmt::format("cannot reset the flags of {}", what_));
  }
  direct_ = false;
  SHARDFS_TRY(WriteAllAt(fd_, head_, std::min<uint64_t>(size_, kDirectAlign), 0, what_));
  SHARDFS_TRY(WriteAllAt(fd_, stage_, stage_len_, stage_at_, what_));
  stage_len_ = 0;
  return Ok();
}

Status SequentialFileWriter::PatchHead(uint64_t offset, ByteSpan data) {
  if (offset + data.size() > std::min<uint64_t>(size_, kDirectAlign) || finished_) {
    return MakeError(Errc::kInternal, fmt::format("a patch outside the head of {}", what_));
  }
  if (!direct_) return WriteAllAt(fd_, data.data(), data.size(), offset, what_);
  std::memcpy(head_ + offset, data.data(), data.size());
  return Ok();
}

Status SequentialFileWriter::Finish() {
  if (finished_) return MakeError(Errc::kInternal, fmt::format("{} is already finished", what_));
  finished_ = true;
  if (!direct_) return Ok();
  if (stage_len_ > 0) SHARDFS_TRY(FlushStage());
  if (direct_) {
    const size_t head_len = std::min<uint64_t>(size_, kDirectAlign);
    std::memset(head_ + head_len, 0, kDirectAlign - head_len);
    Status s = WriteAllAt(fd_, head_, kDirectAlign, 0, what_);
    if (!s.ok() && s.code() == Errc::kInvalid) {
      SHARDFS_TRY(DropToBuffered());
    } else {
      SHARDFS_TRY(s);
    }
  }
  // The padding of the last direct write (or of the head) is cut off.
  if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
    return ErrnoError(errno, fmt::format("cannot set the size of {}", what_));
  }
  return Ok();
}

Status FsyncPath(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(errno, fmt::format("cannot open {}", path));
  if (::fsync(fd.get()) != 0) return ErrnoError(errno, fmt::format("cannot fsync {}", path));
  return Ok();
}

Status WriteFileAtomic(const std::string& path, ByteSpan data, mode_t mode, Overwrite overwrite) {
  std::string dir = ParentDir(path);
  std::string tmpl = path + ".tmp.XXXXXX";
  int raw = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (raw < 0) return ErrnoError(errno, fmt::format("cannot create a file in {}", dir));
  UniqueFd fd(raw);
  auto fail = [&](Error e) {
    ::unlink(tmpl.c_str());
    return e;
  };
  if (::fchmod(fd.get(), mode) != 0) return fail(ErrnoError(errno, "cannot set mode on " + tmpl));
  if (auto s = WriteAll(fd.get(), data, tmpl); !s.ok()) return fail(s.error());
  if (::fsync(fd.get()) != 0) return fail(ErrnoError(errno, "cannot fsync " + tmpl));
  ::close(fd.Release());
  if (overwrite == Overwrite::kRefuse) {
    // link() fails with EEXIST instead of replacing: the no-overwrite rename.
    if (::link(tmpl.c_str(), path.c_str()) != 0) {
      int err = errno;
      return fail(err == EEXIST ? MakeError(Errc::kExists, path + " already exists")
                                : ErrnoError(err, "cannot create " + path));
    }
    ::unlink(tmpl.c_str());
  } else if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    return fail(ErrnoError(errno, "cannot replace " + path));
  }
  return FsyncPath(dir);
}

Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return MakeError(Errc::kInvalid, "empty directory path");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = path.find('/', pos + 1);
    partial = path.substr(0, next);
    pos = next;
    if (partial.empty() || partial == "/") continue;
    if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST)
      return ErrnoError(errno, fmt::format("cannot create directory {}", partial));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(errno, "cannot stat " + path);
  if (!S_ISDIR(st.st_mode)) return MakeError(Errc::kNotDir, path + " is not a directory");
  return Ok();
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string ParentDir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec);
  if (ec) return path;
  return (cwd / path).lexically_normal().string();
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec)
    return MakeError(Errc::kInternal, fmt::format("cannot remove {}: {}", path, ec.message()));
  return Ok();
}

}  // namespace shardfs::util
