// DirStore: a ShardStore in a local directory, one file per object, at
// <dir>/objects/<first two characters of the name>/<name> (the fan-out keeps directories small).
// A Put is durable when it returns: temp file, fsync, rename over, fsync of the directory; temp
// files are named ".tmp-<name>-XXXXXX", which no object name can be, so List never sees them.
// PutFile does the same with a hard link to a file that is already written.
// One DirStore per directory at a time (usage is tracked in memory). Thread-safe.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "fs/remote/shard_store.h"
#include "fs/util/mutex.h"

namespace shardfs::remote {

class DirStore final : public ShardStore {
 public:
  // Opens the store in dir, creating it (mode 0700, parents too) if missing. Errors name the
  // directory: kNotDir when it or a parent is a file, kPermission when it cannot be used.
  static util::Result<std::unique_ptr<DirStore>> Open(const std::string& dir);

  util::Status Put(std::string_view name, util::ByteSpan data) override;
  // A hard link to the file, fsynced, renamed into place and the directory fsynced, as a Put:
  // the bytes are written once when the file is on the store's file system (a drive's block
  // cache next to its dir: store). kCrossDevice when it is not, or links are refused;
  // kCorrupt, and nothing stored, when the file does not hold size bytes.
  util::Status PutFile(std::string_view name, const std::string& path, uint64_t size) override;
  util::Result<util::Bytes> Get(std::string_view name) override;
  util::Result<util::Bytes> GetRange(std::string_view name, uint64_t offset,
                                     uint64_t length) override;
  util::Status Delete(std::string_view name) override;
  util::Result<std::vector<std::string>> List(std::string_view prefix) override;
  // used_bytes and objects are the sum of the object files' sizes and their count: walked once,
  // on the first call, then kept up to date by Put and Delete. capacity_bytes and
  // available_bytes are the size of the file system holding the store and what it has free for
  // this process (the disk may be shared with other data).
  util::Result<StoreUsage> Usage() override;
  std::string Describe() const override { return "dir:" + dir_; }

  const std::string& dir() const { return dir_; }
  // Where an object's file lives (name must be valid). For tests and tools.
  std::string ObjectPath(std::string_view name) const;

 private:
  explicit DirStore(std::string dir);

  std::string FanoutDir(std::string_view name) const;
  util::Status EnsureFanoutDir(const std::string& fanout);
  // Creates, fills and fsyncs a temp file beside path; returns its path.
  util::Result<std::string> WriteTemp(const std::string& fanout, std::string_view name,
                                      util::ByteSpan data);
  // Renames a durable temp file over the object's path, keeping the usage counters exact.
  // linked: the temp name's file when it is a link PutFile made, which may be at path already
  // (a retry); then only the temp name goes.
  util::Status Install(const std::string& tmp, const std::string& path, uint64_t size,
                       const struct stat* linked = nullptr);
  util::Status WalkUsageLocked() REQUIRES(mu_);
  util::Error StoreError(const util::Error& e) const;

  const std::string dir_;
  const std::string objects_dir_;

  // Leaf lock: nothing else is locked while it is held. Held across the stat + rename of a Put
  // and the stat + unlink of a Delete, so the counters stay exact; never across an fsync.
  util::Mutex mu_;
  bool usage_known_ GUARDED_BY(mu_) = false;
  uint64_t used_bytes_ GUARDED_BY(mu_) = 0;
  uint64_t objects_ GUARDED_BY(mu_) = 0;
  std::set<std::string> durable_fanouts_ GUARDED_BY(mu_);  // fan-out dirs known to be on disk
  uint64_t next_link_ GUARDED_BY(mu_) = 0;                 // names PutFile's temp links
};

}  // namespace shardfs::remote
