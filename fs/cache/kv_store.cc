#include "fs/cache/kv_store.h"

#include <lmdb.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "fs/util/files.h"

namespace shardfs::cache {
namespace {

using util::Bytes;
using util::ByteSpan;
using util::Errc;
using util::Error;
using util::MakeError;
using util::Status;

// Plenty for FUSE worker threads plus background readers; each slot costs 64 bytes of lock file.
constexpr unsigned kMaxReaders = 512;
// LMDB wants the map to be a whole number of OS pages; 64 KiB covers every page size we run on.
constexpr uint64_t kMapGranule = 64 * 1024;

// Maps an LMDB return code to the Errc that tells the caller what to do. `what` names the call
// and the environment, so a log line says which store failed and where.
Error LmdbError(int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += mdb_strerror(rc);
  switch (rc) {
    case MDB_NOTFOUND:
      return MakeError(Errc::kNotFound, std::move(message));
    case MDB_MAP_FULL:
      return MakeError(Errc::kNoSpace, message + " (the map is full: raise map_size)");
    case MDB_TXN_FULL:
      return MakeError(Errc::kNoSpace, message + " (split the transaction)");
    case ENOSPC:
    case EDQUOT:
      return MakeError(Errc::kNoSpace, message + " (the disk is full)");
    case MDB_READERS_FULL:
      return MakeError(Errc::kUnavailable, std::move(message));
    case MDB_BAD_VALSIZE:
      return MakeError(Errc::kInvalid, message + " (keys must be 1-511 bytes)");
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
      return MakeError(Errc::kCorrupt, std::move(message));
    case MDB_VERSION_MISMATCH:
      return MakeError(Errc::kUnsupported, std::move(message));
    case EACCES:
    case EPERM:
    case EROFS:
      return MakeError(Errc::kPermission, std::move(message));
    default:
      return MakeError(Errc::kInternal, std::move(message));
  }
}

MDB_val ToVal(ByteSpan b) {
  // LMDB never writes through mv_data of a key or a value it is given.
  return MDB_val{b.size(), const_cast<uint8_t*>(b.data())};
}

ByteSpan ToSpan(const MDB_val& v) { return {static_cast<const uint8_t*>(v.mv_data), v.mv_size}; }

class LmdbKvStore;

// The reads shared by ReadTxn and WriteTxn over whichever MDB_txn is live.
class TxnBase {
 protected:
  TxnBase(const LmdbKvStore* store, MDB_txn* txn) : store_(store), txn_(txn) {}

  util::Result<Bytes> DoGet(TableId table, ByteSpan key);
  Status DoScan(TableId table, ByteSpan start,
                const std::function<bool(ByteSpan key, ByteSpan value)>& fn);
  util::Result<MDB_dbi> Dbi(TableId table) const;
  Error Fail(int rc, std::string_view call) const;

  const LmdbKvStore* store_;
  MDB_txn* txn_;  // null once committed or aborted
};

class LmdbReadTxn final : public ReadTxn, private TxnBase {
 public:
  LmdbReadTxn(const LmdbKvStore* store, MDB_txn* txn) : TxnBase(store, txn) {}
  ~LmdbReadTxn() override { mdb_txn_abort(txn_); }

  util::Result<Bytes> Get(TableId table, ByteSpan key) override { return DoGet(table, key); }
  Status Scan(TableId table, ByteSpan start,
              const std::function<bool(ByteSpan key, ByteSpan value)>& fn) override {
    return DoScan(table, start, fn);
  }
};

class LmdbWriteTxn final : public WriteTxn, private TxnBase {
 public:
  LmdbWriteTxn(LmdbKvStore* store, MDB_txn* txn, std::unique_lock<std::mutex> lock)
      : TxnBase(store, txn), owner_(store), lock_(std::move(lock)) {}
  ~LmdbWriteTxn() override { Abort(); }

  util::Result<Bytes> Get(TableId table, ByteSpan key) override {
    if (txn_ == nullptr) return Finished();
    return DoGet(table, key);
  }
  Status Scan(TableId table, ByteSpan start,
              const std::function<bool(ByteSpan key, ByteSpan value)>& fn) override {
    if (txn_ == nullptr) return Finished();
    return DoScan(table, start, fn);
  }
  Status Put(TableId table, ByteSpan key, ByteSpan value) override;
  Status Delete(TableId table, ByteSpan key) override;
  Status Commit() override;

 private:
  Error Finished() const;
  // Ends the LMDB transaction and lets the next writer in.
  void Abort();
  void Release();

  LmdbKvStore* const owner_;
  std::unique_lock<std::mutex> lock_;  // the store's writer_mu_, held while txn_ is live
};

class LmdbKvStore final : public KvStore {
 public:
  LmdbKvStore(std::string dir, MDB_env* env) : dir_(std::move(dir)), env_(env) {}
  ~LmdbKvStore() override { mdb_env_close(env_); }

  Status OpenTables(const std::vector<std::string>& tables);

  util::Result<std::unique_ptr<ReadTxn>> BeginRead() override {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != 0)
      return LmdbError(rc, "mdb_txn_begin (read) in " + dir_);
    return std::unique_ptr<ReadTxn>(new LmdbReadTxn(this, txn));
  }

  util::Result<std::unique_ptr<WriteTxn>> BeginWrite() override {
    // LMDB's writer mutex would serialize writers too, but a second BeginWrite on the thread
    // that holds the write transaction would deadlock on it silently; here it is an error.
    if (writer_.load() == std::this_thread::get_id()) {
      return MakeError(Errc::kInternal, "BeginWrite in " + dir_ +
                                            " on a thread that already holds a write "
                                            "transaction (it would deadlock)");
    }
    std::unique_lock<std::mutex> lock(writer_mu_);
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0)
      return LmdbError(rc, "mdb_txn_begin (write) in " + dir_);
    writer_.store(std::this_thread::get_id());
    return std::unique_ptr<WriteTxn>(new LmdbWriteTxn(this, txn, std::move(lock)));
  }

  Status Sync() override {
    if (int rc = mdb_env_sync(env_, 1); rc != 0) return LmdbError(rc, "mdb_env_sync of " + dir_);
    return util::Ok();
  }

  uint64_t FileBytes() const override {
    struct stat st {};
    if (::stat((dir_ + "/data.mdb").c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.st_size);
  }

  void ReleaseMappedPages() override {
    // LMDB does not say where its map is (me_mapaddr is only set with MDB_FIXEDMAP): find the
    // mappings of the environment's file, by device and inode, in /proc/self/maps.
    mdb_filehandle_t fd = -1;
    struct stat st {};
    if (mdb_env_get_fd(env_, &fd) != 0 || ::fstat(fd, &st) != 0) return;
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
      unsigned long start = 0, end = 0, offset = 0, ino = 0;  // NOLINT(runtime/int): sscanf
      unsigned dev_major = 0, dev_minor = 0;
      if (std::sscanf(line.c_str(), "%lx-%lx %*s %lx %x:%x %lu", &start, &end, &offset, &dev_major,
                      &dev_minor, &ino) != 6 ||
          ino != st.st_ino || dev_major != major(st.st_dev) || dev_minor != minor(st.st_dev)) {
        continue;
      }
      // The map is read-only and shared with the file (no MDB_WRITEMAP): dropping its page
      // table entries loses nothing.
      if (::madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED) != 0) {
        spdlog::debug("madvise of {}'s map: {}", dir_, std::strerror(errno));
      }
    }
  }

  const std::string& dir() const { return dir_; }
  size_t table_count() const { return dbis_.size(); }
  MDB_dbi dbi(TableId t) const { return dbis_[t]; }
  void ClearWriter() { writer_.store(std::thread::id()); }

 private:
  const std::string dir_;
  MDB_env* const env_;
  std::vector<MDB_dbi> dbis_;  // written once in OpenTables, read-only afterwards
  // Held by the live WriteTxn (through its unique_lock) from BeginWrite to Commit/abort.
  std::mutex writer_mu_;
  std::atomic<std::thread::id> writer_{};  // the thread holding writer_mu_, if any
};

Status LmdbKvStore::OpenTables(const std::vector<std::string>& tables) {
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0)
    return LmdbError(rc, "mdb_txn_begin in " + dir_);
  for (const std::string& name : tables) {
    MDB_dbi dbi = 0;
    if (int rc = mdb_dbi_open(txn, name.c_str(), MDB_CREATE, &dbi); rc != 0) {
      mdb_txn_abort(txn);
      return LmdbError(rc, "mdb_dbi_open(" + name + ") in " + dir_);
    }
    dbis_.push_back(dbi);
  }
  if (int rc = mdb_txn_commit(txn); rc != 0) return LmdbError(rc, "mdb_txn_commit in " + dir_);
  return util::Ok();
}

Error TxnBase::Fail(int rc, std::string_view call) const {
  return LmdbError(rc, std::string(call) + " in " + store_->dir());
}

util::Result<MDB_dbi> TxnBase::Dbi(TableId table) const {
  if (table >= store_->table_count()) {
    return MakeError(Errc::kInvalid,
                     "table " + std::to_string(table) + " does not exist in " + store_->dir());
  }
  return store_->dbi(table);
}

util::Result<Bytes> TxnBase::DoGet(TableId table, ByteSpan key) {
  SHARDFS_ASSIGN_OR_RETURN(MDB_dbi dbi, Dbi(table));
  MDB_val k = ToVal(key);
  MDB_val v{};
  if (int rc = mdb_get(txn_, dbi, &k, &v); rc != 0) return Fail(rc, "mdb_get");
  ByteSpan value = ToSpan(v);
  return Bytes(value.begin(), value.end());
}

Status TxnBase::DoScan(TableId table, ByteSpan start,
                       const std::function<bool(ByteSpan key, ByteSpan value)>& fn) {
  SHARDFS_ASSIGN_OR_RETURN(MDB_dbi dbi, Dbi(table));
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn_, dbi, &cursor); rc != 0) return Fail(rc, "mdb_cursor_open");
  MDB_val k = ToVal(start);
  MDB_val v{};
  // LMDB rejects an empty key for MDB_SET_RANGE; an empty start means "from the first key".
  int rc = mdb_cursor_get(cursor, &k, &v, start.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0 && fn(ToSpan(k), ToSpan(v))) rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return Fail(rc, "mdb_cursor_get");
  return util::Ok();
}

Status LmdbWriteTxn::Put(TableId table, ByteSpan key, ByteSpan value) {
  if (txn_ == nullptr) return Finished();
  SHARDFS_ASSIGN_OR_RETURN(MDB_dbi dbi, Dbi(table));
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  if (int rc = mdb_put(txn_, dbi, &k, &v, 0); rc != 0) {
    // After a failed put LMDB only accepts an abort; doing it now frees the writer slot.
    Error e = Fail(rc, "mdb_put");
    Abort();
    return e;
  }
  return util::Ok();
}

Status LmdbWriteTxn::Delete(TableId table, ByteSpan key) {
  if (txn_ == nullptr) return Finished();
  SHARDFS_ASSIGN_OR_RETURN(MDB_dbi dbi, Dbi(table));
  MDB_val k = ToVal(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == 0 || rc == MDB_NOTFOUND) return util::Ok();
  Error e = Fail(rc, "mdb_del");
  Abort();
  return e;
}

Status LmdbWriteTxn::Commit() {
  if (txn_ == nullptr) return Finished();
  int rc = mdb_txn_commit(txn_);  // frees the transaction whether or not it succeeds
  txn_ = nullptr;
  Release();
  if (rc != 0) return Fail(rc, "mdb_txn_commit");
  return util::Ok();
}

Error LmdbWriteTxn::Finished() const {
  return MakeError(Errc::kInvalid, "write transaction in " + store_->dir() +
                                       " already ended (committed, or aborted by an error)");
}

void LmdbWriteTxn::Abort() {
  if (txn_ == nullptr) return;
  mdb_txn_abort(txn_);
  txn_ = nullptr;
  Release();
}

void LmdbWriteTxn::Release() {
  owner_->ClearWriter();
  if (lock_.owns_lock()) lock_.unlock();
}

}  // namespace

util::Result<std::unique_ptr<KvStore>> KvStore::Open(const Options& options) {
  if (options.dir.empty()) return MakeError(Errc::kInvalid, "KvStore: empty directory");
  std::set<std::string> names;
  for (const std::string& t : options.tables) {
    if (t.empty() || !names.insert(t).second)
      return MakeError(Errc::kInvalid, "KvStore " + options.dir + ": empty or repeated table");
  }
  SHARDFS_TRY(util::MakeDirs(options.dir, 0700));

  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env); rc != 0) return LmdbError(rc, "mdb_env_create");
  auto fail = [&](int rc, std::string_view call) {
    mdb_env_close(env);
    return LmdbError(rc, std::string(call) + " of " + options.dir);
  };
  uint64_t map_size = (options.map_size + kMapGranule - 1) / kMapGranule * kMapGranule;
  if (int rc = mdb_env_set_mapsize(env, map_size); rc != 0) return fail(rc, "mdb_env_set_mapsize");
  if (int rc = mdb_env_set_maxdbs(env, static_cast<MDB_dbi>(options.tables.size())); rc != 0)
    return fail(rc, "mdb_env_set_maxdbs");
  if (int rc = mdb_env_set_maxreaders(env, kMaxReaders); rc != 0)
    return fail(rc, "mdb_env_set_maxreaders");
  // NOSYNC: a commit reaches the OS (survives a process crash) and Sync() makes it durable.
  // NOTLS: read transactions are objects, not per-thread slots, so one thread may hold several
  // and a ReadTxn may be handed between threads.
  if (int rc = mdb_env_open(env, options.dir.c_str(), MDB_NOSYNC | MDB_NOTLS, 0600); rc != 0)
    return fail(rc, "mdb_env_open");

  auto store = std::make_unique<LmdbKvStore>(options.dir, env);
  SHARDFS_TRY(store->OpenTables(options.tables));
  return std::unique_ptr<KvStore>(std::move(store));
}

}  // namespace shardfs::cache
