#include "fs/cache/block_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iterator>

#include "fs/util/files.h"

namespace shardfs::cache {

std::string BlockSubdir(const std::string& blocks_dir, const util::ObjectId& id) {
  return blocks_dir + "/" + id.Hex().substr(0, 2);
}

std::string BlockPath(const std::string& blocks_dir, const util::ObjectId& id) {
  std::string hex = id.Hex();
  return blocks_dir + "/" + hex.substr(0, 2) + "/" + hex;
}

util::Status WriteBlockData(const std::string& path, util::ByteSpan data) {
  // No O_TRUNC: a recycled file's pages are overwritten in place rather than freed and
  // allocated again (large blocks bypass the page cache; see util::WriteWholeFile).
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return util::ErrnoError(errno, "cannot create cache block file " + path);
  auto fail = [&](int err, std::string_view what) {
    if (fd >= 0) ::close(fd);
    ::unlink(path.c_str());
    return util::ErrnoError(err, std::string(what) + " " + path);
  };
  if (util::Status s = util::WriteWholeFile(fd, data, "cache block file " + path); !s.ok()) {
    ::close(fd);
    ::unlink(path.c_str());
    return s;
  }
  // Some file systems report a full disk only at close; the block must not count as stored.
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0 && errno != EINTR) return fail(errno, "cannot close cache block file");
  return util::Ok();
}

util::Result<util::Bytes> ReadBlockFile(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return util::ErrnoError(errno, "cannot open cache block file " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return util::ErrnoError(err, "cannot stat cache block file " + path);
  }
  if (static_cast<uint64_t>(st.st_size) != size) {
    ::close(fd);
    return util::MakeError(util::Errc::kCorrupt,
                           "cache block file " + path + " holds " + std::to_string(st.st_size) +
                               " bytes, the index says " + std::to_string(size));
  }
  util::Bytes out(size);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return util::ErrnoError(err, "cannot read cache block file " + path);
    }
    if (n == 0) {  // truncated between the fstat and the read
      ::close(fd);
      return util::MakeError(util::Errc::kCorrupt, "cache block file " + path + " is short");
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

std::string SparePool::Claim() {
  if (spares_.size() + claimed_ >= max_files_) return "";
  ++claimed_;
  return dir_ + "/" + std::to_string(next_name_++);
}

void SparePool::Settle(const std::string& path, uint64_t size, bool renamed) {
  --claimed_;
  if (renamed) spares_.emplace(size, path);
}

std::string SparePool::Take(uint64_t size) {
  if (spares_.empty()) return dir_ + "/" + std::to_string(next_name_++);
  auto it = spares_.lower_bound(size);
  if (it == spares_.end()) it = std::prev(it);
  std::string path = std::move(it->second);
  spares_.erase(it);
  return path;
}

std::vector<std::string> SparePool::TakeAll() {
  std::vector<std::string> paths;
  for (auto& [size, path] : spares_) paths.push_back(std::move(path));
  spares_.clear();
  return paths;
}

}  // namespace shardfs::cache
