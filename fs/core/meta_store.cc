#include "fs/core/meta_store.h"

#include <cstring>

#include <fmt/format.h>

#include "fs/crypto/record.h"
#include "fs/util/encoding.h"

namespace shardfs::core {

using util::Bytes;
using util::ByteSpan;
using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

namespace {

enum Table : cache::TableId {
  kInodes,
  kDirents,
  kBlocks,
  kXattrs,
  kOrphans,
  kUploads,
  kGarbage,
  kState,
  kPlacements,
};

constexpr uint8_t kRecordVersion = 1;
// Probing bound: slots are 62-bit hashes, so a name's entry sits at its home slot unless
// another name hashed there too; more than this many in a row means the table is damaged.
constexpr uint64_t kMaxProbe = 64;

void PutBe64(Bytes& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t LoadBe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

Bytes Key(uint64_t a) {
  Bytes k;
  PutBe64(k, a);
  return k;
}
Bytes Key(uint64_t a, uint64_t b) {
  Bytes k;
  PutBe64(k, a);
  PutBe64(k, b);
  return k;
}
Bytes Key(uint64_t a, ByteSpan b) {
  Bytes k = Key(a);
  k.insert(k.end(), b.begin(), b.end());
  return k;
}
Bytes IdKey(const util::ObjectId& id) { return Bytes(id.bytes.begin(), id.bytes.end()); }

Bytes Aad(std::string_view tag, ByteSpan key) {
  Bytes a(tag.begin(), tag.end());
  a.insert(a.end(), key.begin(), key.end());
  return a;
}

// A bounds-checked reader over a decoded record.
class Reader {
 public:
  explicit Reader(ByteSpan b) : b_(b) {}
  bool ok() const { return ok_; }
  uint8_t U8() { return Need(1) ? b_[pos_++] : 0; }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t v = util::LoadU32Le(b_.data() + pos_);
    pos_ += 4;
    return v;
  }
  uint64_t U64() {
    if (!Need(8)) return 0;
    uint64_t v = util::LoadU64Le(b_.data() + pos_);
    pos_ += 8;
    return v;
  }
  ByteSpan Take(size_t n) {
    if (!Need(n)) return {};
    ByteSpan s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  bool AtEnd() const { return ok_ && pos_ == b_.size(); }

 private:
  bool Need(size_t n) {
    if (!ok_ || b_.size() - pos_ < n) ok_ = false;
    return ok_;
  }
  ByteSpan b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

void PutTime(Bytes& out, const Timespec& t) {
  util::AppendU64Le(out, static_cast<uint64_t>(t.sec));
  util::AppendU32Le(out, t.nsec);
}
Timespec GetTime(Reader& r) {
  Timespec t;
  t.sec = static_cast<int64_t>(r.U64());
  t.nsec = r.U32();
  return t;
}

util::Error Damaged(std::string_view what, uint64_t ino) {
  return MakeError(
      Errc::kCorrupt,
      fmt::format("the local metadata of {} {} is damaged; run `shardfs fsck`", what, ino));
}

}  // namespace

InodeRecord InodeRecord::Clone() const {
  InodeRecord r;
  r.ino = ino;
  r.mode = mode;
  r.uid = uid;
  r.gid = gid;
  r.nlink = nlink;
  r.rdev = rdev;
  r.size = size;
  r.stored_bytes = stored_bytes;
  r.atime = atime;
  r.mtime = mtime;
  r.ctime = ctime;
  r.parent = parent;
  r.block_gen = block_gen;
  r.file_key = file_key.Clone();
  r.symlink = symlink;
  return r;
}

MetaTxn::MetaTxn(std::unique_ptr<cache::ReadTxn> read, cache::WriteTxn* write,
                 const util::SecretBytes* meta_key, const util::SecretBytes* name_key)
    : read_(std::move(read)), write_(write), meta_key_(meta_key), name_key_(name_key) {}

cache::WriteTxn& MetaTxn::w() {
  SHARDFS_CHECK(write_ != nullptr, "a write through a read-only metadata transaction");
  return *write_;
}

Status MetaTxn::Commit() { return w().Commit(); }

// ---- inodes ----

Result<InodeRecord> MetaTxn::GetInode(uint64_t ino) {
  Bytes key = Key(ino);
  SHARDFS_ASSIGN_OR_RETURN(Bytes sealed, r().Get(kInodes, key));
  auto plain = crypto::OpenRecord(*meta_key_, Aad("SFIN", key), sealed);
  if (!plain.ok()) return Damaged("inode", ino);
  Reader rd(plain->span());
  InodeRecord rec;
  rec.ino = ino;
  if (rd.U8() != kRecordVersion) return Damaged("inode", ino);
  rec.mode = rd.U32();
  rec.uid = rd.U32();
  rec.gid = rd.U32();
  rec.nlink = rd.U32();
  rec.rdev = rd.U64();
  rec.size = rd.U64();
  rec.stored_bytes = rd.U64();
  rec.atime = GetTime(rd);
  rec.mtime = GetTime(rd);
  rec.ctime = GetTime(rd);
  rec.parent = rd.U64();
  rec.block_gen = rd.U64();
  uint8_t key_len = rd.U8();
  ByteSpan file_key = rd.Take(key_len);
  uint32_t link_len = rd.U32();
  ByteSpan link = rd.Take(link_len);
  if (!rd.AtEnd()) return Damaged("inode", ino);
  rec.file_key = util::SecretBytes::CopyOf(file_key);
  rec.symlink.assign(util::AsStringView(link));
  return rec;
}

Status MetaTxn::PutInode(const InodeRecord& rec) {
  Bytes key = Key(rec.ino);
  Bytes b;
  b.reserve(128 + rec.symlink.size());
  b.push_back(kRecordVersion);
  util::AppendU32Le(b, rec.mode);
  util::AppendU32Le(b, rec.uid);
  util::AppendU32Le(b, rec.gid);
  util::AppendU32Le(b, rec.nlink);
  util::AppendU64Le(b, rec.rdev);
  util::AppendU64Le(b, rec.size);
  util::AppendU64Le(b, rec.stored_bytes);
  PutTime(b, rec.atime);
  PutTime(b, rec.mtime);
  PutTime(b, rec.ctime);
  util::AppendU64Le(b, rec.parent);
  util::AppendU64Le(b, rec.block_gen);
  b.push_back(static_cast<uint8_t>(rec.file_key.size()));
  b.insert(b.end(), rec.file_key.span().begin(), rec.file_key.span().end());
  util::AppendU32Le(b, static_cast<uint32_t>(rec.symlink.size()));
  b.insert(b.end(), rec.symlink.begin(), rec.symlink.end());
  auto sealed = crypto::SealRecord(*meta_key_, Aad("SFIN", key), b);
  util::SecureZero(b.data(), b.size());  // it held the file key
  if (!sealed.ok()) return sealed.error();
  return w().Put(kInodes, key, *sealed);
}

Status MetaTxn::DeleteInode(uint64_t ino) { return w().Delete(kInodes, Key(ino)); }

// ---- directory entries ----

namespace {

struct NameHash {
  std::array<uint8_t, 16> mac;
  uint64_t home;  // home slot
};

NameHash HashName(const util::SecretBytes& key, std::string_view name) {
  auto full = crypto::HmacSha256(key, util::AsBytes(name));
  NameHash h;
  std::memcpy(h.mac.data(), full.data(), 16);
  h.home = (LoadBe64(full.data()) >> 2) + kFirstEntrySlot;
  return h;
}

}  // namespace

Result<DirentValue> MetaTxn::LookupEntry(uint64_t parent, std::string_view name) {
  NameHash h = HashName(*name_key_, name);
  // The entry is at its home slot or, after a 62-bit collision, a few slots later: compare the
  // stored name MACs, and open only the sealed name that matches.
  Result<DirentValue> found = MakeError(Errc::kNotFound, "no such entry");
  Status s = r().Scan(kDirents, Key(parent, h.home), [&](ByteSpan key, ByteSpan value) {
    if (key.size() != 16 || LoadBe64(key.data()) != parent) return false;
    uint64_t slot = LoadBe64(key.data() + 8);
    if (slot >= h.home + kMaxProbe || value.size() < 28) return false;
    if (std::memcmp(value.data(), h.mac.data(), 16) != 0) return true;
    DirentValue e;
    e.slot = slot;
    e.ino = util::LoadU64Le(value.data() + 16);
    e.type = util::LoadU32Le(value.data() + 24);
    auto sealed_name = crypto::OpenRecord(*meta_key_, Aad("SFDN", key), value.subspan(28));
    if (!sealed_name.ok() || sealed_name->view() != name) {
      found = Damaged("directory", parent);
      return false;
    }
    e.name.assign(name);
    found = std::move(e);
    return false;
  });
  if (!s.ok()) return s.error();
  return found;
}

Status MetaTxn::AddEntry(uint64_t parent, std::string_view name, uint64_t ino, uint32_t type) {
  NameHash h = HashName(*name_key_, name);
  uint64_t slot = h.home;
  for (;; ++slot) {
    if (slot >= h.home + kMaxProbe) {
      return MakeError(Errc::kInternal, "directory entry table has an impossible collision run");
    }
    Bytes key = Key(parent, slot);
    auto existing = r().Get(kDirents, key);
    if (existing.code() == Errc::kNotFound) break;
    if (!existing.ok()) return existing.error();
    if (existing->size() >= 16 && std::memcmp(existing->data(), h.mac.data(), 16) == 0) {
      return MakeError(Errc::kExists, "the name exists");
    }
  }
  Bytes key = Key(parent, slot);
  SHARDFS_ASSIGN_OR_RETURN(Bytes sealed_name,
                           crypto::SealRecord(*meta_key_, Aad("SFDN", key), util::AsBytes(name)));
  Bytes v(h.mac.begin(), h.mac.end());
  util::AppendU64Le(v, ino);
  util::AppendU32Le(v, type);
  v.insert(v.end(), sealed_name.begin(), sealed_name.end());
  return w().Put(kDirents, key, v);
}

Status MetaTxn::RemoveEntry(uint64_t parent, std::string_view name) {
  SHARDFS_ASSIGN_OR_RETURN(DirentValue e, LookupEntry(parent, name));
  return w().Delete(kDirents, Key(parent, e.slot));
}

Status MetaTxn::ScanEntries(uint64_t parent, uint64_t after,
                            const std::function<bool(const DirentValue&)>& fn) {
  Status inner = util::Ok();
  Bytes start = Key(parent, after + 1);
  Status s = r().Scan(kDirents, start, [&](ByteSpan key, ByteSpan value) {
    if (key.size() != 16 || LoadBe64(key.data()) != parent) return false;
    DirentValue e;
    e.slot = LoadBe64(key.data() + 8);
    Reader rd(value);
    rd.Take(16);
    e.ino = rd.U64();
    e.type = rd.U32();
    if (!rd.ok()) {
      inner = Damaged("directory", parent);
      return false;
    }
    auto name = crypto::OpenRecord(*meta_key_, Aad("SFDN", key), value.subspan(28));
    if (!name.ok()) {
      inner = Damaged("directory", parent);
      return false;
    }
    e.name.assign(name->view());
    return fn(e);
  });
  if (!s.ok()) return s;
  return inner;
}

Result<bool> MetaTxn::DirIsEmpty(uint64_t parent) {
  bool empty = true;
  Bytes start = Key(parent, 0);
  SHARDFS_TRY(r().Scan(kDirents, start, [&](ByteSpan key, ByteSpan) {
    empty = !(key.size() == 16 && LoadBe64(key.data()) == parent);
    return false;
  }));
  return empty;
}

// ---- blocks ----

Result<BlockRef> MetaTxn::GetBlock(uint64_t ino, uint64_t index) {
  Bytes key = Key(ino, index);
  SHARDFS_ASSIGN_OR_RETURN(Bytes sealed, r().Get(kBlocks, key));
  auto plain = crypto::OpenRecord(*meta_key_, Aad("SFBM", key), sealed);
  if (!plain.ok() || plain->size() != 32) return Damaged("the block map of inode", ino);
  BlockRef ref;
  std::memcpy(ref.id.bytes.data(), plain->data(), 16);
  ref.generation = util::LoadU64Le(plain->data() + 16);
  ref.length = util::LoadU32Le(plain->data() + 24);
  ref.sealed_size = util::LoadU32Le(plain->data() + 28);
  return ref;
}

Status MetaTxn::PutBlock(uint64_t ino, uint64_t index, const BlockRef& ref) {
  Bytes key = Key(ino, index);
  Bytes plain(ref.id.bytes.begin(), ref.id.bytes.end());
  util::AppendU64Le(plain, ref.generation);
  util::AppendU32Le(plain, ref.length);
  util::AppendU32Le(plain, ref.sealed_size);
  SHARDFS_ASSIGN_OR_RETURN(Bytes sealed, crypto::SealRecord(*meta_key_, Aad("SFBM", key), plain));
  return w().Put(kBlocks, key, sealed);
}

Status MetaTxn::DeleteBlock(uint64_t ino, uint64_t index) {
  return w().Delete(kBlocks, Key(ino, index));
}

Status MetaTxn::ScanBlocks(uint64_t ino, uint64_t from,
                           const std::function<bool(uint64_t, const BlockRef&)>& fn) {
  // Collect keys first: decrypting needs GetBlock's checks, and fn may write.
  std::vector<uint64_t> indexes;
  SHARDFS_TRY(r().Scan(kBlocks, Key(ino, from), [&](ByteSpan key, ByteSpan) {
    if (key.size() != 16 || LoadBe64(key.data()) != ino) return false;
    indexes.push_back(LoadBe64(key.data() + 8));
    return true;
  }));
  for (uint64_t index : indexes) {
    SHARDFS_ASSIGN_OR_RETURN(BlockRef ref, GetBlock(ino, index));
    if (!fn(index, ref)) break;
  }
  return util::Ok();
}

// ---- xattrs ----

namespace {
Bytes XattrKey(const util::SecretBytes& name_key, uint64_t ino, std::string_view name) {
  std::string tagged = "xattr:";
  tagged += name;
  auto mac = crypto::HmacSha256(name_key, util::AsBytes(tagged));
  return Key(ino, ByteSpan(mac.data(), 16));
}
}  // namespace

Result<Bytes> MetaTxn::GetXattr(uint64_t ino, std::string_view name) {
  Bytes key = XattrKey(*name_key_, ino, name);
  auto sealed = r().Get(kXattrs, key);
  if (sealed.code() == Errc::kNotFound) return MakeError(Errc::kNoAttribute, "no such attribute");
  if (!sealed.ok()) return sealed.error();
  auto plain = crypto::OpenRecord(*meta_key_, Aad("SFXA", key), *sealed);
  if (!plain.ok() || plain->size() < 2) return Damaged("the attributes of inode", ino);
  size_t name_len = util::LoadU16Le(plain->data());
  if (plain->size() < 2 + name_len) return Damaged("the attributes of inode", ino);
  return Bytes(plain->data() + 2 + name_len, plain->data() + plain->size());
}

Status MetaTxn::PutXattr(uint64_t ino, std::string_view name, ByteSpan value) {
  Bytes key = XattrKey(*name_key_, ino, name);
  Bytes plain;
  util::AppendU16Le(plain, static_cast<uint16_t>(name.size()));
  plain.insert(plain.end(), name.begin(), name.end());
  plain.insert(plain.end(), value.begin(), value.end());
  SHARDFS_ASSIGN_OR_RETURN(Bytes sealed, crypto::SealRecord(*meta_key_, Aad("SFXA", key), plain));
  return w().Put(kXattrs, key, sealed);
}

Status MetaTxn::DeleteXattr(uint64_t ino, std::string_view name) {
  Bytes key = XattrKey(*name_key_, ino, name);
  auto existing = r().Get(kXattrs, key);
  if (existing.code() == Errc::kNotFound) {
    return MakeError(Errc::kNoAttribute, "no such attribute");
  }
  if (!existing.ok()) return existing.error();
  return w().Delete(kXattrs, key);
}

Status MetaTxn::ScanXattrs(uint64_t ino,
                           const std::function<bool(std::string_view, ByteSpan)>& fn) {
  Status inner = util::Ok();
  SHARDFS_TRY(r().Scan(kXattrs, Key(ino), [&](ByteSpan key, ByteSpan sealed) {
    if (key.size() != 24 || LoadBe64(key.data()) != ino) return false;
    auto plain = crypto::OpenRecord(*meta_key_, Aad("SFXA", key), sealed);
    if (!plain.ok() || plain->size() < 2 ||
        plain->size() < 2 + size_t{util::LoadU16Le(plain->data())}) {
      inner = Damaged("the attributes of inode", ino);
      return false;
    }
    size_t n = util::LoadU16Le(plain->data());
    return fn(std::string_view(reinterpret_cast<const char*>(plain->data()) + 2, n),
              plain->span().subspan(2 + n));
  }));
  return inner;
}

// ---- orphans, uploads, garbage, state ----

Status MetaTxn::AddOrphan(uint64_t ino) { return w().Put(kOrphans, Key(ino), {}); }
Status MetaTxn::RemoveOrphan(uint64_t ino) { return w().Delete(kOrphans, Key(ino)); }
Status MetaTxn::ScanOrphans(const std::function<bool(uint64_t)>& fn) {
  return r().Scan(kOrphans, Key(0), [&](ByteSpan key, ByteSpan) {
    return key.size() == 8 && fn(LoadBe64(key.data()));
  });
}

Status MetaTxn::AddUpload(const util::ObjectId& id, uint64_t size) {
  Bytes v;
  util::AppendU64Le(v, size);
  return w().Put(kUploads, IdKey(id), v);
}
Status MetaTxn::RemoveUpload(const util::ObjectId& id) { return w().Delete(kUploads, IdKey(id)); }
Result<bool> MetaTxn::HasUpload(const util::ObjectId& id) {
  auto v = r().Get(kUploads, IdKey(id));
  if (v.code() == Errc::kNotFound) return false;
  if (!v.ok()) return v.error();
  return true;
}
Status MetaTxn::ScanUploads(const std::function<bool(const util::ObjectId&, uint64_t)>& fn) {
  return r().Scan(kUploads, {}, [&](ByteSpan key, ByteSpan value) {
    if (key.size() != 16 || value.size() != 8) return true;
    util::ObjectId id;
    std::memcpy(id.bytes.data(), key.data(), 16);
    return fn(id, util::LoadU64Le(value.data()));
  });
}

Status MetaTxn::AddGarbage(const util::ObjectId& id) { return w().Put(kGarbage, IdKey(id), {}); }
Status MetaTxn::RemoveGarbage(const util::ObjectId& id) { return w().Delete(kGarbage, IdKey(id)); }
Status MetaTxn::ScanGarbage(const std::function<bool(const util::ObjectId&)>& fn) {
  return r().Scan(kGarbage, {}, [&](ByteSpan key, ByteSpan) {
    if (key.size() != 16) return true;
    util::ObjectId id;
    std::memcpy(id.bytes.data(), key.data(), 16);
    return fn(id);
  });
}

Result<Bytes> MetaTxn::GetPlacement(const util::ObjectId& id) {
  SHARDFS_ASSIGN_OR_RETURN(Bytes sealed, r().Get(kPlacements, IdKey(id)));
  auto plain = crypto::OpenRecord(*meta_key_, Aad("SFPL", IdKey(id)), sealed);
  if (!plain.ok()) {
    return MakeError(Errc::kCorrupt,
                     fmt::format("the placement record of block {} is damaged", id.Hex()));
  }
  return Bytes(plain->data(), plain->data() + plain->size());
}
Status MetaTxn::PutPlacement(const util::ObjectId& id, util::ByteSpan location) {
  SHARDFS_ASSIGN_OR_RETURN(Bytes sealed,
                           crypto::SealRecord(*meta_key_, Aad("SFPL", IdKey(id)), location));
  return w().Put(kPlacements, IdKey(id), sealed);
}
Status MetaTxn::DeletePlacement(const util::ObjectId& id) {
  return w().Delete(kPlacements, IdKey(id));
}

Result<uint64_t> MetaTxn::GetState(std::string_view name) {
  SHARDFS_ASSIGN_OR_RETURN(Bytes v, r().Get(kState, util::AsBytes(name)));
  if (v.size() != 8) return MakeError(Errc::kCorrupt, fmt::format("state '{}' is damaged", name));
  return util::LoadU64Le(v.data());
}
Status MetaTxn::PutState(std::string_view name, uint64_t value) {
  Bytes v;
  util::AppendU64Le(v, value);
  return w().Put(kState, util::AsBytes(name), v);
}

// ---- store ----

MetaStore::MetaStore(std::unique_ptr<cache::KvStore> kv, util::SecretBytes meta_key,
                     util::SecretBytes name_key)
    : kv_(std::move(kv)), meta_key_(std::move(meta_key)), name_key_(std::move(name_key)) {}

Result<std::unique_ptr<MetaStore>> MetaStore::Open(const std::string& dir,
                                                   const util::SecretBytes& meta_key,
                                                   const util::SecretBytes& name_key) {
  cache::KvStore::Options o;
  o.dir = dir;
  o.tables = {"inodes",  "dirents", "blocks", "xattrs",    "orphans",
              "uploads", "garbage", "state",  "placements"};
  SHARDFS_ASSIGN_OR_RETURN(auto kv, cache::KvStore::Open(o));
  return std::unique_ptr<MetaStore>(
      new MetaStore(std::move(kv), meta_key.Clone(), name_key.Clone()));
}

Result<std::unique_ptr<MetaTxn>> MetaStore::Read() {
  SHARDFS_ASSIGN_OR_RETURN(auto txn, kv_->BeginRead());
  return std::make_unique<MetaTxn>(std::move(txn), nullptr, &meta_key_, &name_key_);
}

Result<std::unique_ptr<MetaTxn>> MetaStore::Write() {
  SHARDFS_ASSIGN_OR_RETURN(std::unique_ptr<cache::WriteTxn> txn, kv_->BeginWrite());
  cache::WriteTxn* raw = txn.get();
  return std::make_unique<MetaTxn>(std::unique_ptr<cache::ReadTxn>(std::move(txn)), raw, &meta_key_,
                                   &name_key_);
}

}  // namespace shardfs::core
