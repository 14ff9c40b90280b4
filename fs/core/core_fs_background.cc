// CoreFs: the uploader (sealed blocks from the cache to the store, garbage out of the store)
// and the committer (idle buffers sealed and local state synced every commit interval).
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fs/core/core_fs.h"
#include "fs/util/units.h"

namespace shardfs::core {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {
constexpr size_t kUploadBatch = 2;  // per uploader thread: keeps the threads evenly busy
constexpr size_t kGarbageBatch = 64;
// With a quota, how often the uploader asks the store how much it holds while it works.
constexpr auto kQuotaUsageInterval = std::chrono::seconds(10);
}  // namespace

void CoreFs::RefreshStoreUsage(bool freed) {
  uint64_t uploaded_before = 0;
  {
    util::MutexLock lock(mu_);
    if (freed) usage_stale_ = true;
    const auto now = std::chrono::steady_clock::now();
    if (usage_asking_ ||
        (!usage_stale_ && store_used_known_ && now - usage_asked_ < kQuotaUsageInterval)) {
      return;  // another thread asks, and asks again if blocks were freed meanwhile
    }
    usage_asking_ = true;
  }
  while (true) {
    {
      util::MutexLock lock(mu_);
      uploaded_before = uploaded_bytes_;
      usage_asked_ = std::chrono::steady_clock::now();
      usage_stale_ = false;
    }
    auto usage = store_->Usage();
    util::MutexLock lock(mu_);
    if (usage.ok()) {
      // Uploads that finished while the store was asked may be counted twice: the quota errs
      // on the side of refusing early, never of letting the drive outgrow it.
      store_used_ = usage->used_bytes;
      uploaded_at_usage_ = uploaded_before;
      store_used_known_ = true;
    } else {
      spdlog::warn("drive quota: cannot learn how much {} holds: {}", store_->Describe(),
                   usage.error().message);
    }
    if (!usage_stale_ || !usage.ok()) {
      usage_asking_ = false;
      return;
    }
  }
}

uint64_t CoreFs::QuotaUsed() {
  uint64_t used = store_used_ + (uploaded_bytes_ - uploaded_at_usage_);
  return used + cache_->Stats().dirty_bytes;
}

Status CoreFs::CheckQuota() {
  if (config_.quota == 0 || !store_used_known_) return util::Ok();
  const uint64_t used = QuotaUsed();
  if (used < config_.quota) return util::Ok();
  return MakeError(Errc::kNoSpace,
                   fmt::format("the drive's quota of {} is used up ({} stored or waiting to be); "
                               "delete files, or raise \"quota\" in the drive config",
                               util::FormatSize(config_.quota), util::FormatSize(used)));
}

std::optional<std::pair<util::Result<util::Bytes>, uint64_t>> CoreFs::UploadCacheFile(
    const util::ObjectId& id) {
  if (!store_takes_files_.load(std::memory_order_relaxed)) return std::nullopt;
  auto file = cache_->FileOf(id);
  if (!file.ok()) return std::nullopt;
  auto location = store_->PutFile(ObjectName(id), file->path, file->size);
  if (location.ok()) return std::pair{std::move(location), file->size};
  switch (location.code()) {
    case Errc::kUnsupported:
    case Errc::kCrossDevice:  // the cache and the store are on different file systems
      spdlog::debug("uploads to {} copy blocks: {}", store_->Describe(), location.error().message);
      store_takes_files_ = false;
      return std::nullopt;
    case Errc::kNotFound:  // evicted or removed meanwhile: the cache says which
    case Errc::kCorrupt:   // not the size the cache says: its Get drops the block
      return std::nullopt;
    default:
      return std::pair{std::move(location), file->size};
  }
}

bool CoreFs::UploadOne(const util::ObjectId& id) {
  uint64_t size = 0;
  util::Result<util::Bytes> location = util::Bytes{};
  if (auto linked = UploadCacheFile(id)) {
    std::tie(location, size) = std::move(*linked);
  } else if (auto sealed = cache_->Get(id); sealed.ok()) {
    size = sealed->size();
    location = store_->Put(ObjectName(id), *sealed);
  } else {
    // Not in the cache: it became garbage (removed) before it was uploaded, or it was lost.
    util::MutexLock lock(mu_);
    auto txn = meta_->Write();
    if (!txn.ok()) return false;
    auto pending = (*txn)->HasUpload(id);
    if (pending.ok() && *pending) {
      spdlog::error("block {} vanished from the cache before it was uploaded: {}", id.Hex(),
                    sealed.error().message);
      (void)(*txn)->RemoveUpload(id);
      (void)(*txn)->Commit();
    }
    return true;
  }
  if (!location.ok()) {
    util::MutexLock lock(mu_);
    if (last_upload_error_.ok()) {
      spdlog::warn("cannot upload to {}: {}; retrying", store_->Describe(),
                   location.error().message);
    }
    last_upload_error_ = location.error();
    return false;
  }
  {
    util::MutexLock lock(mu_);
    last_upload_error_ = util::Ok();
    uploaded_bytes_ += size;
    auto txn = meta_->Write();
    if (!txn.ok()) return false;
    auto pending = (*txn)->HasUpload(id);
    if (!pending.ok()) return false;
    // The placement is kept either way: a block replaced while it was uploading is garbage
    // now, and deleting it from the nodes needs to know where its shards went.
    Status s = (*txn)->PutPlacement(id, *location);
    if (s.ok()) s = *pending ? (*txn)->RemoveUpload(id) : (*txn)->AddGarbage(id);
    if (s.ok()) s = (*txn)->Commit();
    if (!s.ok()) {
      spdlog::error("upload bookkeeping: {}", s.error().message);
      return false;
    }
    changed_since_sync_ = true;
  }
  Status clean = cache_->MarkClean(id);
  if (!clean.ok()) spdlog::warn("block cache: {}", clean.error().message);
  return true;
}

bool CoreFs::CollectOneGarbage(const util::ObjectId& id) {
  util::Bytes location;  // empty: never uploaded, or a whole-block store (no records needed)
  {
    util::MutexLock lock(mu_);
    auto txn = meta_->Read();
    if (!txn.ok()) return false;
    auto found = (*txn)->GetPlacement(id);
    if (found.ok()) {
      location = std::move(found).value();
    } else if (found.code() != Errc::kNotFound) {
      spdlog::error("garbage block {}: {}", id.Hex(), found.error().message);
      return false;
    }
  }
  Status del = store_->Delete(ObjectName(id), location);
  // kCorrupt for an empty record: a store that needs records never got this block.
  if (!del.ok() && !(location.empty() && del.code() == Errc::kCorrupt)) {
    spdlog::warn("cannot delete an unused block from {}: {}", store_->Describe(),
                 del.error().message);
    return false;
  }
  (void)cache_->Remove(id);
  util::MutexLock lock(mu_);
  auto txn = meta_->Write();
  if (!txn.ok()) return false;
  Status s = (*txn)->RemoveGarbage(id);
  if (s.ok()) s = (*txn)->DeletePlacement(id);
  if (s.ok()) s = (*txn)->Commit();
  return s.ok();
}

void CoreFs::UploaderLoop() {
  // Uploads are background work: at a lower CPU priority they take what the foreground (FUSE
  // requests) leaves. On 2 cores they otherwise slowed the writes that feed them.
  if (options_.background_nice > 0) {
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), options_.background_nice);
  }
  auto backoff = std::chrono::milliseconds(0);
  bool all_ok = true;  // the last round's uploads and deletions all worked
  if (config_.quota != 0) RefreshStoreUsage(/*freed=*/false);
  while (true) {
    std::vector<util::ObjectId> uploads, garbage;
    {
      util::MutexLock lock(mu_);
      if (backoff.count() > 0) mu_.AwaitFor(work_cv_, backoff);
      while (!stopping_ && !UploadsDue(std::chrono::steady_clock::now())) {
        WaitForWork(std::chrono::milliseconds(200));
      }
      if (stopping_) return;
      draining_ = true;
      // The read transaction ends before any wait: a snapshot held keeps LMDB from reusing the
      // pages every later commit frees, and idle uploaders holding one a second at a time made
      // the metadata file grow by 130 MB while 10,000 files were deleted.
      if (auto txn = meta_->Read(); txn.ok()) {
        bool uploads_pending = false;  // taken by this round or in flight on another thread
        (void)(*txn)->ScanUploads([&](const util::ObjectId& id, uint64_t) REQUIRES(mu_) {
          uploads_pending = true;
          if (!in_flight_.contains(id)) uploads.push_back(id);
          return uploads.size() < kUploadBatch;
        });
        // Deleting garbage waits while blocks wait for upload: a write that follows the
        // deletion of a large file reaches the nodes first (the shard deletions of the old file
        // took the nodes' disks and syncs from the new one's uploads). It goes on alongside
        // when the drive has a quota (room is given back at once) or uploads fail (a node may
        // be full).
        if (!uploads_pending || config_.quota != 0 || !all_ok) {
          (void)(*txn)->ScanGarbage([&](const util::ObjectId& id) REQUIRES(mu_) {
            if (!in_flight_.contains(id)) garbage.push_back(id);
            return garbage.size() < kGarbageBatch;
          });
        }
      }
      if (uploads.empty() && garbage.empty()) {
        // Drained: the next blocks wait for the end of their burst.
        if (in_flight_.empty()) {
          draining_ = false;
          waiting_bytes_ = waiting_whole_bytes_ = 0;
        }
        uploaded_cv_.notify_all();
        WaitForWork(std::chrono::seconds(1));
        continue;
      }
      for (const auto& id : uploads) in_flight_.insert(id);
      for (const auto& id : garbage) in_flight_.insert(id);
    }
    all_ok = true;
    for (const auto& id : uploads) all_ok = UploadOne(id) && all_ok;
    for (const auto& id : garbage) all_ok = CollectOneGarbage(id) && all_ok;
    if (config_.quota != 0 && (!uploads.empty() || !garbage.empty())) {
      RefreshStoreUsage(/*freed=*/!garbage.empty());  // deleted blocks give room back at once
    }
    {
      util::MutexLock lock(mu_);
      for (const auto& id : uploads) in_flight_.erase(id);
      for (const auto& id : garbage) in_flight_.erase(id);
      uploaded_cv_.notify_all();
    }
    // Exponential backoff while the store fails, up to 30 s; straight on while it works.
    backoff = all_ok
                  ? std::chrono::milliseconds(0)
                  : std::min<std::chrono::milliseconds>(
                        std::chrono::seconds(30), std::max<std::chrono::milliseconds>(
                                                      std::chrono::milliseconds(100), backoff * 2));
  }
}

bool CoreFs::UploadsDue(std::chrono::steady_clock::time_point now) const {
  // Bounded by the cache: a small cache full of blocks waiting would stall writers.
  const uint64_t eager = std::min<uint64_t>(kUploadEagerBytes, config_.cache_size / 8);
  const uint64_t backlog = std::min<uint64_t>(kUploadBacklogBytes, config_.cache_size / 4);
  return draining_ || waiting_whole_bytes_ >= eager || waiting_bytes_ >= backlog ||
         now - last_activity_ >= kUploadQuiet ||
         (waiting_bytes_ > 0 && now - first_waiting_ >= kUploadMaxDelay) ||
         cache_->Stats().space_waiters > 0;  // a writer waits for room (the disk may be short)
}

void CoreFs::WaitForWork(std::chrono::milliseconds limit) {
  ++idle_uploaders_;
  mu_.AwaitFor(work_cv_, limit);
  --idle_uploaders_;
}

void CoreFs::WakeUploaders() {
  if (idle_uploaders_ > 0 && UploadsDue(std::chrono::steady_clock::now())) work_cv_.notify_all();
}

void CoreFs::NoteWriteActivity(uint64_t sealed_bytes, bool whole_block) {
  const auto now = std::chrono::steady_clock::now();
  if (waiting_bytes_ == 0 && sealed_bytes > 0) first_waiting_ = now;
  waiting_bytes_ += sealed_bytes;
  if (whole_block) waiting_whole_bytes_ += sealed_bytes;
  last_activity_ = now;
}

void CoreFs::CommitterLoop() {
  const auto interval =
      std::chrono::seconds(std::max<uint32_t>(1, options_.commit_interval_seconds));
  util::MutexLock lock(mu_);
  while (!stopping_) {
    mu_.AwaitFor(stop_cv_, interval);
    if (stopping_) break;
    const auto cutoff = clock_->Now() - interval;
    std::vector<uint64_t> idle;
    for (auto& [ino, n] : nodes_) {
      bool old_dirty = false;
      for (auto& [index, b] : n->buffers) {
        if (b.dirty && b.dirtied <= cutoff) old_dirty = true;
      }
      if (old_dirty) idle.push_back(ino);
    }
    (void)FlushNodes(idle, /*save_records=*/true, "idle buffers");  // logged
    // Attributes and sizes changed since the last round, all in one transaction.
    if (Status s = SaveDirtyRecords(); !s.ok()) {
      spdlog::error("cannot save changed inodes: {}", s.error().message);
    }
    DropForgotten();
    if (changed_since_sync_) {
      changed_since_sync_ = false;
      mu_.Unlock();
      Status s = SyncLocal();
      if (!s.ok()) spdlog::error("cannot sync the local cache: {}", s.error().message);
      mu_.Lock();
    }
    // Block buffers of megabytes come and go on many threads, and the heap keeps what they
    // freed between chunks still in use; give those pages back once per interval (the top of
    // the heap alone is trimmed by free). Measured: anonymous memory after 1 GiB written, read
    // back and rewritten at random (fio, 4 KiB) fell from 386 MiB to 254 MiB.
    // Likewise the pages of the cache index read through its map (small blocks written, read
    // or uploaded: 10,000 files of 4 KiB left ~120 MiB of it resident).
    mu_.Unlock();
    ::malloc_trim(0);
    cache_->ReleaseMappedPages();
    mu_.Lock();
  }
}

void CoreFs::CloserLoop() {
  util::MutexLock lock(mu_);
  while (true) {
    while (!stopping_ && closed_.empty()) mu_.Await(closer_cv_);
    // Files closed in the next moments join this group (a burst of small files closes
    // thousands a second; alone, each would cost two commits).
    const auto gathered = std::chrono::steady_clock::now() + kCloseGather;
    for (auto now = std::chrono::steady_clock::now();
         !stopping_ && closed_.size() < kSealGroupBlocks && now < gathered;
         now = std::chrono::steady_clock::now()) {
      mu_.AwaitFor(closer_cv_, gathered - now);
    }
    if (stopping_) return;  // Shutdown has flushed every inode
    // A failure leaves the buffers dirty: the committer tries again, and fsync reports it.
    (void)FlushClosed();  // logged
  }
}

Status CoreFs::FlushClosed() {
  if (closed_.empty()) return util::Ok();
  std::vector<uint64_t> inos(closed_.begin(), closed_.end());
  closed_.clear();
  return FlushNodes(inos, /*save_records=*/false, "closed files");
}

Status CoreFs::FlushNodes(const std::vector<uint64_t>& inos, bool save_records,
                          std::string_view why) {
  // Every inode's dirty buffers in one SealBuffers, so small ones share commits; FlushNode
  // then waits for seals other threads had in flight and writes the records.
  std::vector<SealJob> jobs;
  for (uint64_t ino : inos) {
    auto it = nodes_.find(ino);
    if (it == nodes_.end()) continue;
    for (SealJob& job : TakeDirty(it->second.get())) jobs.push_back(std::move(job));
  }
  Status first_error = SealBuffers(std::move(jobs));
  if (!first_error.ok()) spdlog::error("{}: cannot seal: {}", why, first_error.error().message);
  for (uint64_t ino : inos) {
    Status s = FlushNode(ino, save_records);
    if (s.ok()) continue;
    spdlog::error("{}: cannot save inode {}: {}", why, ino, s.error().message);
    if (first_error.ok()) first_error = s;
  }
  return first_error;
}

Status CoreFs::SealAll() {
  {
    util::MutexLock lock(mu_);
    std::vector<uint64_t> inos;
    for (auto& [ino, n] : nodes_) inos.push_back(ino);
    SHARDFS_TRY(FlushNodes(inos, /*save_records=*/true, "sync"));
    draining_ = true;  // someone waits for the store
    work_cv_.notify_all();
  }
  return SyncLocal();
}

Status CoreFs::SetReadOnly(bool read_only) {
  if (!read_only) {
    util::MutexLock lock(mu_);
    read_only_ = false;
    return util::Ok();
  }
  // Changes refused first, then what came before them sealed: nothing slips in between.
  {
    util::MutexLock lock(mu_);
    read_only_ = true;
  }
  Status sealed = SealAll();
  if (!sealed.ok()) spdlog::error("going read-only: {}", sealed.error().message);
  return sealed;
}

DriveStatus CoreFs::GetStatus() {
  DriveStatus st;
  {
    util::MutexLock lock(mu_);
    st.uploaded_bytes = uploaded_bytes_;
    st.read_only = read_only_;
    st.readahead_blocks = readahead_blocks_;
    st.read_waits = read_waits_;
    st.sealed_blocks = sealed_blocks_;
    st.seal_commits = seal_commits_;
    st.buffer_bytes = buffer_bytes_;
    st.buffer_budget_bytes = options_.memory_budget_bytes;
    if (!last_upload_error_.ok()) st.last_upload_error = last_upload_error_.error().message;
  }
  // The queues are counted in a read snapshot, outside mu_ (only metadata writes need it):
  // `shardfs sync` asks for the status every 250 ms, and a scan of tens of thousands of queued
  // blocks under mu_ held up every request meanwhile.
  if (auto txn = meta_->Read(); txn.ok()) {
    (void)(*txn)->ScanUploads([&](const util::ObjectId&, uint64_t size) {
      ++st.pending_blocks;
      st.pending_bytes += size;
      return true;
    });
    (void)(*txn)->ScanGarbage([&](const util::ObjectId&) {
      ++st.pending_deletes;
      return true;
    });
  }
  const cache::BlockCacheStats cache = cache_->Stats();
  st.cache_used_bytes = cache.used_bytes;
  st.cache_budget_bytes = cache.budget_bytes;
  st.cache_capacity_bytes = cache.capacity_bytes;
  st.cache_dirty_bytes = cache.dirty_bytes;
  st.cache_hits = cache.hits;
  st.cache_misses = cache.misses;
  st.store = store_->Describe();
  for (const remote::NodeStatus& n : store_->Nodes()) {
    st.nodes.push_back(NodeHealth{n.name, n.endpoint, n.healthy, n.latency_ms, n.error_rate,
                                  n.shards_stored, n.bad_shards, n.last_error});
  }
  return st;
}

uint64_t CoreFs::PendingUploads() {
  util::MutexLock lock(mu_);
  uint64_t n = 0;
  auto txn = meta_->Read();
  if (!txn.ok()) return 0;
  (void)(*txn)->ScanUploads([&](const util::ObjectId&, uint64_t) {
    ++n;
    return true;
  });
  return n;
}

Status CoreFs::WaitForUploads() {
  util::MutexLock lock(mu_);
  draining_ = true;
  work_cv_.notify_all();
  const auto patience =
      std::chrono::seconds(std::max<uint32_t>(1, options_.unmount_patience_seconds));
  uint64_t last_uploaded = uploaded_bytes_;
  auto last_progress = std::chrono::steady_clock::now();
  while (true) {
    uint64_t pending = 0;
    auto txn = meta_->Read();
    if (!txn.ok()) return txn.error();
    SHARDFS_TRY((*txn)->ScanUploads([&](const util::ObjectId&, uint64_t) {
      ++pending;
      return true;
    }));
    txn->reset();
    if (pending == 0) return util::Ok();
    if (stopping_) return MakeError(Errc::kUnavailable, "stopped with uploads pending");
    const auto now = std::chrono::steady_clock::now();
    if (uploaded_bytes_ != last_uploaded) {
      last_uploaded = uploaded_bytes_;
      last_progress = now;
    } else if (now - last_progress >= patience && !last_upload_error_.ok()) {
      // The nodes are not taking anything: do not hold the unmount (or a shutdown) hostage.
      // The blocks stay pinned in the cache and upload at the next mount.
      return MakeError(Errc::kUnavailable,
                       fmt::format("{} blocks could not be uploaded ({}); they are safe in the "
                                   "local cache and will upload at the next mount",
                                   pending, last_upload_error_.error().message));
    }
    mu_.AwaitFor(uploaded_cv_, std::chrono::seconds(1));
  }
}

}  // namespace shardfs::core
