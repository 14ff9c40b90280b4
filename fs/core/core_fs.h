// CoreFs: the Filesystem over a MetaStore (sealed metadata in LMDB), a BlockCache (sealed
// blocks on local disk) and a ShardStore (where blocks are kept for good).
//
// Concurrency: one mutex, mu_, guards the inode table, every in-memory InodeRecord, the
// buffers and the handles; every metadata write transaction is begun and committed while
// holding it (so the lock order is mu_ -> LMDB writer, everywhere). The expensive steps —
// sealing and opening blocks, block-cache file I/O and store I/O — run with mu_ released.
// Blocks are written in place by no one: a changed block is sealed anew (fresh object id,
// nonce and generation) and the old object becomes garbage.
//
// Buffers: a block being written is kept in memory as plaintext (dirty) until a write fills it
// to its end, its file is closed (the closer thread seals it moments later, with the other
// files closed meanwhile) or fsynced, the memory budget is reached, or it has been
// idle for the commit interval; recently read blocks stay as clean buffers. A write into a
// stored block that is not in memory does not read it: the buffer holds only the written
// ranges (BlockPatches), laid over the stored block when sealed or read. Sealing snapshots a
// buffer and checks its version afterwards, so writes may continue meanwhile.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "fs/cache/block_cache.h"
#include "fs/core/block_patches.h"
#include "fs/core/drive_config.h"
#include "fs/core/filesystem.h"
#include "fs/core/fs_options.h"
#include "fs/core/meta_store.h"
#include "fs/crypto/keys.h"
#include "fs/remote/block_store.h"
#include "fs/util/clock.h"
#include "fs/util/mutex.h"

namespace shardfs::core {

// Whether the caller is in group gid (primary or supplementary): the chown and setgid rules.
inline bool InGroup(const Caller& c, uint32_t gid) {
  return c.gid == gid || std::find(c.groups.begin(), c.groups.end(), gid) != c.groups.end();
}

class CoreFs final : public Filesystem {
 public:
  struct Deps {
    DriveConfig config;
    crypto::DriveKeys keys;
    std::unique_ptr<MetaStore> meta;
    std::unique_ptr<cache::BlockCache> cache;
    // The nodes' stores the block store spreads shards over (it does not own them).
    std::vector<std::unique_ptr<remote::ShardStore>> node_stores;
    std::unique_ptr<remote::BlockStore> store;
    std::shared_ptr<const util::Clock> clock;
    FsOptions options;
    int lock_fd = -1;       // held (and closed) by the filesystem: one mount per cache directory
    uint32_t root_uid = 0;  // owner of a new drive's root directory
    uint32_t root_gid = 0;
  };
  // Creates the root directory of a new drive, reclaims orphans a crash left, and starts the
  // uploader and the periodic committer.
  static util::Result<std::unique_ptr<CoreFs>> Open(Deps deps);
  ~CoreFs() override;

  util::Result<Attr> Lookup(uint64_t parent, std::string_view name) override;
  void Forget(uint64_t ino, uint64_t nlookup) override;
  util::Result<Attr> GetAttr(uint64_t ino) override;
  util::Result<Attr> SetAttributes(uint64_t ino, const SetAttr& change,
                                   const Caller& caller) override;
  util::Status Access(uint64_t ino, int mask, const Caller& caller) override;
  util::Result<Attr> Mknod(uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
                           const Caller& caller) override;
  util::Result<Attr> Mkdir(uint64_t parent, std::string_view name, uint32_t mode,
                           const Caller& caller) override;
  util::Result<Attr> Symlink(uint64_t parent, std::string_view name, std::string_view target,
                             const Caller& caller) override;
  util::Result<std::string> Readlink(uint64_t ino) override;
  util::Status Unlink(uint64_t parent, std::string_view name) override;
  util::Status Rmdir(uint64_t parent, std::string_view name) override;
  util::Status Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                      std::string_view new_name, uint32_t flags) override;
  util::Result<Attr> Link(uint64_t ino, uint64_t new_parent, std::string_view new_name) override;
  util::Result<uint64_t> Open(uint64_t ino, int flags) override;
  util::Result<Created> Create(uint64_t parent, std::string_view name, uint32_t mode, int flags,
                               const Caller& caller) override;
  util::Result<size_t> Read(uint64_t ino, uint64_t fh, uint64_t offset,
                            util::MutableByteSpan out) override;
  util::Result<size_t> Write(uint64_t ino, uint64_t fh, uint64_t offset,
                             util::ByteSpan data) override;
  util::Status Release(uint64_t ino, uint64_t fh) override;
  util::Status Fsync(uint64_t ino, uint64_t fh, bool datasync) override;
  util::Status Fallocate(uint64_t ino, uint64_t fh, int mode, uint64_t offset,
                         uint64_t length) override;
  util::Result<size_t> CopyFileRange(uint64_t ino_in, uint64_t fh_in, uint64_t off_in,
                                     uint64_t ino_out, uint64_t fh_out, uint64_t off_out,
                                     size_t length) override;
  util::Result<uint64_t> OpenDir(uint64_t ino) override;
  util::Status ReadDir(uint64_t ino, uint64_t fh, uint64_t offset, bool plus,
                       const std::function<bool(const DirEntry&)>& emit) override;
  util::Status ReleaseDir(uint64_t ino, uint64_t fh) override;
  util::Status FsyncDir(uint64_t ino, uint64_t fh) override;
  util::Result<FsStats> StatFs() override;
  util::Status SetXattr(uint64_t ino, std::string_view name, util::ByteSpan value,
                        int flags) override;
  util::Result<util::Bytes> GetXattr(uint64_t ino, std::string_view name) override;
  util::Result<std::vector<std::string>> ListXattr(uint64_t ino) override;
  util::Status RemoveXattr(uint64_t ino, std::string_view name) override;
  util::Status Shutdown() override;
  util::Status SealAll() override;
  util::Status SetReadOnly(bool read_only) override;
  DriveStatus GetStatus() override;

  // For tests and `shardfs status`: blocks waiting for upload, and a wait for none.
  uint64_t PendingUploads();
  // For tests: waits until readahead has nothing queued or running.
  void WaitForReadahead();
  util::Status WaitForUploads();

 private:
  struct Buffer {
    // Grows on demand up to block_size (a 4 KiB file costs 4 KiB); bytes at or past `length`,
    // and past data->size(), read as zero. Shared with a seal in flight (use_count > 1): it
    // is then frozen, and a change goes to a copy (MutableData).
    std::shared_ptr<util::Bytes> data = std::make_shared<util::Bytes>();
    // A patched buffer: writes to a stored block that was not read first. data stays empty;
    // the writes since the buffer was made are in patches (shared with a seal in flight like
    // data), laid over the block's current stored content when sealed or read (Unpatch).
    std::shared_ptr<BlockPatches> patches;
    uint32_t length = 0;  // valid bytes
    // The block's length as counted in the inode's stored_bytes (0: no block stored), so that
    // st_blocks counts a dirty buffer's growth only, not its bytes again.
    uint32_t stored_length = 0;
    bool dirty = false;
    uint64_t version = 0;  // bumped by every change, so a seal can tell it raced a write
    uint64_t sealing = 0;  // the version a seal in flight took (0: none): sealed only once
    std::list<std::pair<uint64_t, uint64_t>>::iterator lru;  // position in lru_
    util::Clock::TimePoint dirtied;

    bool patched() const { return patches != nullptr; }
    // Memory held (counted in buffer_bytes_).
    uint64_t footprint() const { return data->size() + (patches ? patches->bytes() : 0); }
  };
  struct Node {
    InodeRecord rec;
    uint64_t nlookup = 0;
    uint32_t opens = 0;
    bool rec_dirty = false;  // rec has changes not yet written to meta
    // Block generation at the last truncate: a seal snapshotted before it is stale.
    uint64_t trunc_gen = 0;
    uint32_t seals_in_flight = 0;  // FlushNode waits for them (sealed_cv_)
    // Readahead: the block index read last and the window (blocks ahead to prefetch), which
    // doubles while reads stay sequential and drops to 0 on a jump.
    uint64_t ra_last = ~uint64_t{0};
    uint64_t ra_window = 0;
    std::map<uint64_t, Buffer> buffers;
  };
  struct Handle {
    uint64_t ino = 0;
    int flags = 0;
  };
  // A block to seal: a snapshot of a dirty buffer.
  struct SealJob {
    uint64_t ino = 0;
    uint64_t index = 0;
    uint64_t version = 0;
    // Handed out when the snapshot is taken, under mu_: a higher generation is a newer snapshot
    // even when the seals finish in another order (a thread may hold several jobs).
    uint64_t generation = 0;
    std::shared_ptr<const util::Bytes> plain;  // the buffer's frozen data
    // A patched buffer's frozen patches (plain is then unused): laid over the block as stored
    // when the job runs.
    std::shared_ptr<const BlockPatches> patches;
    uint32_t length = 0;  // valid bytes of it
  };

  explicit CoreFs(Deps deps);

  static util::Error ReadOnlyError();

  // --- core_fs.cc: inode table and attributes (all with mu_ held) ---
  util::Result<Node*> GetNode(uint64_t ino) REQUIRES(mu_);
  // The buffer's bytes, ready to be changed in [0, need): copied first when a seal shares them,
  // grown (zero-filled) when shorter. Keeps buffer_bytes_ in step.
  util::Bytes& MutableData(Buffer& b, size_t need) REQUIRES(mu_);
  Attr ToAttr(const Node& n) const;
  util::Result<Attr> Referenced(Node* n) REQUIRES(mu_);  // nlookup + 1, returns attributes
  Timespec Now() const;
  util::Status CheckName(std::string_view name) const;
  util::Result<Node*> GetDir(uint64_t ino) REQUIRES(mu_);
  util::Status SaveNode(MetaTxn& txn, Node* n) REQUIRES(mu_);
  // Writes every record changed in memory only (rec_dirty) in one transaction, after sealing
  // what files closed since the closer last ran still buffer.
  util::Status SaveDirtyRecords() REQUIRES(mu_);
  // Forgets the in-memory copies of inodes the kernel forgot once they are clean.
  void DropForgotten() REQUIRES(mu_);
  // A new inode number (mu_ held, no write transaction open: it may commit a reservation).
  util::Result<uint64_t> AllocIno() REQUIRES(mu_);
  // Deletes an inode with no links, if nothing refers to it any more.
  void MaybeDelete(uint64_t ino) REQUIRES(mu_);
  util::Status DeleteInode(MetaTxn& txn, Node* n) REQUIRES(mu_);
  util::Status Init();

  // --- core_fs_namespace.cc ---
  util::Result<Attr> MakeNode(uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
                              std::string_view target, const Caller& caller) REQUIRES(mu_);
  util::Status DropLink(MetaTxn& txn, uint64_t parent_ino, Node* child) REQUIRES(mu_);
  // A name came or went in dir at `when`; links_changed: a subdirectory did (its nlink
  // changed), so the record is written now, else later with the other changed records.
  util::Status TouchDir(MetaTxn& txn, Node* dir, Timespec when, bool links_changed) REQUIRES(mu_);
  // Unlink (directory false) and Rmdir (true).
  util::Status RemoveName(uint64_t parent, std::string_view name, bool directory);
  bool IsAncestor(uint64_t maybe_ancestor, uint64_t dir) REQUIRES(mu_);

  // --- core_fs_data.cc ---
  // The buffer of a block, loading the block's current content unless whole_overwrite. May
  // release mu_ while loading: Node pointers taken before the call must be looked up again.
  util::Result<Buffer*> LoadBuffer(uint64_t ino, uint64_t index, bool whole_overwrite)
      REQUIRES(mu_);
  util::Result<util::Bytes> ReadBlock(uint64_t ino, uint64_t index, const BlockRef& ref,
                                      const util::SecretBytes& file_key);
  // Turns a patched buffer into a whole one: stored holds the block's current content (its
  // first stored_length bytes valid), and the patches go on top.
  void Unpatch(Buffer& b, util::Bytes stored, uint32_t stored_length) REQUIRES(mu_);
  // Applies change to b's patches (copied first when a seal shares them), keeping
  // buffer_bytes_ in step; patches that then cover b whole become its data (no stored block
  // needed under them any more).
  void ChangePatches(Buffer& b, const std::function<void(BlockPatches&)>& change) REQUIRES(mu_);
  // Seals and commits the jobs: a large block alone, small ones in groups (a block is in the
  // cache, dirty, only briefly before its metadata commits and the uploader may take it).
  util::Status SealBuffers(std::vector<SealJob> jobs) REQUIRES(mu_);
  // Seals the jobs' blocks with mu_ released, puts them in the cache together, then records
  // them all in one metadata transaction. The first failure fails the whole group.
  util::Status SealGroup(std::span<SealJob> jobs) REQUIRES(mu_);
  // The sealed block of a job (without mu_): a fresh object id in ref, the sealed size too.
  util::Status SealJobBlock(const SealJob& job, const util::SecretBytes& key,
                            const std::optional<BlockRef>& base, BlockRef& ref,
                            util::Bytes& sealed);
  // Points the block map at a sealed block and queues it for upload, or makes it garbage when
  // the snapshot went stale meanwhile (mu_ held).
  util::Status RecordSeal(MetaTxn& txn, const SealJob& job, BlockRef ref) REQUIRES(mu_);
  static constexpr size_t kSealGroupBlocks = 256;
  static constexpr uint64_t kSealGroupBytes = uint64_t{1} << 20;
  // How long the closer waits for more closed files before sealing the ones it has.
  static constexpr auto kCloseGather = std::chrono::milliseconds(20);
  std::vector<SealJob> TakeDirty(Node* n) REQUIRES(mu_);  // every dirty buffer not being sealed
  SealJob TakeOne(Node* n, uint64_t index, Buffer& b)
      REQUIRES(mu_);  // a snapshot of one dirty buffer
  // Seals the inode's dirty buffers and waits for its seals in flight; then writes its record
  // if it changed in memory, unless !save_record (a close: the committer writes it later).
  util::Status FlushNode(uint64_t ino, bool save_record = true) REQUIRES(mu_);
  // FlushNode of many inodes, their small blocks sealed in shared groups. Logs failures
  // (naming `why`) and returns the first.
  util::Status FlushNodes(const std::vector<uint64_t>& inos, bool save_records,
                          std::string_view why) REQUIRES(mu_);
  util::Status Truncate(MetaTxn& txn, Node* n, uint64_t new_size) REQUIRES(mu_);
  util::Status ZeroRange(uint64_t ino, uint64_t offset, uint64_t length) REQUIRES(mu_);
  // fallocate mode 0 / KEEP_SIZE: the bytes of [offset, end) that no block holds yet, which
  // Allocate would add (blocks are allocated from their start).
  util::Result<uint64_t> BytesToAllocate(Node* n, uint64_t offset, uint64_t end) REQUIRES(mu_);
  // Makes the blocks of [offset, end) hold their bytes up to end (zeros where nothing was
  // written): as a write of zeros into holes and past each block's length, without reading.
  util::Status Allocate(uint64_t ino, uint64_t offset, uint64_t end) REQUIRES(mu_);
  void TouchBuffer(uint64_t ino, uint64_t index, Buffer& b) REQUIRES(mu_);
  // Puts b in as n's buffer of block index (which has none), most recently used.
  Buffer* AddBuffer(Node* n, uint64_t index, Buffer b) REQUIRES(mu_);
  util::Status EnforceMemoryBudget() REQUIRES(mu_);
  void DropBuffer(Node* n, uint64_t index) REQUIRES(mu_);
  util::Status SyncLocal();
  std::string ObjectName(const util::ObjectId& id) const;

  // --- uploader and committer (core_fs_background.cc) ---
  void UploaderLoop();
  void CommitterLoop();
  // Seals the buffers of files closed while dirty (closed_), many at a time.
  void CloserLoop();
  // FlushNodes of every inode in closed_ (taken out of it), without writing their records.
  util::Status FlushClosed() REQUIRES(mu_);
  bool UploadOne(const util::ObjectId& id);
  // The block to the store as the cache's file itself when the store can keep it (a dir: store
  // on the cache's file system links it): its location and size, or nullopt when the bytes
  // have to be Put instead.
  std::optional<std::pair<util::Result<util::Bytes>, uint64_t>> UploadCacheFile(
      const util::ObjectId& id);
  bool CollectOneGarbage(const util::ObjectId& id);
  // Asks the store how much it holds, for the quota, when kQuotaUsageInterval has passed since
  // it last did or blocks were `freed` (takes mu_; call without it). One thread asks at a time.
  void RefreshStoreUsage(bool freed);
  // kNoSpace once the quota is used up (mu_ held).
  util::Status CheckQuota() REQUIRES(mu_);
  // Bytes of blocks the drive holds: stored, uploaded since that was asked, and dirty ones.
  uint64_t QuotaUsed() REQUIRES(mu_);

  DriveConfig config_;
  crypto::DriveKeys keys_;
  std::unique_ptr<MetaStore> meta_;
  std::unique_ptr<cache::BlockCache> cache_;
  // A fetch of a sealed block from the store in flight: later askers for the same block wait
  // for it instead of fetching again (single flight).
  struct Fetch {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int waiters = 0;  // askers after the first (guarded by fetch_mu_)
    util::Result<util::Bytes> sealed = util::Bytes{};
  };
  // The sealed block from the store (single flight), put into the cache as clean.
  util::Result<util::Bytes> FetchSealed(const util::ObjectId& id);
  // With mu_ held, on a read of block index: grows or resets the node's readahead window and
  // queues fetches of the blocks ahead that are not cached.
  void PlanReadahead(Node* n, uint64_t index) REQUIRES(mu_);
  void PrefetchLoop();
  // A readahead load: the block's buffer, if its inode is still open and it has none.
  void LoadAhead(uint64_t ino, uint64_t index);

  std::vector<std::unique_ptr<remote::ShardStore>> node_stores_;  // outlive store_
  std::unique_ptr<remote::BlockStore> store_;
  // False once the store said it cannot keep the cache's files (UploadCacheFile).
  std::atomic<bool> store_takes_files_{true};
  std::shared_ptr<const util::Clock> clock_;
  FsOptions options_;
  // Changes are refused (SetReadOnly; starts as options_.read_only). Set with mu_ held.
  std::atomic<bool> read_only_;
  int lock_fd_;
  uint32_t root_uid_, root_gid_;
  uint64_t block_size_;

  util::Mutex mu_;  // see the header comment
  std::unordered_map<uint64_t, std::unique_ptr<Node>> nodes_ GUARDED_BY(mu_);
  std::unordered_map<uint64_t, Handle> handles_ GUARDED_BY(mu_);
  uint64_t next_fh_ GUARDED_BY(mu_) = 1;
  uint64_t next_ino_ GUARDED_BY(mu_) = 0;
  uint64_t ino_reserved_ GUARDED_BY(mu_) =
      0;  // numbers below this are reserved in the stored next_ino
  static constexpr uint64_t kInoReserve = 1024;
  std::list<std::pair<uint64_t, uint64_t>> lru_
      GUARDED_BY(mu_);  // (ino, block index), most recent at front
  uint64_t buffer_bytes_ GUARDED_BY(mu_) = 0;

  // Background work; guarded by mu_.
  std::condition_variable work_cv_;            // uploads or garbage queued, or stopping
  std::condition_variable uploaded_cv_;        // an upload finished
  std::condition_variable stop_cv_;            // the committer's sleep, cut short by Shutdown
  std::condition_variable sealed_cv_;          // a seal committed (or failed)
  std::condition_variable closer_cv_;          // closed_ has inodes, or stopping
  std::set<uint64_t> closed_ GUARDED_BY(mu_);  // inodes closed with dirty buffers, for the closer
  std::condition_variable load_cv_;            // a block load finished (loads_in_flight_ fell)
  static constexpr int kMaxConcurrentLoads = 4;
  // Seals running at once (each holds a block two or three times over: plain, sealed, and
  // for a patched buffer the stored block). Unbounded, FUSE threads all sealing over the
  // memory budget took random 4 KiB writes to 370 MiB; 2 cores need no more than 3.
  static constexpr int kMaxConcurrentSeals = 3;
  int seals_running_ GUARDED_BY(mu_) = 0;
  std::condition_variable seal_slot_cv_;  // seals_running_ fell
  int loads_in_flight_ GUARDED_BY(mu_) = 0;
  std::set<std::pair<uint64_t, uint64_t>> loading_
      GUARDED_BY(mu_);  // (ino, block index) being loaded
  std::unordered_set<util::ObjectId> in_flight_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  // Write-back: blocks sealed during a burst of writes are uploaded (and garbage deleted)
  // once the burst is over, not during it: uploads take the same 2 cores and disk the writes
  // need (10,000 files of 4 KiB created in 0.9 s without uploads running, 14-17 s with them).
  // Uploading starts when writes have been quiet for kUploadQuiet, the first block has waited
  // kUploadMaxDelay, kUploadEagerBytes of whole blocks wait (a large write streams: its uploads
  // overlap it), kUploadBacklogBytes of any blocks wait (room in the cache), or someone waits
  // for the uploads (sync, fsync to the store, unmount); it then goes on until nothing is
  // pending. Small files do not count as a stream: each costs an object (a file and its syncs
  // on the dir store or a node) whatever its size, and an rsync of /usr/include without boost
  // (8,205 files, 135 MiB) took 7.2-7.9 s with their uploads alongside, 5.4-5.7 s without.
  static constexpr auto kUploadQuiet = std::chrono::seconds(1);
  static constexpr auto kUploadMaxDelay = std::chrono::seconds(10);
  static constexpr uint64_t kUploadEagerBytes = uint64_t{64} << 20;     // at most cache / 8
  static constexpr uint64_t kUploadBacklogBytes = uint64_t{512} << 20;  // at most cache / 4
  bool UploadsDue(std::chrono::steady_clock::time_point now) const REQUIRES(mu_);
  // A block sealed (whole: as large as a block; or, with 0, one deleted): writes are not
  // quiet. With mu_ held.
  void NoteWriteActivity(uint64_t sealed_bytes, bool whole_block = false) REQUIRES(mu_);
  // After a block was queued for upload or deletion, with mu_ held: wakes the uploader threads
  // if they have something to do now. Not on every block: in a burst of small files that woke
  // four threads per file only for them to go back to sleep (they also look every 200 ms).
  void WakeUploaders() REQUIRES(mu_);
  // An uploader thread's wait for work (counted in idle_uploaders_).
  void WaitForWork(std::chrono::milliseconds limit) REQUIRES(mu_);
  int idle_uploaders_ GUARDED_BY(mu_) = 0;  // uploader threads waiting in work_cv_
  bool draining_ GUARDED_BY(mu_) =
      true;  // uploading until the queue is empty (at mount: what is left)
  std::chrono::steady_clock::time_point last_activity_ GUARDED_BY(mu_){};
  std::chrono::steady_clock::time_point first_waiting_ GUARDED_BY(mu_){};
  uint64_t waiting_bytes_ GUARDED_BY(mu_) = 0;        // sealed since the uploads last drained
  uint64_t waiting_whole_bytes_ GUARDED_BY(mu_) = 0;  // ...of them in whole blocks
  // Guards fetches_, prefetch_queue_ and prefetch_queued_. A leaf: never held while taking mu_
  // or calling the store or the cache.
  util::Mutex fetch_mu_ ACQUIRED_AFTER(mu_);
  std::condition_variable prefetch_cv_;
  std::unordered_map<util::ObjectId, std::shared_ptr<Fetch>> fetches_ GUARDED_BY(fetch_mu_);
  // Readahead work: fetch a sealed block from the store into the cache or, for the blocks
  // right ahead of a reader, load it into a buffer (fetched if need be, and decrypted).
  struct Prefetch {
    util::ObjectId id;
    uint64_t ino = 0;
    uint64_t index = 0;
    bool load = false;
  };
  std::deque<Prefetch> prefetch_queue_ GUARDED_BY(fetch_mu_);
  std::unordered_set<util::ObjectId> prefetch_queued_ GUARDED_BY(fetch_mu_);
  std::atomic<bool> prefetch_stop_{false};
  int prefetches_running_ GUARDED_BY(fetch_mu_) =
      0;  // guarded by fetch_mu_; prefetch_cv_ tells when it falls
  bool shut_down_ GUARDED_BY(mu_) = false;
  bool changed_since_sync_ GUARDED_BY(mu_) = false;
  util::Status last_upload_error_ GUARDED_BY(mu_);
  uint64_t readahead_blocks_ GUARDED_BY(mu_) = 0;  // DriveStatus::readahead_blocks
  uint64_t read_waits_ GUARDED_BY(mu_) = 0;        // DriveStatus::read_waits
  uint64_t sealed_blocks_ GUARDED_BY(mu_) = 0;     // DriveStatus::sealed_blocks
  uint64_t seal_commits_ GUARDED_BY(mu_) = 0;      // DriveStatus::seal_commits
  uint64_t uploaded_bytes_ GUARDED_BY(mu_) =
      0;  // sealed bytes stored since the mount (for progress rates)
  // The drive's quota (config_.quota) is checked against the store's used bytes as last asked
  // (store_used_, when uploaded_bytes_ was uploaded_at_usage_), what was uploaded since, and
  // the dirty blocks in the cache. Unknown until the uploader first asks the store.
  bool store_used_known_ GUARDED_BY(mu_) = false;
  uint64_t store_used_ GUARDED_BY(mu_) = 0;
  uint64_t uploaded_at_usage_ GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point usage_asked_ GUARDED_BY(mu_);
  bool usage_asking_ GUARDED_BY(mu_) = false;  // a thread is asking the store
  bool usage_stale_ GUARDED_BY(mu_) =
      false;  // blocks were deleted since the answer being awaited was asked
  std::vector<std::thread> threads_;
};

}  // namespace shardfs::core
