// CoreFs: fetching sealed blocks from the store on cache misses (one fetch per block at a
// time) and reading ahead of sequential readers, into the block cache.
#include <spdlog/spdlog.h>

#include "fs/core/core_fs.h"

namespace shardfs::core {

using util::Errc;
using util::MakeError;
using util::Result;

namespace {
constexpr uint64_t kMaxReadaheadBytes = uint64_t{64} << 20;
constexpr size_t kMaxQueuedPrefetches = 256;
constexpr uint64_t kMaxLoadAheadBlocks = 64;
}  // namespace

Result<util::Bytes> CoreFs::FetchSealed(const util::ObjectId& id) {
  std::shared_ptr<Fetch> fetch;
  bool leader = false;
  {
    util::MutexLock lock(fetch_mu_);
    auto [it, inserted] = fetches_.try_emplace(id);
    if (inserted) it->second = std::make_shared<Fetch>();
    fetch = it->second;
    leader = inserted;
    if (!leader) ++fetch->waiters;  // under fetch_mu_: the leader counts them once it is done
  }
  if (!leader) {
    std::unique_lock lock(fetch->mu);
    fetch->cv.wait(lock, [&] { return fetch->done; });
    return fetch->sealed;
  }
  Result<util::Bytes> sealed = [&]() -> Result<util::Bytes> {
    util::Bytes location;  // empty for a whole-block store's blocks (no record kept)
    {
      SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
      auto found = txn->GetPlacement(id);
      if (found.ok()) {
        location = std::move(found).value();
      } else if (found.code() != Errc::kNotFound) {
        return found.error();
      }
    }
    return store_->Get(ObjectName(id), location);
  }();
  if (sealed.ok()) {
    util::Status put = cache_->Put(id, *sealed, /*dirty=*/false);
    if (!put.ok())
      spdlog::warn("cannot cache a block read from the store: {}", put.error().message);
  }
  int waiters = 0;
  {
    util::MutexLock lock(fetch_mu_);
    fetches_.erase(id);  // no one joins from here on
    waiters = fetch->waiters;
  }
  {
    std::lock_guard lock(fetch->mu);
    if (waiters > 0) fetch->sealed = sealed;  // a copy of a block only when someone waits
    fetch->done = true;
  }
  fetch->cv.notify_all();
  return sealed;
}

void CoreFs::PlanReadahead(Node* n, uint64_t index) {
  if (index == n->ra_last) return;
  const uint64_t max_window = std::max<uint64_t>(4, kMaxReadaheadBytes / block_size_);
  if (n->ra_last != ~uint64_t{0} && index == n->ra_last + 1) {
    n->ra_window = std::min(max_window, std::max<uint64_t>(1, n->ra_window * 2));
  } else {
    n->ra_window = 0;
  }
  n->ra_last = index;
  if (n->ra_window == 0) return;
  // The nearest blocks ahead are decrypted into buffers, so that reading them costs a copy;
  // a quarter of the memory budget at most. Those further on are only fetched into the cache.
  const uint64_t load_window = std::min(
      n->ra_window,
      std::clamp<uint64_t>(options_.memory_budget_bytes / 4 / block_size_, 1, kMaxLoadAheadBlocks));
  std::vector<Prefetch> wanted;
  {
    auto txn = meta_->Read();
    if (!txn.ok()) return;
    (void)(*txn)->ScanBlocks(n->rec.ino, index + 1,
                             [&](uint64_t i, const BlockRef& ref) REQUIRES(mu_) {
                               if (i > index + n->ra_window) return false;
                               if (n->buffers.contains(i) || loading_.contains({n->rec.ino, i}))
                                 return true;
                               const bool load = i <= index + load_window;
                               if (load || !cache_->Contains(ref.id))
                                 wanted.push_back({ref.id, n->rec.ino, i, load});
                               return true;
                             });
  }
  if (wanted.empty()) return;
  util::MutexLock lock(fetch_mu_);
  for (const auto& p : wanted) {
    if (prefetch_queue_.size() >= kMaxQueuedPrefetches) break;
    if (prefetch_queued_.insert(p.id).second) {
      prefetch_queue_.push_back(p);
    } else if (p.load) {  // queued to be fetched when it was further ahead: load it now
      for (auto& q : prefetch_queue_) {
        if (q.id == p.id) q = p;
      }
    }
  }
  prefetch_cv_.notify_all();
}

void CoreFs::PrefetchLoop() {
  while (true) {
    Prefetch p;
    {
      util::MutexLock lock(fetch_mu_);
      while (!prefetch_stop_ && prefetch_queue_.empty()) fetch_mu_.Await(prefetch_cv_);
      if (prefetch_stop_) return;
      p = prefetch_queue_.front();
      prefetch_queue_.pop_front();
      prefetch_queued_.erase(p.id);
      ++prefetches_running_;
    }
    if (p.load) {
      LoadAhead(p.ino, p.index);
    } else if (!cache_->Contains(p.id)) {
      auto sealed = FetchSealed(p.id);
      if (!sealed.ok())
        spdlog::debug("readahead of block {}: {}", p.id.Hex(), sealed.error().message);
    }
    util::MutexLock lock(fetch_mu_);
    --prefetches_running_;
    prefetch_cv_.notify_all();
  }
}

void CoreFs::WaitForReadahead() {
  util::MutexLock lock(fetch_mu_);
  while (!prefetch_queue_.empty() || prefetches_running_ != 0) fetch_mu_.Await(prefetch_cv_);
}

void CoreFs::LoadAhead(uint64_t ino, uint64_t index) {
  util::MutexLock lock(mu_);
  auto it = nodes_.find(ino);
  // Nothing for a file closed meanwhile: its buffers would outlive every reader.
  if (stopping_ || it == nodes_.end() || it->second->opens == 0 ||
      it->second->buffers.contains(index)) {
    return;
  }
  auto b = LoadBuffer(ino, index, /*whole_overwrite=*/false);
  if (!b.ok()) {
    spdlog::debug("readahead of block {} of inode {}: {}", index, ino, b.error().message);
    return;
  }
  ++readahead_blocks_;
  auto s = EnforceMemoryBudget();
  if (!s.ok()) spdlog::debug("readahead: {}", s.error().message);
}

}  // namespace shardfs::core
