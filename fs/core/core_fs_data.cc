// CoreFs: file data — buffers, sealing blocks, reading, writing, truncating.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include <spdlog/spdlog.h>

#include "fs/core/core_fs.h"
#include "fs/crypto/aead.h"
#include "fs/crypto/random.h"
#include "fs/crypto/record.h"
#include "fs/util/encoding.h"
#include "fs/util/units.h"

namespace shardfs::core {

using util::Bytes;
using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {
// Largest file: block indexes stay far from overflow, offsets fit off_t.
constexpr uint64_t kMaxFileSize = uint64_t{1} << 60;
constexpr size_t kCopyChunk = size_t{1} << 20;
}  // namespace

std::string CoreFs::ObjectName(const util::ObjectId& id) const {
  auto mac = crypto::HmacSha256(keys_.object_names, id.bytes);
  return util::ToHex(util::ByteSpan(mac.data(), 16));
}

Result<Bytes> CoreFs::ReadBlock(uint64_t ino, uint64_t index, const BlockRef& ref,
                                const util::SecretBytes& file_key) {
  const Bytes aad = crypto::BlockAad(keys_.drive_id, ino, index, ref.generation);
  auto cached = cache_->Get(ref.id);
  if (cached.ok()) {
    auto plain = crypto::OpenBlockInPlace(file_key, aad, std::move(cached).value());
    if (plain.ok()) return plain;
    spdlog::error("cached block {} of inode {} is damaged; reading it from the store", index, ino);
    (void)cache_->Remove(ref.id);
  } else if (cached.code() != Errc::kNotFound) {
    spdlog::warn("block cache: {}", cached.error().message);
  }
  auto sealed = FetchSealed(ref.id);
  if (!sealed.ok()) {
    if (sealed.code() == Errc::kNotFound) {
      return MakeError(Errc::kCorrupt, fmt::format("block {} of inode {} is missing from {}", index,
                                                   ino, store_->Describe()));
    }
    return sealed.error();
  }
  auto plain = crypto::OpenBlockInPlace(file_key, aad, std::move(sealed).value());
  if (!plain.ok()) {
    return MakeError(Errc::kCorrupt, fmt::format("block {} of inode {} in {} does not verify",
                                                 index, ino, store_->Describe()));
  }
  return plain;
}

void CoreFs::TouchBuffer(uint64_t ino, uint64_t index, Buffer& b) {
  lru_.erase(b.lru);
  lru_.emplace_front(ino, index);
  b.lru = lru_.begin();
}

void CoreFs::DropBuffer(Node* n, uint64_t index) {
  auto it = n->buffers.find(index);
  if (it == n->buffers.end()) return;
  lru_.erase(it->second.lru);
  buffer_bytes_ -= it->second.footprint();
  n->buffers.erase(it);
}

void CoreFs::Unpatch(Buffer& b, util::Bytes stored, uint32_t stored_length) {
  const BlockPatches& patches = *b.patches;
  const size_t valid = std::min<size_t>({stored_length, stored.size(), block_size_});
  stored.resize(valid);  // past the valid length: zeros
  stored.resize(std::max<size_t>(valid, patches.end()));
  patches.ApplyTo(stored);
  buffer_bytes_ -= b.footprint();
  b.patches.reset();
  b.data = std::make_shared<util::Bytes>(std::move(stored));
  buffer_bytes_ += b.footprint();
}

void CoreFs::ChangePatches(Buffer& b, const std::function<void(BlockPatches&)>& change) {
  buffer_bytes_ -= b.footprint();
  if (b.patches.use_count() > 1) b.patches = std::make_shared<BlockPatches>(*b.patches);
  change(*b.patches);
  // Written whole from its start to its end: the stored block is not needed any more.
  if (b.patches->ranges() == 1 && b.patches->Covers(0, b.length)) {
    b.data = std::make_shared<util::Bytes>(b.patches->TakeOnly());
    b.patches.reset();
  }
  buffer_bytes_ += b.footprint();
}

util::Bytes& CoreFs::MutableData(Buffer& b, size_t need) {
  SHARDFS_CHECK(!b.patched(), "MutableData on a patched buffer");
  const size_t old_size = b.data->size();
  const size_t size = std::max(old_size, std::min<size_t>(need, block_size_));
  if (b.data.use_count() > 1) {
    auto copy = std::make_shared<util::Bytes>();
    copy->reserve(size);
    copy->assign(b.data->begin(), b.data->end());
    b.data = std::move(copy);
  }
  if (size > old_size) {
    // Whole blocks come in 1 MiB writes: reserve the block at once rather than regrow.
    if (size > b.data->capacity() && size >= block_size_ / 4) b.data->reserve(block_size_);
    b.data->resize(size);
    buffer_bytes_ += size - old_size;
  }
  return *b.data;
}

Result<CoreFs::Buffer*> CoreFs::LoadBuffer(uint64_t ino, uint64_t index, bool whole_overwrite) {
  for (int attempt = 0;; ++attempt) {
    SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
    auto it = n->buffers.find(index);
    if (it != n->buffers.end() && (!it->second.patched() || whole_overwrite)) {
      TouchBuffer(ino, index, it->second);
      return &it->second;
    }
    // No buffer, or a patched one that needs the stored block under its patches.
    Buffer b;
    if (!whole_overwrite) {
      SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
      auto ref = txn->GetBlock(ino, index);
      txn.reset();
      if (!ref.ok() && ref.code() != Errc::kNotFound) return ref.error();
      if (ref.ok()) {
        // One load of a block at a time: the kernel sends reads of one block in parallel, and
        // readahead may be loading it already. The others wait, then find its buffer.
        const std::pair<uint64_t, uint64_t> block(ino, index);
        if (loading_.contains(block)) {
          while (loading_.contains(block)) mu_.Await(load_cv_);
          --attempt;  // waiting is not a retry
          continue;
        }
        util::SecretBytes key = n->rec.file_key.Clone();
        // Bound how many loads run together, so a burst of reads or writes to scattered
        // blocks cannot multiply the memory in use.
        while (loads_in_flight_ >= kMaxConcurrentLoads) mu_.Await(load_cv_);
        if (loading_.contains(block)) {  // another thread started it meanwhile
          --attempt;
          continue;
        }
        ++loads_in_flight_;
        loading_.insert(block);
        mu_.Unlock();
        auto plain = ReadBlock(ino, index, *ref, key);
        mu_.Lock();
        --loads_in_flight_;
        loading_.erase(block);
        load_cv_.notify_all();
        if (!plain.ok()) return plain.error();
        // Another thread may have changed the block or loaded it while mu_ was free.
        SHARDFS_ASSIGN_OR_RETURN(auto again, meta_->Read());
        auto now_ref = again->GetBlock(ino, index);
        if (!now_ref.ok() || now_ref->id != ref->id || now_ref->length != ref->length) {
          if (attempt < 8) continue;
          return MakeError(Errc::kUnavailable, "block keeps changing under a read");
        }
        SHARDFS_ASSIGN_OR_RETURN(n, GetNode(ino));
        it = n->buffers.find(index);
        if (it != n->buffers.end()) {
          // Patched: what was written (before the load or while it ran) goes on top.
          if (it->second.patched()) Unpatch(it->second, std::move(*plain), ref->length);
          TouchBuffer(ino, index, it->second);
          return &it->second;
        }
        size_t valid = std::min<size_t>({ref->length, plain->size(), block_size_});
        plain->resize(valid);
        b.data = std::make_shared<util::Bytes>(std::move(*plain));
        b.length = static_cast<uint32_t>(valid);
        b.stored_length = ref->length;
      } else if (it != n->buffers.end()) {  // patched, and nothing stored under it any more
        Unpatch(it->second, {}, 0);
        TouchBuffer(ino, index, it->second);
        return &it->second;
      }
    }
    return AddBuffer(n, index, std::move(b));
  }
}

CoreFs::Buffer* CoreFs::AddBuffer(Node* n, uint64_t index, Buffer b) {
  lru_.emplace_front(n->rec.ino, index);
  b.lru = lru_.begin();
  buffer_bytes_ += b.footprint();
  return &n->buffers.emplace(index, std::move(b)).first->second;
}

CoreFs::SealJob CoreFs::TakeOne(Node* n, uint64_t index, Buffer& b) {
  SealJob job;
  job.ino = n->rec.ino;
  job.index = index;
  job.version = b.version;
  job.generation = n->rec.block_gen++;
  n->rec_dirty = true;
  job.plain = b.data;       // frozen until the seal is done: writers copy (MutableData)
  job.patches = b.patches;  // likewise (PatchWrite)
  job.length = b.length;
  b.sealing = b.version;
  n->seals_in_flight++;
  return job;
}

std::vector<CoreFs::SealJob> CoreFs::TakeDirty(Node* n) {
  std::vector<SealJob> jobs;
  for (auto& [index, b] : n->buffers) {
    if (!b.dirty || b.sealing == b.version) continue;
    jobs.push_back(TakeOne(n, index, b));
  }
  return jobs;
}

Status CoreFs::SealBuffers(std::vector<SealJob> jobs) {
  Status first_error = util::Ok();
  // A group is put in the cache at once: it must fit a small cache with room to spare (its
  // blocks, padded when sealed, would otherwise wait for room only they hold).
  const uint64_t group_bytes =
      jobs.size() > 1 ? std::min<uint64_t>(kSealGroupBytes, cache_->Stats().budget_bytes / 4) : 0;
  for (size_t i = 0; i < jobs.size();) {
    // Small blocks (many small files closed together) are sealed as one group: one cache
    // index commit and one metadata commit for all. A large block is a group of its own.
    size_t end = i + 1;
    uint64_t bytes = jobs[i].length;
    while (end < jobs.size() && end - i < kSealGroupBlocks &&
           bytes + jobs[end].length <= group_bytes) {
      bytes += jobs[end++].length;
    }
    Status s = SealGroup(std::span<SealJob>(jobs).subspan(i, end - i));
    for (; i < end; ++i) {
      auto it = nodes_.find(jobs[i].ino);
      if (it == nodes_.end()) continue;
      Node* n = it->second.get();
      if (n->seals_in_flight > 0) n->seals_in_flight--;
      auto b = n->buffers.find(jobs[i].index);
      if (b != n->buffers.end() && b->second.sealing == jobs[i].version) b->second.sealing = 0;
    }
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  sealed_cv_.notify_all();
  return first_error;
}

Status CoreFs::SealGroup(std::span<SealJob> jobs) {
  while (seals_running_ >= kMaxConcurrentSeals) mu_.Await(seal_slot_cv_);
  ++seals_running_;
  struct SlotRelease {
    CoreFs* fs;
    ~SlotRelease() {  // mu_ is held again on every return
      fs->seals_running_--;
      fs->seal_slot_cv_.notify_one();
    }
  } slot_release{this};
  // What each seal needs from the inode, taken under mu_; `live` false: deleted meanwhile.
  struct Work {
    bool live = false;
    BlockRef ref;
    util::SecretBytes key;
    std::optional<BlockRef> base;  // a patched buffer's block as stored now
    util::Bytes sealed;
  };
  std::vector<Work> work(jobs.size());
  std::unique_ptr<MetaTxn> read;  // opened for patched buffers only
  for (size_t i = 0; i < jobs.size(); ++i) {
    const SealJob& job = jobs[i];
    auto it = nodes_.find(job.ino);
    if (it == nodes_.end()) continue;
    Work& w = work[i];
    w.live = true;
    w.ref.generation = job.generation;
    w.ref.length = job.length;
    w.key = it->second->rec.file_key.Clone();
    // Patches go over the block as stored now: its first version, or one an earlier seal of
    // these patches made (they hold every write since the buffer was made, so either is right).
    if (job.patches && !job.patches->Covers(0, job.length)) {
      if (!read) {
        SHARDFS_ASSIGN_OR_RETURN(read, meta_->Read());
      }
      auto stored = read->GetBlock(job.ino, job.index);
      if (stored.ok()) {
        w.base = *stored;
      } else if (stored.code() != Errc::kNotFound) {
        return stored.error();
      }
    }
  }
  read.reset();
  mu_.Unlock();
  Status sealed = util::Ok();
  std::vector<cache::BlockCache::NewBlock> blocks;
  for (size_t i = 0; i < jobs.size() && sealed.ok(); ++i) {
    if (!work[i].live) continue;
    sealed = SealJobBlock(jobs[i], work[i].key, work[i].base, work[i].ref, work[i].sealed);
    if (sealed.ok()) blocks.push_back({work[i].ref.id, work[i].sealed});
  }
  if (sealed.ok() && !blocks.empty()) {  // may wait for space
    sealed = blocks.size() == 1 ? cache_->Put(blocks[0].id, blocks[0].sealed, /*dirty=*/true)
                                : cache_->PutMany(blocks, /*dirty=*/true);
  }
  mu_.Lock();
  if (!sealed.ok()) return sealed;
  if (blocks.empty()) return util::Ok();
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (work[i].live) SHARDFS_TRY(RecordSeal(*txn, jobs[i], work[i].ref));
  }
  SHARDFS_TRY(txn->Commit());
  sealed_blocks_ += blocks.size();
  ++seal_commits_;
  changed_since_sync_ = true;
  WakeUploaders();
  return util::Ok();
}

Status CoreFs::SealJobBlock(const SealJob& job, const util::SecretBytes& key,
                            const std::optional<BlockRef>& base, BlockRef& ref,
                            util::Bytes& sealed) {
  SHARDFS_TRY(crypto::FillRandom(ref.id.bytes));
  util::Bytes padded;  // when the buffer holds fewer bytes than its length, or is patched
  util::ByteSpan plain;
  if (job.patches) {
    if (base) {
      SHARDFS_ASSIGN_OR_RETURN(padded, ReadBlock(job.ino, job.index, *base, key));
      padded.resize(std::min<size_t>(base->length, padded.size()));
    }
    padded.resize(job.length);
    job.patches->ApplyTo(padded);
    plain = padded;
  } else {
    plain = util::ByteSpan(job.plain->data(), std::min<size_t>(job.length, job.plain->size()));
    if (plain.size() < job.length) {
      padded.assign(plain.begin(), plain.end());
      padded.resize(job.length);
      plain = padded;
    }
  }
  SHARDFS_ASSIGN_OR_RETURN(
      sealed,
      crypto::SealBlock(key, crypto::BlockAad(keys_.drive_id, job.ino, job.index, ref.generation),
                        plain));
  ref.sealed_size = static_cast<uint32_t>(sealed.size());
  return util::Ok();
}

Status CoreFs::RecordSeal(MetaTxn& txn, const SealJob& job, BlockRef ref) {
  auto it = nodes_.find(job.ino);
  Node* n = it == nodes_.end() ? nullptr : it->second.get();
  auto old = txn.GetBlock(job.ino, job.index);
  if (!old.ok() && old.code() != Errc::kNotFound) return old.error();
  // Stale: the inode is gone, was truncated after the snapshot, or a newer seal won.
  const bool stale = n == nullptr || ref.generation < n->trunc_gen ||
                     job.index * block_size_ >= n->rec.size ||
                     (old.ok() && old->generation > ref.generation);
  if (stale) return txn.AddGarbage(ref.id);
  ref.length =
      static_cast<uint32_t>(std::min<uint64_t>(ref.length, n->rec.size - job.index * block_size_));
  if (old.ok()) {
    SHARDFS_TRY(txn.AddGarbage(old->id));
    SHARDFS_TRY(txn.RemoveUpload(old->id));
    n->rec.stored_bytes -= std::min<uint64_t>(n->rec.stored_bytes, old->length);
  }
  SHARDFS_TRY(txn.PutBlock(job.ino, job.index, ref));
  SHARDFS_TRY(txn.AddUpload(ref.id, ref.sealed_size));
  NoteWriteActivity(ref.sealed_size, ref.length >= block_size_);
  n->rec.stored_bytes += ref.length;
  auto b = n->buffers.find(job.index);
  if (b != n->buffers.end()) b->second.stored_length = ref.length;
  const bool clean = b != n->buffers.end() && b->second.version == job.version;
  if (clean) b->second.dirty = false;
  SHARDFS_TRY(SaveNode(txn, n));
  // A patched buffer that is clean holds nothing the stored block does not.
  if (clean && b->second.patched()) DropBuffer(n, job.index);
  return util::Ok();
}

Status CoreFs::FlushNode(uint64_t ino, bool save_record) {
  // Seal what is dirty, and wait for seals other threads have in flight: when this returns,
  // every write before the call is in the cache and the metadata.
  for (int round = 0; round < 1000; ++round) {
    auto it = nodes_.find(ino);
    if (it == nodes_.end()) return util::Ok();
    std::vector<SealJob> jobs = TakeDirty(it->second.get());
    if (!jobs.empty()) {
      SHARDFS_TRY(SealBuffers(std::move(jobs)));
      continue;
    }
    if (it->second->seals_in_flight > 0) {
      mu_.Await(sealed_cv_);
      continue;
    }
    bool dirty = false;
    for (auto& [index, b] : it->second->buffers) dirty = dirty || b.dirty;
    if (dirty) continue;  // a seal raced a write: that buffer has a newer version to seal
    if (!it->second->rec_dirty || !save_record) return util::Ok();
    SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
    SHARDFS_TRY(SaveNode(*txn, it->second.get()));
    return txn->Commit();
  }
  return MakeError(Errc::kUnavailable, "the file keeps changing while it is flushed");
}

Status CoreFs::EnforceMemoryBudget() {
  if (buffer_bytes_ <= options_.memory_budget_bytes) return util::Ok();
  // Drop clean buffers, least recently used first.
  std::vector<std::pair<uint64_t, uint64_t>> victims;
  uint64_t excess = buffer_bytes_ - options_.memory_budget_bytes;
  for (auto it = lru_.rbegin(); it != lru_.rend() && excess > 0; ++it) {
    const Buffer& b = nodes_.at(it->first)->buffers.at(it->second);
    if (b.dirty) continue;
    victims.push_back(*it);
    excess -= std::min<uint64_t>(excess, b.footprint());
  }
  for (const auto& [ino, index] : victims) DropBuffer(nodes_.at(ino).get(), index);
  if (buffer_bytes_ <= options_.memory_budget_bytes || lru_.empty()) return util::Ok();
  // Still over: seal the least recently used dirty buffers, as many as make up the excess
  // (not every dirty block of their files: each seal holds a sealed copy, and a write to a
  // block being sealed copies it), then drop them.
  excess = buffer_bytes_ - options_.memory_budget_bytes;
  std::vector<SealJob> jobs;
  for (auto it = lru_.rbegin(); it != lru_.rend() && excess > 0; ++it) {
    Node* n = nodes_.at(it->first).get();
    Buffer& b = n->buffers.at(it->second);
    if (!b.dirty || b.sealing == b.version) continue;
    excess -= std::min<uint64_t>(excess, b.footprint());
    jobs.push_back(TakeOne(n, it->second, b));
  }
  std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> sealed;  // ino, index, version
  for (const SealJob& job : jobs) sealed.emplace_back(job.ino, job.index, job.version);
  SHARDFS_TRY(SealBuffers(std::move(jobs)));
  for (const auto& [ino, index, version] : sealed) {
    auto nit = nodes_.find(ino);
    if (nit == nodes_.end()) continue;
    auto b = nit->second->buffers.find(index);
    if (b != nit->second->buffers.end() && !b->second.dirty && b->second.version == version) {
      DropBuffer(nit->second.get(), index);
    }
  }
  return util::Ok();
}

Result<size_t> CoreFs::Read(uint64_t ino, uint64_t fh, uint64_t offset, util::MutableByteSpan out) {
  (void)fh;
  util::MutexLock lock(mu_);
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  if (S_ISDIR(n->rec.mode)) return MakeError(Errc::kIsDir, "is a directory");
  if (offset >= n->rec.size || out.empty()) return size_t{0};
  const size_t len = static_cast<size_t>(std::min<uint64_t>(out.size(), n->rec.size - offset));
  // relatime: atime moves when it is older than mtime or a day old.
  const Timespec now = Now();
  if (n->rec.atime <= n->rec.mtime || now.sec - n->rec.atime.sec > 86400) {
    n->rec.atime = now;
    n->rec_dirty = true;
  }
  size_t pos = 0;
  while (pos < len) {
    const uint64_t at = offset + pos;
    const uint64_t index = at / block_size_;
    const size_t in = static_cast<size_t>(at % block_size_);
    const size_t chunk = std::min<size_t>(block_size_ - in, len - pos);
    SHARDFS_ASSIGN_OR_RETURN(n, GetNode(ino));
    PlanReadahead(n, index);
    auto b = n->buffers.find(index);
    Buffer* buffer = b == n->buffers.end() ? nullptr : &b->second;
    if (buffer != nullptr && buffer->patched()) {  // the stored block goes under its patches
      ++read_waits_;
      SHARDFS_ASSIGN_OR_RETURN(buffer, LoadBuffer(ino, index, false));
    } else if (buffer == nullptr) {
      SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
      auto ref = txn->GetBlock(ino, index);
      txn.reset();
      if (ref.code() == Errc::kNotFound) {
        std::memset(out.data() + pos, 0, chunk);  // a hole
        pos += chunk;
        continue;
      }
      if (!ref.ok()) return ref.error();
      ++read_waits_;
      SHARDFS_ASSIGN_OR_RETURN(buffer, LoadBuffer(ino, index, false));
    } else {
      TouchBuffer(ino, index, *buffer);
    }
    const util::Bytes& bytes = *buffer->data;
    const size_t have = in < bytes.size() ? std::min(chunk, bytes.size() - in) : 0;
    if (have > 0) std::memcpy(out.data() + pos, bytes.data() + in, have);  // data() may be null
    std::memset(out.data() + pos + have, 0, chunk - have);
    pos += chunk;
  }
  SHARDFS_TRY(EnforceMemoryBudget());
  return len;
}

Result<size_t> CoreFs::Write(uint64_t ino, uint64_t fh, uint64_t offset, util::ByteSpan data) {
  util::MutexLock lock(mu_);
  if (read_only_) return ReadOnlyError();
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  if (S_ISDIR(n->rec.mode)) return MakeError(Errc::kIsDir, "is a directory");
  if (!S_ISREG(n->rec.mode)) return MakeError(Errc::kInvalidOp, "not a regular file");
  auto h = handles_.find(fh);
  if (!options_.writeback_cache && h != handles_.end() && (h->second.flags & O_APPEND)) {
    offset = n->rec.size;
  }
  if (offset > kMaxFileSize || data.size() > kMaxFileSize - offset) {
    return MakeError(Errc::kTooLarge, "file too large");
  }
  SHARDFS_TRY(CheckQuota());
  std::vector<uint64_t> completed;  // blocks written up to their end
  size_t pos = 0;
  while (pos < data.size()) {
    const uint64_t at = offset + pos;
    const uint64_t index = at / block_size_;
    const size_t in = static_cast<size_t>(at % block_size_);
    const size_t chunk = std::min<size_t>(block_size_ - in, data.size() - pos);
    SHARDFS_ASSIGN_OR_RETURN(n, GetNode(ino));
    // Nothing to load when the block is overwritten whole or lies past the end of the file
    // (a truncate removed every block there; beyond it are only holes).
    const bool fresh = (in == 0 && chunk == block_size_) || index * block_size_ >= n->rec.size;
    Buffer* b = nullptr;
    if (!fresh && !n->buffers.contains(index)) {
      // A stored block not in memory is patched, not read: the write costs a copy of its
      // bytes, and the block is read once, when it is sealed or read.
      SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
      auto ref = txn->GetBlock(ino, index);
      txn.reset();
      if (!ref.ok() && ref.code() != Errc::kNotFound) return ref.error();
      if (ref.ok()) {
        Buffer patched;
        patched.patches = std::make_shared<BlockPatches>();
        patched.length = static_cast<uint32_t>(std::min<uint64_t>(ref->length, block_size_));
        patched.stored_length = ref->length;
        b = AddBuffer(n, index, std::move(patched));
      }
    } else if (fresh && index * block_size_ < n->rec.size && !n->buffers.contains(index)) {
      // A stored block overwritten whole is not read, but st_blocks must not count it twice.
      SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
      auto ref = txn->GetBlock(ino, index);
      txn.reset();
      if (!ref.ok() && ref.code() != Errc::kNotFound) return ref.error();
      SHARDFS_ASSIGN_OR_RETURN(b, LoadBuffer(ino, index, true));
      if (ref.ok()) b->stored_length = ref->length;
    }
    // Otherwise nothing is loaded: the buffer there is used as it is (whole or patched),
    // and a block that is not stored is a hole.
    if (b == nullptr) {
      SHARDFS_ASSIGN_OR_RETURN(b, LoadBuffer(ino, index, true));
    }
    SHARDFS_ASSIGN_OR_RETURN(n, GetNode(ino));
    if (b->patched()) {
      const auto bytes = data.subspan(pos, chunk);
      b->length = std::max<uint32_t>(b->length, static_cast<uint32_t>(in + chunk));
      ChangePatches(*b, [&](BlockPatches& p) { p.Write(static_cast<uint32_t>(in), bytes); });
    } else {
      std::memcpy(MutableData(*b, in + chunk).data() + in, data.data() + pos, chunk);
      b->length = std::max<uint32_t>(b->length, static_cast<uint32_t>(in + chunk));
    }
    if (!b->dirty) b->dirtied = clock_->Now();
    b->dirty = true;
    b->version++;
    n->rec.size = std::max<uint64_t>(n->rec.size, at + chunk);
    if (in + chunk == block_size_) completed.push_back(index);
    pos += chunk;
  }
  n->rec.mtime = n->rec.ctime = Now();
  n->rec_dirty = true;
  // Blocks this write filled to their end, as a sequential writer does: sealed now. (A small
  // write elsewhere in a whole block waits, so random writes do not reseal it every time.)
  std::vector<SealJob> full;
  for (uint64_t index : completed) {
    auto it = n->buffers.find(index);
    if (it == n->buffers.end()) continue;
    Buffer& b = it->second;
    if (b.dirty && !b.patched() && b.sealing != b.version && b.length == block_size_) {
      full.push_back(TakeOne(n, index, b));
    }
  }
  std::vector<std::pair<uint64_t, uint64_t>> sealed;  // index, version
  for (const SealJob& job : full) sealed.emplace_back(job.index, job.version);
  SHARDFS_TRY(SealBuffers(std::move(full)));
  // A block written whole is in the kernel's page cache and in the block cache now; keeping
  // its buffer as well would only double the memory a sequential write takes.
  if (auto it = nodes_.find(ino); it != nodes_.end()) {
    for (const auto& [index, version] : sealed) {
      auto b = it->second->buffers.find(index);
      if (b != it->second->buffers.end() && !b->second.dirty && b->second.version == version) {
        DropBuffer(it->second.get(), index);
      }
    }
  }
  SHARDFS_TRY(EnforceMemoryBudget());
  return data.size();
}

Status CoreFs::SyncLocal() {
  SHARDFS_TRY(cache_->Sync());
  return meta_->Sync();
}

Status CoreFs::Fsync(uint64_t ino, uint64_t, bool) {
  {
    util::MutexLock lock(mu_);
    SHARDFS_TRY(FlushNode(ino));
    // Records changed in memory only are written too (one transaction for all): an fsync
    // makes every change to the tree before it durable, not only this file's.
    SHARDFS_TRY(SaveDirtyRecords());
  }
  return SyncLocal();
}

Status CoreFs::Truncate(MetaTxn& txn, Node* n, uint64_t new_size) {
  if (new_size > kMaxFileSize) return MakeError(Errc::kTooLarge, "file too large");
  const uint64_t ino = n->rec.ino;
  if (new_size < n->rec.size) {
    const uint64_t first_gone = (new_size + block_size_ - 1) / block_size_;
    std::vector<uint64_t> drop;
    for (auto& [index, b] : n->buffers) {
      if (index >= first_gone) drop.push_back(index);
    }
    for (uint64_t index : drop) DropBuffer(n, index);
    const uint64_t edge = new_size / block_size_;
    const size_t keep = static_cast<size_t>(new_size % block_size_);
    if (keep != 0) {
      auto b = n->buffers.find(edge);
      if (b != n->buffers.end() && b->second.patched()) {
        Buffer& patched = b->second;
        patched.length = std::min<uint32_t>(patched.length, static_cast<uint32_t>(keep));
        ChangePatches(patched, [&](BlockPatches& p) { p.Truncate(static_cast<uint32_t>(keep)); });
        patched.version++;
      } else if (b != n->buffers.end() && b->second.length > keep) {
        util::Bytes& bytes = MutableData(b->second, 0);
        if (bytes.size() > keep) std::memset(bytes.data() + keep, 0, bytes.size() - keep);
        b->second.length = static_cast<uint32_t>(keep);
        b->second.version++;
      }
      if (b != n->buffers.end()) {
        b->second.stored_length =
            std::min<uint32_t>(b->second.stored_length, static_cast<uint32_t>(keep));
      }
      auto ref = txn.GetBlock(ino, edge);
      if (ref.ok() && ref->length > keep) {
        n->rec.stored_bytes -= std::min<uint64_t>(n->rec.stored_bytes, ref->length - keep);
        ref->length = static_cast<uint32_t>(keep);
        SHARDFS_TRY(txn.PutBlock(ino, edge, *ref));
      } else if (!ref.ok() && ref.code() != Errc::kNotFound) {
        return ref.error();
      }
    }
    std::vector<std::pair<uint64_t, BlockRef>> gone;
    SHARDFS_TRY(txn.ScanBlocks(ino, first_gone, [&](uint64_t index, const BlockRef& ref) {
      gone.emplace_back(index, ref);
      return true;
    }));
    for (const auto& [index, ref] : gone) {
      SHARDFS_TRY(txn.AddGarbage(ref.id));
      SHARDFS_TRY(txn.RemoveUpload(ref.id));
      SHARDFS_TRY(txn.DeleteBlock(ino, index));
      n->rec.stored_bytes -= std::min<uint64_t>(n->rec.stored_bytes, ref.length);
    }
    n->trunc_gen = n->rec.block_gen;
    WakeUploaders();
  }
  n->rec.size = new_size;
  n->rec_dirty = true;
  return util::Ok();
}

Status CoreFs::ZeroRange(uint64_t ino, uint64_t offset, uint64_t length) {
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  const uint64_t end = std::min<uint64_t>(n->rec.size, offset + std::min(length, kMaxFileSize));
  std::vector<uint64_t> whole;
  for (uint64_t at = offset; at < end;) {
    const uint64_t index = at / block_size_;
    const size_t in = static_cast<size_t>(at % block_size_);
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(block_size_ - in, end - at));
    if (in == 0 && chunk == block_size_) {
      whole.push_back(index);
    } else {
      SHARDFS_ASSIGN_OR_RETURN(Buffer * b, LoadBuffer(ino, index, false));
      if (in < b->length) {
        const size_t upto = in + std::min<size_t>(chunk, b->length - in);
        util::Bytes& bytes = MutableData(*b, upto);
        std::memset(bytes.data() + in, 0, upto - in);
        if (!b->dirty) b->dirtied = clock_->Now();
        b->dirty = true;
        b->version++;
      }
    }
    at += chunk;
  }
  SHARDFS_ASSIGN_OR_RETURN(n, GetNode(ino));
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
  for (uint64_t index : whole) {
    DropBuffer(n, index);
    auto ref = txn->GetBlock(ino, index);
    if (ref.code() == Errc::kNotFound) continue;
    if (!ref.ok()) return ref.error();
    SHARDFS_TRY(txn->AddGarbage(ref->id));
    SHARDFS_TRY(txn->RemoveUpload(ref->id));
    SHARDFS_TRY(txn->DeleteBlock(ino, index));
    n->rec.stored_bytes -= std::min<uint64_t>(n->rec.stored_bytes, ref->length);
  }
  if (!whole.empty()) n->trunc_gen = n->rec.block_gen;
  n->rec.mtime = n->rec.ctime = Now();
  SHARDFS_TRY(SaveNode(*txn, n));
  SHARDFS_TRY(txn->Commit());
  WakeUploaders();
  return util::Ok();
}

Result<uint64_t> CoreFs::BytesToAllocate(Node* n, uint64_t offset, uint64_t end) {
  if (end <= offset) return uint64_t{0};
  const uint64_t ino = n->rec.ino;
  const uint64_t first = offset / block_size_;
  const uint64_t last = (end - 1) / block_size_;
  // The length block i must reach; every block of the range but the last ends whole.
  auto want = [&](uint64_t index) { return std::min(block_size_, end - index * block_size_); };
  uint64_t need = (last - first) * block_size_ + want(last);
  std::map<uint64_t, uint64_t> have;  // index -> bytes the block holds now
  for (const auto& [index, b] : n->buffers) {
    if (index >= first && index <= last) have[index] = b.length;
  }
  SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
  SHARDFS_TRY(txn->ScanBlocks(ino, first, [&](uint64_t index, const BlockRef& ref) {
    if (index > last) return false;
    uint64_t& h = have[index];
    h = std::max<uint64_t>(h, ref.length);
    return true;
  }));
  for (const auto& [index, bytes] : have) need -= std::min(bytes, want(index));
  return need;
}

Status CoreFs::Allocate(uint64_t ino, uint64_t offset, uint64_t end) {
  if (end <= offset) return util::Ok();
  for (uint64_t index = offset / block_size_; index <= (end - 1) / block_size_; ++index) {
    const auto want = static_cast<uint32_t>(std::min(block_size_, end - index * block_size_));
    SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
    auto it = n->buffers.find(index);
    Buffer* b = it == n->buffers.end() ? nullptr : &it->second;
    if (b == nullptr) {
      SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Read());
      auto ref = txn->GetBlock(ino, index);
      txn.reset();
      if (!ref.ok() && ref.code() != Errc::kNotFound) return ref.error();
      if (ref.ok() && ref->length >= want) continue;
      // A patched buffer with no patches: the block as stored (or nothing), zeros up to its
      // new length. It costs no memory until it is sealed.
      Buffer patched;
      patched.patches = std::make_shared<BlockPatches>();
      patched.stored_length = ref.ok() ? ref->length : 0;
      b = AddBuffer(n, index, std::move(patched));
    } else if (b->length >= want) {
      continue;
    }
    b->length = want;  // past its data, a buffer reads as zeros
    if (!b->dirty) b->dirtied = clock_->Now();
    b->dirty = true;
    b->version++;
    n->rec_dirty = true;
    SHARDFS_TRY(EnforceMemoryBudget());
  }
  return util::Ok();
}

Status CoreFs::Fallocate(uint64_t ino, uint64_t, int mode, uint64_t offset, uint64_t length) {
  util::MutexLock lock(mu_);
  if (read_only_) return ReadOnlyError();
  SHARDFS_ASSIGN_OR_RETURN(Node * n, GetNode(ino));
  if (S_ISDIR(n->rec.mode)) return MakeError(Errc::kIsDir, "is a directory");
  if (!S_ISREG(n->rec.mode)) return MakeError(Errc::kInvalidOp, "not a regular file");
  if (length == 0) return MakeError(Errc::kInvalid, "zero length");
  if (offset > kMaxFileSize || length > kMaxFileSize - offset) {
    return MakeError(Errc::kTooLarge, "file too large");
  }
  if (mode & kFallocPunchHole) {
    if (!(mode & kFallocKeepSize)) {
      return MakeError(Errc::kUnsupported, "FALLOC_FL_PUNCH_HOLE needs FALLOC_FL_KEEP_SIZE");
    }
    return ZeroRange(ino, offset, length);
  }
  if (mode & ~kFallocKeepSize) return MakeError(Errc::kUnsupported, "fallocate mode");
  // The space is promised: blocks are made for the whole range (zeros where nothing was
  // written), so st_blocks counts it and later writes into it add nothing. Past the end of the
  // file there are no blocks, so KEEP_SIZE allocates up to the size only.
  const bool keep_size = (mode & kFallocKeepSize) != 0;
  const uint64_t end = keep_size ? std::min(offset + length, n->rec.size) : offset + length;
  SHARDFS_ASSIGN_OR_RETURN(uint64_t need, BytesToAllocate(n, offset, end));
  if (need > 0) {
    mu_.Unlock();  // StatFs asks the store
    SHARDFS_ASSIGN_OR_RETURN(FsStats st, StatFs());
    mu_.Lock();
    if (need >= st.available_bytes) {
      return MakeError(Errc::kNoSpace,
                       fmt::format("fallocate of {} at {} needs {} more, and the drive has {} "
                                   "available",
                                   util::FormatSize(length), offset, util::FormatSize(need),
                                   util::FormatSize(st.available_bytes)));
    }
    SHARDFS_ASSIGN_OR_RETURN(n, GetNode(ino));
  }
  if (!keep_size && end > n->rec.size) {
    SHARDFS_ASSIGN_OR_RETURN(auto txn, meta_->Write());
    SHARDFS_TRY(Truncate(*txn, n, end));
    n->rec.ctime = Now();
    SHARDFS_TRY(SaveNode(*txn, n));
    SHARDFS_TRY(txn->Commit());
  }
  return Allocate(ino, offset, end);
}

Result<size_t> CoreFs::CopyFileRange(uint64_t ino_in, uint64_t fh_in, uint64_t off_in,
                                     uint64_t ino_out, uint64_t fh_out, uint64_t off_out,
                                     size_t length) {
  Bytes chunk;
  size_t done = 0;
  while (done < length) {
    chunk.resize(std::min(kCopyChunk, length - done));
    SHARDFS_ASSIGN_OR_RETURN(size_t got, Read(ino_in, fh_in, off_in + done, chunk));
    if (got == 0) break;
    SHARDFS_ASSIGN_OR_RETURN(
        size_t put, Write(ino_out, fh_out, off_out + done, util::ByteSpan(chunk.data(), got)));
    done += put;
    if (got < chunk.size()) break;
  }
  return done;
}

}  // namespace shardfs::core
