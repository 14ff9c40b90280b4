#include "fs/remote/dir_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <utility>

#include <fmt/format.h>

#include "fs/util/files.h"
#include "fs/util/unique_fd.h"

namespace shardfs::remote {
namespace {

using util::Errc;
using util::ErrnoError;
using util::Error;
using util::MakeError;

class Dir {
 public:
  explicit Dir(DIR* d) : d_(d) {}
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  ~Dir() {
    if (d_ != nullptr) ::closedir(d_);
  }
  DIR* get() const { return d_; }

 private:
  DIR* d_;
};

// Reads exactly n bytes at offset; the file is never modified in place, so a short read means
// something else changed it.
util::Result<util::Bytes> ReadAt(int fd, uint64_t offset, size_t n, const std::string& path) {
  util::Bytes out(n);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "cannot read " + path);
    }
    if (r == 0) {
      return MakeError(
          Errc::kCorrupt,
          fmt::format("{} shrank while being read (something else writes there)", path));
    }
    done += static_cast<size_t>(r);
  }
  return out;
}

// Every entry of dir except "." and "..", with its d_type.
util::Status ForEachEntry(const std::string& dir,
                          const std::function<util::Status(const char*, unsigned char)>& fn) {
  Dir d(::opendir(dir.c_str()));
  if (d.get() == nullptr) return ErrnoError(errno, "cannot list " + dir);
  while (true) {
    errno = 0;
    const dirent* e = ::readdir(d.get());
    if (e == nullptr) {
      if (errno != 0) return ErrnoError(errno, "cannot list " + dir);
      return util::Ok();
    }
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    SHARDFS_TRY(fn(e->d_name, e->d_type));
  }
}

// Calls fn(fanout dir, object name) for every object whose fan-out directory may hold names
// starting with prefix. Temp files and anything that is not a valid object name are skipped.
util::Status ForEachObject(
    const std::string& objects_dir, std::string_view prefix,
    const std::function<util::Status(const std::string&, const std::string&)>& fn) {
  return ForEachEntry(objects_dir, [&](const char* sub, unsigned char type) -> util::Status {
    std::string_view s = sub;
    if (type != DT_DIR && type != DT_UNKNOWN) return util::Ok();
    if (!s.starts_with(prefix) && !prefix.starts_with(s)) return util::Ok();
    if (!ValidateObjectName(s).ok()) return util::Ok();
    std::string fanout = objects_dir + "/" + std::string(s);
    return ForEachEntry(fanout, [&](const char* name, unsigned char t) -> util::Status {
      std::string_view n = name;
      if (!n.starts_with(prefix) || !ValidateObjectName(n).ok()) return util::Ok();
      if (t == DT_UNKNOWN) {  // some file systems do not say
        struct stat st {};
        std::string path = fanout + "/" + std::string(n);
        if (::lstat(path.c_str(), &st) != 0) return ErrnoError(errno, "cannot stat " + path);
        if (!S_ISREG(st.st_mode)) return util::Ok();
      } else if (t != DT_REG) {
        return util::Ok();
      }
      return fn(fanout, name);
    });
  });
}

}  // namespace

DirStore::DirStore(std::string dir) : dir_(std::move(dir)), objects_dir_(dir_ + "/objects") {}

util::Result<std::unique_ptr<DirStore>> DirStore::Open(const std::string& dir) {
  if (dir.empty()) return MakeError(Errc::kInvalid, "the shard store directory is empty");
  std::string abs = util::AbsolutePath(dir);
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  const std::string what = fmt::format("cannot open the shard store in {}", abs);

  bool existed = util::PathExists(abs);
  if (auto s = util::MakeDirs(abs, 0700); !s.ok()) return s.error().WithContext(what);
  if (::access(abs.c_str(), R_OK | W_OK | X_OK) != 0) {
    return ErrnoError(errno, fmt::format("{}: it needs read, write and search permission", what));
  }
  std::unique_ptr<DirStore> store(new DirStore(abs));
  if (auto s = util::MakeDirs(store->objects_dir_, 0700); !s.ok()) {
    return s.error().WithContext(what);
  }
  // Make the directories themselves durable, and any fan-out directory a crashed process left
  // behind unsynced: from here on, every fan-out directory that exists is on disk.
  for (const std::string& d : {existed ? abs : util::ParentDir(abs), abs, store->objects_dir_}) {
    if (auto s = util::FsyncPath(d); !s.ok()) return s.error().WithContext(what);
  }
  return store;
}

std::string DirStore::FanoutDir(std::string_view name) const {
  return objects_dir_ + "/" + std::string(name.substr(0, 2));
}

std::string DirStore::ObjectPath(std::string_view name) const {
  return FanoutDir(name) + "/" + std::string(name);
}

Error DirStore::StoreError(const Error& e) const {
  if (e.code == Errc::kNoSpace) {
    return MakeError(Errc::kNoSpace, fmt::format("{} is full ({})", Describe(), e.message));
  }
  return e.WithContext(Describe());
}

util::Status DirStore::EnsureFanoutDir(const std::string& fanout) {
  {
    util::MutexLock lock(mu_);
    if (durable_fanouts_.contains(fanout)) return util::Ok();
  }
  if (::mkdir(fanout.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError(errno, "cannot create directory " + fanout);
  }
  // Even when another thread made it, this one may not return before the entry is durable.
  SHARDFS_TRY(util::FsyncPath(objects_dir_));
  util::MutexLock lock(mu_);
  durable_fanouts_.insert(fanout);
  return util::Ok();
}

util::Result<std::string> DirStore::WriteTemp(const std::string& fanout, std::string_view name,
                                              util::ByteSpan data) {
  std::string tmp = fmt::format("{}/.tmp-{}-XXXXXX", fanout, name);
  int raw = ::mkostemp(tmp.data(), O_CLOEXEC);  // mode 0600
  if (raw < 0) return ErrnoError(errno, "cannot create a file in " + fanout);
  util::UniqueFd fd(raw);
  auto fail = [&](Error e) {
    ::unlink(tmp.c_str());
    return e;
  };
  if (auto s = util::WriteWholeFile(fd.get(), data, tmp); !s.ok()) return fail(s.error());
  if (::fsync(fd.get()) != 0) return fail(ErrnoError(errno, "cannot fsync " + tmp));
  if (fd.Close() != 0) return fail(ErrnoError(errno, "cannot close " + tmp));
  return tmp;
}

util::Status DirStore::Put(std::string_view name, util::ByteSpan data) {
  SHARDFS_TRY(ValidateObjectName(name));
  const std::string fanout = FanoutDir(name);
  const std::string path = fanout + "/" + std::string(name);
  if (auto s = EnsureFanoutDir(fanout); !s.ok()) return StoreError(s.error());
  auto tmp = WriteTemp(fanout, name, data);
  if (!tmp.ok()) return StoreError(tmp.error());
  if (auto s = Install(*tmp, path, data.size()); !s.ok()) return StoreError(s.error());
  if (auto s = util::FsyncPath(fanout); !s.ok()) return StoreError(s.error());
  return util::Ok();
}

util::Status DirStore::PutFile(std::string_view name, const std::string& source, uint64_t size) {
  SHARDFS_TRY(ValidateObjectName(name));
  const std::string fanout = FanoutDir(name);
  const std::string path = fanout + "/" + std::string(name);
  if (auto s = EnsureFanoutDir(fanout); !s.ok()) return StoreError(s.error());
  std::string tmp;
  while (true) {
    {
      util::MutexLock lock(mu_);
      tmp = fmt::format("{}/.tmp-{}-L{}-{}", fanout, name, ::getpid(), next_link_++);
    }
    if (::link(source.c_str(), tmp.c_str()) == 0) break;
    const int err = errno;
    if (err == EEXIST) continue;  // left by a crashed process of the same pid: another name
    const std::string what = fmt::format("cannot link {} as {}", source, tmp);
    if (err == ENOENT) return MakeError(Errc::kNotFound, what + ": it is gone");
    if (err == EXDEV || err == EPERM || err == EMLINK || err == EOPNOTSUPP) {
      return MakeError(Errc::kCrossDevice, fmt::format("{}: {}", what, std::strerror(err)));
    }
    return StoreError(ErrnoError(err, what));
  }
  auto fail = [&](Error e) {
    ::unlink(tmp.c_str());
    return StoreError(e);
  };
  util::UniqueFd fd(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return fail(ErrnoError(errno, "cannot open " + tmp));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(ErrnoError(errno, "cannot stat " + tmp));
  if (static_cast<uint64_t>(st.st_size) != size) {
    return fail(MakeError(Errc::kCorrupt, fmt::format("{} holds {} bytes, not the {} expected",
                                                      source, st.st_size, size)));
  }
  if (::fsync(fd.get()) != 0) return fail(ErrnoError(errno, "cannot fsync " + tmp));
  if (auto s = Install(tmp, path, size, &st); !s.ok()) return StoreError(s.error());
  if (auto s = util::FsyncPath(fanout); !s.ok()) return StoreError(s.error());
  return util::Ok();
}

util::Status DirStore::Install(const std::string& tmp, const std::string& path, uint64_t size,
                               const struct stat* linked) {
  util::MutexLock lock(mu_);
  struct stat old {};
  bool replaced = (usage_known_ || linked != nullptr) && ::lstat(path.c_str(), &old) == 0;
  if (replaced && linked != nullptr && old.st_ino == linked->st_ino &&
      old.st_dev == linked->st_dev) {
    ::unlink(tmp.c_str());  // stored already (a retry): rename would keep both names
    return util::Ok();
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = ErrnoError(errno, "cannot rename " + tmp + " to " + path);
    ::unlink(tmp.c_str());
    return e;
  }
  if (usage_known_) {
    used_bytes_ += size;
    if (replaced) {
      used_bytes_ -= static_cast<uint64_t>(old.st_size);
    } else {
      ++objects_;
    }
  }
  return util::Ok();
}

util::Result<util::Bytes> DirStore::Get(std::string_view name) {
  return GetRange(name, 0, UINT64_MAX);
}

util::Result<util::Bytes> DirStore::GetRange(std::string_view name, uint64_t offset,
                                             uint64_t length) {
  SHARDFS_TRY(ValidateObjectName(name));
  const std::string path = ObjectPath(name);
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return MakeError(Errc::kNotFound, fmt::format("{} has no object {}", Describe(), name));
    }
    return StoreError(ErrnoError(errno, "cannot open " + path));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return StoreError(ErrnoError(errno, "cannot stat " + path));
  const auto size = static_cast<uint64_t>(st.st_size);
  if (offset >= size) return util::Bytes();
  const uint64_t n = std::min(length, size - offset);
  auto data = ReadAt(fd.get(), offset, static_cast<size_t>(n), path);
  if (!data.ok()) return StoreError(data.error());
  return data;
}

util::Status DirStore::Delete(std::string_view name) {
  SHARDFS_TRY(ValidateObjectName(name));
  const std::string path = ObjectPath(name);
  {
    util::MutexLock lock(mu_);
    struct stat old {};
    bool known = usage_known_ && ::lstat(path.c_str(), &old) == 0;
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) return util::Ok();
      return StoreError(ErrnoError(errno, "cannot remove " + path));
    }
    if (known) {
      used_bytes_ -= static_cast<uint64_t>(old.st_size);
      --objects_;
    }
  }
  // Durable too: a delete that comes undone after a crash would resurrect garbage.
  if (auto s = util::FsyncPath(FanoutDir(name)); !s.ok()) return StoreError(s.error());
  return util::Ok();
}

util::Result<std::vector<std::string>> DirStore::List(std::string_view prefix) {
  std::vector<std::string> names;
  auto s = ForEachObject(objects_dir_, prefix,
                         [&](const std::string&, const std::string& name) -> util::Status {
                           names.push_back(name);
                           return util::Ok();
                         });
  if (!s.ok()) return StoreError(s.error());
  std::sort(names.begin(), names.end());
  return names;
}

util::Status DirStore::WalkUsageLocked() {
  uint64_t bytes = 0;
  uint64_t count = 0;
  SHARDFS_TRY(ForEachObject(
      objects_dir_, "", [&](const std::string& fanout, const std::string& name) -> util::Status {
        std::string path = fanout + "/" + name;
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) return ErrnoError(errno, "cannot stat " + path);
        if (!S_ISREG(st.st_mode)) return util::Ok();
        bytes += static_cast<uint64_t>(st.st_size);
        ++count;
        return util::Ok();
      }));
  used_bytes_ = bytes;
  objects_ = count;
  usage_known_ = true;
  return util::Ok();
}

util::Result<StoreUsage> DirStore::Usage() {
  StoreUsage usage;
  {
    util::MutexLock lock(mu_);
    if (!usage_known_) {
      if (auto s = WalkUsageLocked(); !s.ok()) return StoreError(s.error());
    }
    usage.used_bytes = used_bytes_;
    usage.objects = objects_;
  }
  struct statvfs vfs {};
  if (::statvfs(dir_.c_str(), &vfs) != 0) {
    return StoreError(ErrnoError(errno, "cannot statvfs " + dir_));
  }
  // The disk the store lives on: a stable total (df's size) and what is left on it. The disk
  // may hold other data too, so used_bytes (this store's objects) is reported separately.
  usage.capacity_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  usage.available_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  return usage;
}

}  // namespace shardfs::remote
