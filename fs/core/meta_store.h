// MetaStore: the drive's metadata in the `meta` KvStore, every value sealed with the drive's
// metadata key so an unmounted drive reveals nothing without the password (docs/metadata.md):
//   inodes   ino -> sealed InodeRecord (attributes, the file key, a symlink's target)
//   dirents  parent | slot -> name HMAC, child, type, sealed name. slot derives from an HMAC
//            of the name (entry-names key); it is also the readdir cookie
//   blocks   ino | index -> sealed BlockRef
//   xattrs   ino | name HMAC -> sealed (name, value)
//   orphans  ino (unlinked while open; deleted at the next mount if a crash left it)
//   uploads  object id -> u64 sealed size, in clear (blocks in the cache not yet stored)
//   garbage  object id (blocks no longer referenced, to delete from the store)
//   state    name -> u64 (next inode number, format version)
// A Txn is one KvStore transaction; write Txns commit atomically. Thread-safety as KvStore:
// a Txn belongs to one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "fs/cache/kv_store.h"
#include "fs/core/filesystem.h"
#include "fs/util/bytes.h"
#include "fs/util/ids.h"
#include "fs/util/result.h"

namespace shardfs::core {

inline constexpr uint32_t kMetaFormatVersion = 1;

struct InodeRecord {
  uint64_t ino = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint64_t rdev = 0;
  uint64_t size = 0;
  uint64_t stored_bytes = 0;  // plaintext bytes held in blocks (for st_blocks)
  Timespec atime, mtime, ctime;
  uint64_t parent = 0;         // directories: the directory holding this one
  uint64_t block_gen = 0;      // next block generation (for the block AAD)
  util::SecretBytes file_key;  // regular files: 32 random bytes
  std::string symlink;

  InodeRecord Clone() const;
};

struct BlockRef {
  util::ObjectId id;
  uint64_t generation = 0;
  uint32_t length = 0;       // valid plaintext bytes; the rest of the block reads as zeros
  uint32_t sealed_size = 0;  // bytes of the sealed object
};

struct DirentValue {
  uint64_t ino = 0;
  uint32_t type = 0;  // S_IFMT bits
  std::string name;
  uint64_t slot = 0;  // readdir cookie (>= kFirstEntrySlot)
};

inline constexpr uint64_t kFirstEntrySlot = 3;  // 1 and 2 are "." and ".."

class MetaTxn {
 public:
  MetaTxn(std::unique_ptr<cache::ReadTxn> read, cache::WriteTxn* write,
          const util::SecretBytes* meta_key, const util::SecretBytes* name_key);

  util::Result<InodeRecord> GetInode(uint64_t ino);
  util::Status PutInode(const InodeRecord& rec);
  util::Status DeleteInode(uint64_t ino);

  // kNotFound when the name is absent.
  util::Result<DirentValue> LookupEntry(uint64_t parent, std::string_view name);
  // kExists when the name is present.
  util::Status AddEntry(uint64_t parent, std::string_view name, uint64_t ino, uint32_t type);
  util::Status RemoveEntry(uint64_t parent, std::string_view name);
  // Entries with slot > after, in slot order, while fn returns true.
  util::Status ScanEntries(uint64_t parent, uint64_t after,
                           const std::function<bool(const DirentValue&)>& fn);
  util::Result<bool> DirIsEmpty(uint64_t parent);

  util::Result<BlockRef> GetBlock(uint64_t ino, uint64_t index);
  util::Status PutBlock(uint64_t ino, uint64_t index, const BlockRef& ref);
  util::Status DeleteBlock(uint64_t ino, uint64_t index);
  // Blocks with index >= from, in order, while fn returns true.
  util::Status ScanBlocks(uint64_t ino, uint64_t from,
                          const std::function<bool(uint64_t index, const BlockRef&)>& fn);

  util::Result<util::Bytes> GetXattr(uint64_t ino, std::string_view name);
  util::Status PutXattr(uint64_t ino, std::string_view name, util::ByteSpan value);
  util::Status DeleteXattr(uint64_t ino, std::string_view name);  // kNoAttribute if absent
  util::Status ScanXattrs(uint64_t ino,
                          const std::function<bool(std::string_view name, util::ByteSpan)>& fn);

  util::Status AddOrphan(uint64_t ino);
  util::Status RemoveOrphan(uint64_t ino);
  util::Status ScanOrphans(const std::function<bool(uint64_t)>& fn);

  util::Status AddUpload(const util::ObjectId& id, uint64_t size);
  util::Status RemoveUpload(const util::ObjectId& id);
  util::Result<bool> HasUpload(const util::ObjectId& id);
  util::Status ScanUploads(const std::function<bool(const util::ObjectId&, uint64_t)>& fn);

  util::Status AddGarbage(const util::ObjectId& id);
  util::Status RemoveGarbage(const util::ObjectId& id);
  util::Status ScanGarbage(const std::function<bool(const util::ObjectId&)>& fn);

  // Where an uploaded block's shards are (the BlockStore's location record), sealed with the
  // metadata key. kNotFound for blocks never uploaded.
  util::Result<util::Bytes> GetPlacement(const util::ObjectId& id);
  util::Status PutPlacement(const util::ObjectId& id, util::ByteSpan location);
  util::Status DeletePlacement(const util::ObjectId& id);

  util::Result<uint64_t> GetState(std::string_view name);  // kNotFound when never set
  util::Status PutState(std::string_view name, uint64_t value);

  // Write transactions only.
  util::Status Commit();

 private:
  cache::ReadTxn& r() { return write_ ? *write_ : *read_; }
  cache::WriteTxn& w();

  std::unique_ptr<cache::ReadTxn> read_;  // owns the transaction (also when it is a write)
  cache::WriteTxn* write_;
  const util::SecretBytes* meta_key_;
  const util::SecretBytes* name_key_;
};

class MetaStore {
 public:
  // keys: the drive's metadata and entry-names keys (copied).
  static util::Result<std::unique_ptr<MetaStore>> Open(const std::string& dir,
                                                       const util::SecretBytes& meta_key,
                                                       const util::SecretBytes& name_key);
  util::Result<std::unique_ptr<MetaTxn>> Read();
  util::Result<std::unique_ptr<MetaTxn>> Write();
  util::Status Sync() { return kv_->Sync(); }

 private:
  MetaStore(std::unique_ptr<cache::KvStore> kv, util::SecretBytes meta_key,
            util::SecretBytes name_key);
  std::unique_ptr<cache::KvStore> kv_;
  util::SecretBytes meta_key_;
  util::SecretBytes name_key_;
};

}  // namespace shardfs::core
