#include "node/object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "fs/util/encoding.h"
#include "fs/util/files.h"

namespace shardfs::node {
namespace {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

// Runs fn(0) ... fn(n - 1) on up to 16 threads (the caller among them).
void ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  constexpr size_t kThreads = 16;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) fn(i);
  };
  std::vector<std::jthread> helpers;
  for (size_t t = 1; t < std::min(kThreads, n); ++t) helpers.emplace_back(work);
  work();
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(std::move(n));
  }
  ::closedir(d);
  return out;
}

std::string StripQuotes(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  if (s.size() >= 4 && s.substr(0, 3) == "W/\"" && s.back() == '"') {
    return s.substr(3, s.size() - 4);
  }
  return s;
}

}  // namespace

std::string ObjectMeta::ETag() const { return "\"" + util::ToHex(md5) + "\""; }

// ---- Upload ----

Upload::Upload(ObjectStore* store, std::string bucket, std::string key, std::string owner,
               uint64_t size, uint64_t quota, TempFile temp, size_t header_len, int64_t mtime_ms,
               EtagDigest digest)
    : store_(store),
      bucket_(std::move(bucket)),
      key_(std::move(key)),
      owner_(std::move(owner)),
      size_(size),
      quota_(quota),
      temp_(std::move(temp)),
      writer_(temp_.fd(), header_len + size, "an upload's temp file"),
      header_len_(header_len),
      mtime_ms_(mtime_ms),
      digest_(digest) {
  if (digest_ == EtagDigest::kXxh3) {
    xxh3_state_ = XXH3_createState();
    SHARDFS_CHECK(xxh3_state_ != nullptr &&
                      XXH3_128bits_reset(static_cast<XXH3_state_t*>(xxh3_state_)) == XXH_OK,
                  "XXH3 init failed");
  } else {
    md5_ctx_ = EVP_MD_CTX_new();
    SHARDFS_CHECK(md5_ctx_ != nullptr && EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(md5_ctx_),
                                                           EVP_md5(), nullptr) == 1,
                  "MD5 init failed");
  }
}

Upload::~Upload() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(md5_ctx_));
  XXH3_freeState(static_cast<XXH3_state_t*>(xxh3_state_));
  if (!done_) store_->ReleaseReservation(owner_, size_);
}

Status Upload::Write(util::ByteSpan data) {
  if (done_) return MakeError(Errc::kInternal, "write after commit");
  if (data.size() > size_ - written_) {
    return MakeError(Errc::kInvalid, "more bytes than the declared Content-Length");
  }
  SHARDFS_TRY(writer_.Append(data));
  if (digest_ == EtagDigest::kXxh3) {
    XXH3_128bits_update(static_cast<XXH3_state_t*>(xxh3_state_), data.data(), data.size());
  } else {
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(md5_ctx_), data.data(), data.size());
  }
  written_ += data.size();
  return util::Ok();
}

Result<ObjectMeta> Upload::Commit(const PutConditions& conditions,
                                  const std::optional<std::array<uint8_t, 16>>& expected_md5) {
  if (done_) return MakeError(Errc::kInternal, "commit twice");
  if (written_ != size_) {
    return MakeError(Errc::kInvalid, "the body ended after " + std::to_string(written_) + " of " +
                                         std::to_string(size_) + " bytes");
  }
  if (digest_ == EtagDigest::kXxh3) {
    if (expected_md5) return MakeError(Errc::kInternal, "Content-MD5 needs an MD5 upload");
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical,
                             XXH3_128bits_digest(static_cast<XXH3_state_t*>(xxh3_state_)));
    static_assert(sizeof(canonical.digest) == 16);
    std::memcpy(md5_.data(), canonical.digest, 16);
  } else {
    unsigned int len = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(md5_ctx_), md5_.data(), &len);
  }
  if (expected_md5 && *expected_md5 != md5_) {
    return MakeError(Errc::kCorrupt, "the body does not match Content-MD5");
  }
  SHARDFS_TRY(writer_.PatchHead(kMd5Offset, md5_));
  SHARDFS_TRY(writer_.Finish());
  if (::fsync(temp_.fd()) != 0) return util::ErrnoError(errno, "fsync of an upload");
  return store_->CommitUpload(*this, conditions);
}

// ---- ObjectStore ----

Result<std::unique_ptr<ObjectStore>> ObjectStore::Open(const std::string& dir) {
  std::unique_ptr<ObjectStore> s(new ObjectStore(util::AbsolutePath(dir)));
  SHARDFS_TRY(util::MakeDirs(s->dir_ + "/tmp", 0700));
  SHARDFS_TRY(util::MakeDirs(s->dir_ + "/buckets", 0700));
  int fd = ::open((s->dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return util::ErrnoError(errno, "opening " + s->dir_ + "/lock");
  s->lock_fd_ = UniqueFd(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return MakeError(Errc::kUnavailable,
                     "the data directory " + s->dir_ + " is in use by another shardfs-node");
  }
  std::string format_path = s->dir_ + "/format.json";
  if (util::PathExists(format_path)) {
    SHARDFS_ASSIGN_OR_RETURN(util::Bytes f, util::ReadFile(format_path, 4096));
    auto j = nlohmann::json::parse(f.begin(), f.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("format") ||
        !j["format"].is_number_integer()) {
      return MakeError(Errc::kCorrupt, format_path + " is damaged");
    }
    if (j["format"].get<int>() != kFormatVersion) {
      return MakeError(Errc::kUnsupported, "the data directory " + s->dir_ + " has layout v" +
                                               std::to_string(j["format"].get<int>()) +
                                               "; this shardfs-node reads v1");
    }
  } else {
    std::string text = "{\"format\":1,\"program\":\"shardfs-node\"}\n";
    SHARDFS_TRY(util::WriteFileAtomic(format_path, util::AsBytes(text), 0600));
  }
  SHARDFS_TRY(s->Load());
  return s;
}

ObjectStore::~ObjectStore() = default;

Status ObjectStore::Load() {
  util::MutexLock lock(mu_);  // nobody can reach the store yet: for the analysis, free
  size_t removed = 0;
  for (const std::string& n : ListDir(dir_ + "/tmp")) {
    if (::unlink((dir_ + "/tmp/" + n).c_str()) == 0) ++removed;
  }
  if (removed > 0) spdlog::info("removed {} leftover temp file(s) of interrupted uploads", removed);
  for (const std::string& name : ListDir(dir_ + "/buckets")) SHARDFS_TRY(LoadBucket(name));
  uint64_t objects = 0;
  for (const auto& [n, b] : buckets_) objects += b.objects.size();
  spdlog::info("data directory {}: {} bucket(s), {} object(s)", dir_, buckets_.size(), objects);
  return util::Ok();
}

Status ObjectStore::LoadBucket(const std::string& name) {
  std::string bdir = BucketDir(name);
  Result<util::Bytes> meta = util::ReadFile(bdir + "/bucket.json", 4096);
  if (!ValidateBucketName(name).ok() || !meta.ok()) {
    spdlog::warn("ignoring {}: not a complete bucket directory", bdir);
    return util::Ok();
  }
  auto j = nlohmann::json::parse(meta->begin(), meta->end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("owner") || !j["owner"].is_string() ||
      !j.contains("created_ms") || !j["created_ms"].is_number_integer()) {
    return MakeError(Errc::kCorrupt, bdir + "/bucket.json is damaged");
  }
  Bucket& b = buckets_[name];
  b.info = {name, j["owner"].get<std::string>(), j["created_ms"].get<int64_t>()};
  std::string odir = bdir + "/objects";
  // Every directory is listed and every object's header read (its key, size and owner): small
  // random reads, which a cold disk serves far faster many at a time than one after another.
  // A node of 10,256 objects, caches dropped, loaded in 3.3-4.3 s on one thread and in 0.86 s
  // on 16; a devnet of 6 such nodes started in 21 s, now in 5.5-11.5 s.
  const std::vector<std::string> tops = ListDir(odir);
  std::vector<std::vector<std::pair<std::string, std::string>>> listed(tops.size());
  ParallelFor(tops.size(), [&](size_t i) {
    for (const std::string& d2 : ListDir(odir + "/" + tops[i])) {
      std::string sub = tops[i] + "/" + d2;
      for (std::string& f : ListDir(odir + "/" + sub)) listed[i].emplace_back(sub, std::move(f));
    }
  });
  std::vector<std::pair<std::string, std::string>> files;  // (directory, file name)
  for (auto& l : listed) std::move(l.begin(), l.end(), std::back_inserter(files));
  struct Loaded {
    std::string key;
    ObjectMeta meta;
  };
  std::vector<std::optional<Loaded>> loaded(files.size());
  ParallelFor(files.size(), [&](size_t i) {
    const auto& [sub, f] = files[i];
    std::string path = odir + "/" + sub + "/" + f;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    size_t header_len = 0;
    Result<ObjectHeader> h = fd.get() < 0 ? Result<ObjectHeader>(util::ErrnoError(errno, path))
                                          : ReadHeader(fd.get(), &header_len);
    if (!h.ok() || ::fstat(fd.get(), &st) != 0 ||
        static_cast<uint64_t>(st.st_size) != header_len + h->size ||
        KeyFileName(h->key) != sub + "/" + f) {
      spdlog::warn("ignoring {}: not a valid object file", path);
      return;
    }
    loaded[i] = Loaded{h->key, ObjectMeta{h->size, h->mtime_ms, h->md5, h->owner}};
  });
  for (auto& l : loaded) {
    if (!l) continue;
    Usage& u = usage_[l->meta.owner];
    u.bytes += l->meta.size;
    ++u.objects;
    b.objects[std::move(l->key)] = std::move(l->meta);
  }
  return util::Ok();
}

std::string ObjectStore::ObjectPath(const std::string& bucket, const std::string& key) const {
  return BucketDir(bucket) + "/objects/" + KeyFileName(key);
}

Status ObjectStore::CreateBucket(const std::string& name, const std::string& owner) {
  SHARDFS_TRY(ValidateBucketName(name));
  util::MutexLock lock(mu_);
  auto it = buckets_.find(name);
  if (it != buckets_.end()) {
    if (it->second.info.owner == owner) return util::Ok();
    return MakeError(Errc::kExists, "bucket " + name + " belongs to another access key");
  }
  std::string bdir = BucketDir(name);
  SHARDFS_TRY(util::MakeDirs(bdir + "/objects", 0700));
  int64_t now = NowUnixMs();
  nlohmann::json j = {{"owner", owner}, {"created_ms", now}};
  SHARDFS_TRY(util::WriteFileAtomic(bdir + "/bucket.json", util::AsBytes(j.dump()), 0600));
  SHARDFS_TRY(util::FsyncPath(dir_ + "/buckets"));
  buckets_[name].info = {name, owner, now};
  return util::Ok();
}

Result<BucketInfo> ObjectStore::GetBucket(const std::string& name) const {
  util::MutexLock lock(mu_);
  auto it = buckets_.find(name);
  if (it == buckets_.end()) return MakeError(Errc::kNotFound, "no bucket " + name);
  return it->second.info;
}

Status ObjectStore::DeleteBucket(const std::string& name) {
  util::MutexLock lock(mu_);
  auto it = buckets_.find(name);
  if (it == buckets_.end()) return MakeError(Errc::kNotFound, "no bucket " + name);
  if (!it->second.objects.empty()) {
    return MakeError(Errc::kNotEmpty, "bucket " + name + " is not empty");
  }
  // bucket.json goes first: a crash half-way leaves a directory Load ignores.
  std::string bdir = BucketDir(name);
  if (::unlink((bdir + "/bucket.json").c_str()) != 0 && errno != ENOENT) {
    return util::ErrnoError(errno, "removing " + bdir + "/bucket.json");
  }
  buckets_.erase(it);
  SHARDFS_TRY(util::RemoveTree(bdir));
  return util::FsyncPath(dir_ + "/buckets");
}

std::vector<BucketInfo> ObjectStore::ListBuckets(const std::string& owner) const {
  util::MutexLock lock(mu_);
  std::vector<BucketInfo> out;
  for (const auto& [name, b] : buckets_) {
    if (b.info.owner == owner) out.push_back(b.info);
  }
  return out;
}

Status ObjectStore::CheckConditions(const Bucket& b, const std::string& key,
                                    const PutConditions& c) const {
  auto it = b.objects.find(key);
  if (c.if_none_match_star && it != b.objects.end()) {
    return MakeError(Errc::kExists, "the object exists (If-None-Match: *)");
  }
  if (c.if_match) {
    if (it == b.objects.end()) return MakeError(Errc::kNotFound, "no such object (If-Match)");
    std::string etag = StripQuotes(it->second.ETag());
    for (const std::string& want : *c.if_match) {
      if (want == "*" || StripQuotes(want) == etag) return util::Ok();
    }
    return MakeError(Errc::kExists, "the object's ETag does not match If-Match");
  }
  return util::Ok();
}

Result<std::unique_ptr<Upload>> ObjectStore::BeginPut(
    const std::string& bucket, const std::string& key, const std::string& owner, uint64_t size,
    uint64_t quota_bytes, const PutConditions& conditions, EtagDigest digest) {
  SHARDFS_TRY(ValidateKey(key));
  int64_t now = NowUnixMs();
  {
    util::MutexLock lock(mu_);
    auto it = buckets_.find(bucket);
    if (it == buckets_.end()) return MakeError(Errc::kNotFound, "no bucket " + bucket);
    SHARDFS_TRY(CheckConditions(it->second, key, conditions));
    Usage& u = usage_[owner];
    auto old = it->second.objects.find(key);
    uint64_t credit =
        (old != it->second.objects.end() && old->second.owner == owner) ? old->second.size : 0;
    if (quota_bytes != 0 && u.bytes + u.reserved + size > quota_bytes + credit) {
      return MakeError(Errc::kNoSpace, "the upload of " + std::to_string(size) +
                                           " bytes would exceed the quota of " +
                                           std::to_string(quota_bytes) + " bytes (" +
                                           std::to_string(u.bytes) + " used)");
    }
    u.reserved += size;
  }
  ObjectHeader h{size, now, {}, key, owner};
  util::Bytes header = EncodeHeader(h);
  Result<TempFile> temp = TempFile::Create(dir_ + "/tmp");
  if (!temp.ok()) {
    ReleaseReservation(owner, size);
    return temp.error();
  }
  std::unique_ptr<Upload> up(new Upload(this, bucket, key, owner, size, quota_bytes,
                                        std::move(temp).value(), header.size(), now, digest));
  SHARDFS_TRY(up->writer_.Append(header));
  return up;
}

void ObjectStore::ReleaseReservation(const std::string& owner, uint64_t bytes) {
  util::MutexLock lock(mu_);
  usage_[owner].reserved -= bytes;
}

Result<ObjectMeta> ObjectStore::CommitUpload(Upload& up, const PutConditions& c) {
  std::string path = ObjectPath(up.bucket_, up.key_);
  std::string sub = util::ParentDir(path);
  SHARDFS_TRY(MakeDurableDir(sub));
  ObjectMeta meta;
  {
    util::MutexLock lock(mu_);
    auto it = buckets_.find(up.bucket_);
    if (it == buckets_.end()) return MakeError(Errc::kNotFound, "no bucket " + up.bucket_);
    SHARDFS_TRY(CheckConditions(it->second, up.key_, c));
    Usage& u = usage_[up.owner_];
    auto old = it->second.objects.find(up.key_);
    uint64_t credit =
        (old != it->second.objects.end() && old->second.owner == up.owner_) ? old->second.size : 0;
    if (up.quota_ != 0 && u.bytes + u.reserved > up.quota_ + credit) {
      return MakeError(Errc::kNoSpace, "the upload would exceed the quota");
    }
    if (::rename(up.temp_.path().c_str(), path.c_str()) != 0) {
      return util::ErrnoError(errno, "renaming an upload to " + path);
    }
    up.temp_.Keep();
    up.done_ = true;
    u.reserved -= up.size_;
    if (old != it->second.objects.end()) {
      Usage& ou = usage_[old->second.owner];
      ou.bytes -= old->second.size;
      --ou.objects;
    }
    u.bytes += up.size_;
    ++u.objects;
    meta = ObjectMeta{up.size_, up.mtime_ms_, up.md5_, up.owner_};
    it->second.objects[up.key_] = meta;
  }
  // The rename is durable once the directory is: only then is the reply sent. Outside mu_, so
  // that one upload's sync does not hold up every other request to this node.
  SHARDFS_TRY(util::FsyncPath(sub));
  return meta;
}

Status ObjectStore::MakeDurableDir(const std::string& sub) {
  // The directory and its parent are made durable by whoever creates them, and also by anyone
  // who finds them while their creator may still be syncing them: an upload replied to must
  // never sit in a directory whose own entry a power cut could lose.
  bool sync_parents = false;
  {
    util::MutexLock lock(mu_);
    if (making_dirs_.contains(sub)) {
      sync_parents = true;
      ++making_dirs_[sub];
    } else if (!util::PathExists(sub)) {
      SHARDFS_TRY(util::MakeDirs(sub, 0700));
      sync_parents = true;
      making_dirs_[sub] = 1;
    }
  }
  if (!sync_parents) return util::Ok();
  Status s = util::FsyncPath(util::ParentDir(sub));
  if (s.ok()) s = util::FsyncPath(util::ParentDir(util::ParentDir(sub)));
  util::MutexLock lock(mu_);
  if (--making_dirs_[sub] == 0) making_dirs_.erase(sub);
  return s;
}

Result<OpenObject> ObjectStore::OpenForRead(const std::string& bucket,
                                            const std::string& key) const {
  {
    util::MutexLock lock(mu_);
    auto it = buckets_.find(bucket);
    if (it == buckets_.end()) return MakeError(Errc::kNotFound, "no bucket " + bucket);
    if (!it->second.objects.contains(key)) return MakeError(Errc::kNotFound, "no such key");
  }
  std::string path = ObjectPath(bucket, key);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return MakeError(Errc::kNotFound, "no such key");
    return util::ErrnoError(errno, "opening " + path);
  }
  // The header of the file we hold describes exactly the bytes we will serve, even if the object
  // is replaced meanwhile.
  size_t header_len = 0;
  SHARDFS_ASSIGN_OR_RETURN(ObjectHeader h, ReadHeader(fd.get(), &header_len));
  if (h.key != key) return MakeError(Errc::kCorrupt, path + " holds another key");
  return OpenObject{std::move(fd), ObjectMeta{h.size, h.mtime_ms, h.md5, h.owner}, header_len};
}

Status ObjectStore::Delete(const std::string& bucket, const std::string& key) {
  std::string path;
  {
    util::MutexLock lock(mu_);
    auto it = buckets_.find(bucket);
    if (it == buckets_.end()) return MakeError(Errc::kNotFound, "no bucket " + bucket);
    auto obj = it->second.objects.find(key);
    if (obj == it->second.objects.end()) return util::Ok();
    path = ObjectPath(bucket, key);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return util::ErrnoError(errno, "removing " + path);
    }
    Usage& u = usage_[obj->second.owner];
    u.bytes -= obj->second.size;
    --u.objects;
    it->second.objects.erase(obj);
  }
  // Without the lock, as for uploads: no request to this node waits for this one's sync.
  return util::FsyncPath(util::ParentDir(path));
}

Result<ListPage> ObjectStore::List(const std::string& bucket, const ListQuery& q) const {
  util::MutexLock lock(mu_);
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return MakeError(Errc::kNotFound, "no bucket " + bucket);
  const auto& objects = it->second.objects;
  ListPage page;
  auto pos = objects.lower_bound(std::max(q.prefix, q.after));
  for (; pos != objects.end(); ++pos) {
    const std::string& key = pos->first;
    if (key.compare(0, q.prefix.size(), q.prefix) != 0) break;
    std::string entry = key;
    bool is_prefix = false;
    if (!q.delimiter.empty()) {
      size_t d = key.find(q.delimiter, q.prefix.size());
      if (d != std::string::npos) {
        entry = key.substr(0, d + q.delimiter.size());
        is_prefix = true;
      }
    }
    if (!q.after.empty() && entry <= q.after) continue;
    if (is_prefix && !page.common_prefixes.empty() && page.common_prefixes.back() == entry) {
      continue;
    }
    if (page.objects.size() + page.common_prefixes.size() >= q.max_keys) {
      page.truncated = true;
      break;
    }
    if (is_prefix) {
      page.common_prefixes.push_back(entry);
    } else {
      page.objects.emplace_back(key, pos->second);
    }
    page.last = entry;
  }
  return page;
}

Usage ObjectStore::GetUsage(const std::string& owner) const {
  util::MutexLock lock(mu_);
  auto it = usage_.find(owner);
  return it == usage_.end() ? Usage{} : it->second;
}

}  // namespace shardfs::node
