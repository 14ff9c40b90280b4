// KvStore: an LMDB environment of named tables with byte keys and values, for the inode
// metadata (the `meta` environment) and the block cache's index. Every WriteTxn is one atomic
// LMDB commit. The environment is opened MDB_NOSYNC: commits are cheap (~20 us) and survive a
// process crash; Sync() (called at fsync/fsyncdir and periodically) makes everything committed
// durable against power loss. Values are copied out: no pointer into the map outlives a call.
// Thread-safe: any number of ReadTxns at once, one WriteTxn at a time (BeginWrite waits);
// a transaction belongs to the thread that began it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::cache {

using TableId = uint32_t;  // index into KvStore::Options::tables

class KvStore;

class ReadTxn {
 public:
  virtual ~ReadTxn() = default;
  // kNotFound when absent.
  virtual util::Result<util::Bytes> Get(TableId table, util::ByteSpan key) = 0;
  // Calls fn for each entry with key >= start, in key order, while fn returns true. The spans
  // are valid only during the call.
  virtual util::Status Scan(
      TableId table, util::ByteSpan start,
      const std::function<bool(util::ByteSpan key, util::ByteSpan value)>& fn) = 0;
};

class WriteTxn : public ReadTxn {
 public:
  // kNoSpace when the map or the disk is full (the transaction is then aborted).
  virtual util::Status Put(TableId table, util::ByteSpan key, util::ByteSpan value) = 0;
  // Deleting a missing key is not an error.
  virtual util::Status Delete(TableId table, util::ByteSpan key) = 0;
  // Commits; a WriteTxn destroyed without Commit is aborted.
  virtual util::Status Commit() = 0;
};

class KvStore {
 public:
  struct Options {
    std::string dir;                        // created if missing (mode 0700)
    std::vector<std::string> tables;        // TableId i is tables[i]
    uint64_t map_size = uint64_t{1} << 36;  // address space only (64 GiB)
  };
  static util::Result<std::unique_ptr<KvStore>> Open(const Options& options);
  virtual ~KvStore() = default;

  virtual util::Result<std::unique_ptr<ReadTxn>> BeginRead() = 0;
  virtual util::Result<std::unique_ptr<WriteTxn>> BeginWrite() = 0;
  // Flushes every committed transaction to disk (fsync).
  virtual util::Status Sync() = 0;
  // Bytes the environment's file takes on disk.
  virtual uint64_t FileBytes() const = 0;
  // Unmaps the file's pages from this process. Reads go through LMDB's map of the file, so every
  // page ever read stays in the daemon's resident memory (10,000 small blocks read for upload:
  // ~120 MiB). The pages stay in the kernel's page cache, and a later read maps them again
  // (a minor fault, no disk read); values read before stay valid.
  virtual void ReleaseMappedPages() = 0;
};

}  // namespace shardfs::cache
