// Golden file for the local metadata, format 1 (docs/metadata.md, kMetaFormatVersion): every
// entry of the `meta` environment that a small fixed tree makes, in tests/data/golden/meta-v1.txt.
// Sealed values have random nonces, so the file holds keys, clear parts and plaintexts, and the
// test checks sealed lengths. Both directions: today's MetaStore must write exactly these
// entries, and must read an environment built from the file alone. A failure means a format
// change: bump kMetaFormatVersion and keep reading version 1 rather than regenerate. To
// regenerate deliberately, run with SHARDFS_UPDATE_GOLDEN=1 (rewrites the file in the source tree).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fs/cache/kv_store.h"
#include "fs/core/meta_store.h"
#include "fs/crypto/record.h"
#include "fs/util/encoding.h"
#include "fs/util/files.h"
#include "tests/golden_util.h"
#include "tests/temp_dir.h"

namespace shardfs::core {
namespace {

using golden::Counting;
using golden::Updating;
constexpr auto Id = golden::CountingId;

using util::Bytes;
using util::ByteSpan;
using util::ObjectId;
using util::SecretBytes;

const std::string kGoldenPath = std::string(SHARDFS_TEST_DATA_DIR) + "/golden/meta-v1.txt";

// The tables as meta_store.cc opens them: a TableId is the position in this list.
const std::vector<std::string> kTables = {"inodes",  "dirents", "blocks", "xattrs",    "orphans",
                                          "uploads", "garbage", "state",  "placements"};
// The AAD tag of each sealed table (the AAD is tag || key); plain tables have none.
const std::map<std::string, std::string> kSealTags = {{"inodes", "SFIN"},
                                                      {"dirents", "SFDN"},
                                                      {"blocks", "SFBM"},
                                                      {"xattrs", "SFXA"},
                                                      {"placements", "SFPL"}};
constexpr size_t kDirentClearBytes = 16 + 8 + 4;  // name HMAC, child, type

constexpr char kHeader[] =
    "# The local metadata `meta` LMDB environment, format 1 (docs/metadata.md): every entry the\n"
    "# fixed tree of tests/core/meta_golden_test.cc makes, one per line: table, key hex, value.\n"
    "# plain=<hex>: stored as is. sealed=<plaintext hex>: stored as crypto::SealRecord under the\n"
    "# metadata key and AAD tag||key. dirents: clear=<name HMAC 16, child 8, type 4> then the\n"
    "# sealed name. Metadata key 00..1f, entry-names key 20..3f. Do not edit: a change here is a\n"
    "# format change (bump the version, keep reading this one).\n";

SecretBytes MetaKey() { return SecretBytes::CopyOf(ByteSpan(Counting(0x00, 32))); }
SecretBytes NameKey() { return SecretBytes::CopyOf(ByteSpan(Counting(0x20, 32))); }

// ---- the fixed tree ----

constexpr uint64_t kRoot = 1, kFile = 2, kLink = 3, kDev = 4, kOrphan = 5, kNextIno = 6;

std::vector<InodeRecord> Inodes() {
  std::vector<InodeRecord> v(4);
  InodeRecord& root = v[0];
  root.ino = kRoot;
  root.mode = S_IFDIR | 0755;
  root.uid = root.gid = 1000;
  root.nlink = 2;
  root.atime = root.mtime = root.ctime = {1700000000, 0};
  root.parent = kRoot;
  InodeRecord& file = v[1];
  file.ino = kFile;
  file.mode = S_IFREG | 0640;
  file.uid = 1001;
  file.gid = 1002;
  file.nlink = 1;
  file.size = 70000;
  file.stored_bytes = 65536 + 4464;
  file.atime = {1700000001, 123456789};
  file.mtime = {1700000002, 999999999};
  file.ctime = {1700000003, 1};
  file.block_gen = 10;
  file.file_key = SecretBytes::CopyOf(ByteSpan(Counting(0x40, 32)));
  InodeRecord& link = v[2];
  link.ino = kLink;
  link.mode = S_IFLNK | 0777;
  link.uid = link.gid = 1000;
  link.nlink = 1;
  link.symlink = "../target/file.txt";
  link.size = link.symlink.size();
  link.atime = link.mtime = link.ctime = {1700000004, 500};
  InodeRecord& dev = v[3];
  dev.ino = kDev;
  dev.mode = S_IFCHR | 0666;
  dev.nlink = 1;
  dev.rdev = makedev(1, 3);
  dev.atime = {0, 0};
  dev.mtime = {-86400, 5};  // before 1970: a two's-complement u64 on disk
  dev.ctime = {4102444800, 999};
  return v;
}

struct Entry {
  uint64_t parent;
  std::string name;
  uint64_t ino;
  uint32_t type;
};
const std::vector<Entry> kEntries = {{kRoot, "golden.txt", kFile, S_IFREG},
                                     {kRoot, "link", kLink, S_IFLNK},
                                     {kRoot, "null", kDev, S_IFCHR}};

struct Block {
  uint64_t ino, index;
  BlockRef ref;
};
const std::vector<Block> kBlocks = {{kFile, 0, {Id(0x80), 7, 65536, 65572}},
                                    {kFile, 1, {Id(0x90), 9, 4464, 4500}}};

constexpr char kXattrName[] = "user.golden";
const Bytes kXattrValue = {'v', 'a', 'l', 'u', 'e', 0x00, 0xff};
const ObjectId kUploadId = Id(0x90);
constexpr uint64_t kUploadSize = 4500;
const ObjectId kGarbageId = Id(0xa0);
const ObjectId kPlacementId = Id(0x80);
const Bytes kPlacement = Counting(0xc0, 24);  // opaque here; its own format: placement-v1.bin

// ---- helpers ----

Bytes Aad(std::string_view tag, ByteSpan key) {
  Bytes a(tag.begin(), tag.end());
  a.insert(a.end(), key.begin(), key.end());
  return a;
}

std::unique_ptr<cache::KvStore> OpenRaw(const std::string& dir) {
  auto kv = cache::KvStore::Open({.dir = dir, .tables = kTables});
  EXPECT_TRUE(kv.ok()) << kv.error().message;
  return kv.ok() ? std::move(*kv) : nullptr;
}

void WriteTree(MetaStore& store) {
  auto txn = store.Write();
  ASSERT_TRUE(txn.ok()) << txn.error().message;
  MetaTxn& t = **txn;
  for (const InodeRecord& rec : Inodes()) ASSERT_TRUE(t.PutInode(rec).ok());
  for (const Entry& e : kEntries) ASSERT_TRUE(t.AddEntry(e.parent, e.name, e.ino, e.type).ok());
  for (const Block& b : kBlocks) ASSERT_TRUE(t.PutBlock(b.ino, b.index, b.ref).ok());
  ASSERT_TRUE(t.PutXattr(kFile, kXattrName, kXattrValue).ok());
  ASSERT_TRUE(t.AddOrphan(kOrphan).ok());
  ASSERT_TRUE(t.AddUpload(kUploadId, kUploadSize).ok());
  ASSERT_TRUE(t.AddGarbage(kGarbageId).ok());
  ASSERT_TRUE(t.PutPlacement(kPlacementId, kPlacement).ok());
  ASSERT_TRUE(t.PutState("format_version", kMetaFormatVersion).ok());
  ASSERT_TRUE(t.PutState("next_ino", kNextIno).ok());
  ASSERT_TRUE(t.Commit().ok());
}

// Every entry of every table, opened with the metadata key: the golden file's text.
std::string Dump(cache::KvStore& kv) {
  const SecretBytes meta_key = MetaKey();
  std::string out = kHeader;
  auto txn = kv.BeginRead();
  EXPECT_TRUE(txn.ok());
  if (!txn.ok()) return out;
  for (size_t t = 0; t < kTables.size(); ++t) {
    const std::string& table = kTables[t];
    auto tag = kSealTags.find(table);
    util::Status s =
        (*txn)->Scan(static_cast<cache::TableId>(t), {}, [&](ByteSpan key, ByteSpan value) {
          out += table + " " + util::ToHex(key);
          if (tag == kSealTags.end()) {
            out += " plain=" + util::ToHex(value) + "\n";
            return true;
          }
          const size_t clear = table == "dirents" ? kDirentClearBytes : 0;
          if (clear > 0) out += " clear=" + util::ToHex(value.first(std::min(clear, value.size())));
          if (value.size() < clear) {
            ADD_FAILURE() << table << " " << util::ToHex(key) << ": value too short";
            out += "\n";
            return true;
          }
          auto plain = crypto::OpenRecord(meta_key, Aad(tag->second, key), value.subspan(clear));
          EXPECT_TRUE(plain.ok()) << table << " " << util::ToHex(key) << " does not open under AAD "
                                  << tag->second << "||key";
          if (plain.ok()) {
            // Random nonce, so only the length of the sealed part is fixed: plaintext + 28.
            EXPECT_EQ(value.size(), clear + plain->size() + crypto::kRecordOverhead)
                << table << " " << util::ToHex(key);
            out += " sealed=" + util::ToHex(plain->span());
          }
          out += "\n";
          return true;
        });
    EXPECT_TRUE(s.ok()) << table;
  }
  return out;
}

struct GoldenEntry {
  std::string table;
  Bytes key, plain, clear, sealed;
  bool is_sealed = false;
};

Bytes Hex(std::string_view hex) {
  auto b = util::FromHex(hex);
  EXPECT_TRUE(b.has_value()) << "not hex: " << hex;
  return b.value_or(Bytes{});
}

std::vector<GoldenEntry> ParseGolden(std::string_view text) {
  std::vector<GoldenEntry> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    GoldenEntry e;
    std::string key, field;
    fields >> e.table >> key;
    e.key = Hex(key);
    while (fields >> field) {
      const size_t eq = field.find('=');
      EXPECT_NE(eq, std::string::npos) << line;
      const std::string name = field.substr(0, eq);
      const Bytes value = Hex(field.substr(eq + 1));
      if (name == "plain") {
        e.plain = value;
      } else if (name == "clear") {
        e.clear = value;
      } else if (name == "sealed") {
        e.sealed = value;
        e.is_sealed = true;
      } else {
        ADD_FAILURE() << "unknown field in golden line: " << line;
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

void ExpectInode(MetaTxn& t, const InodeRecord& want) {
  auto got = t.GetInode(want.ino);
  ASSERT_TRUE(got.ok()) << "inode " << want.ino << ": " << got.error().message;
  SCOPED_TRACE("inode " + std::to_string(want.ino));
  EXPECT_EQ(got->ino, want.ino);
  EXPECT_EQ(got->mode, want.mode);
  EXPECT_EQ(got->uid, want.uid);
  EXPECT_EQ(got->gid, want.gid);
  EXPECT_EQ(got->nlink, want.nlink);
  EXPECT_EQ(got->rdev, want.rdev);
  EXPECT_EQ(got->size, want.size);
  EXPECT_EQ(got->stored_bytes, want.stored_bytes);
  EXPECT_TRUE(got->atime == want.atime);
  EXPECT_TRUE(got->mtime == want.mtime);
  EXPECT_TRUE(got->ctime == want.ctime);
  EXPECT_EQ(got->parent, want.parent);
  EXPECT_EQ(got->block_gen, want.block_gen);
  EXPECT_EQ(util::ToHex(got->file_key.span()), util::ToHex(want.file_key.span()));
  EXPECT_EQ(got->symlink, want.symlink);
}

// The documented home slot of a name: (first 8 bytes of its HMAC, big-endian) >> 2, plus 3.
uint64_t HomeSlot(std::string_view name) {
  auto mac = crypto::HmacSha256(NameKey(), util::AsBytes(name));
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | mac[i];
  return (v >> 2) + kFirstEntrySlot;
}

TEST(MetaGoldenTest, WritesFormatV1) {
  testutil::TempDir dir;
  {
    auto store = MetaStore::Open(dir.Sub("meta"), MetaKey(), NameKey());
    ASSERT_TRUE(store.ok()) << store.error().message;
    WriteTree(**store);
  }
  auto kv = OpenRaw(dir.Sub("meta"));
  ASSERT_NE(kv, nullptr);
  const std::string dump = Dump(*kv);
  if (Updating()) {
    ASSERT_TRUE(util::WriteFileAtomic(kGoldenPath, util::AsBytes(dump), 0644).ok());
  }
  auto golden = util::ReadFile(kGoldenPath, 1 << 20);
  ASSERT_TRUE(golden.ok()) << golden.error().message;
  EXPECT_EQ(util::AsStringView(*golden), dump)
      << "the local metadata format changed: bump kMetaFormatVersion and keep reading v1";
}

TEST(MetaGoldenTest, ReadsFormatV1) {
  auto golden = util::ReadFile(kGoldenPath, 1 << 20);
  ASSERT_TRUE(golden.ok()) << golden.error().message;
  const std::vector<GoldenEntry> entries = ParseGolden(util::AsStringView(*golden));
  ASSERT_FALSE(entries.empty());

  testutil::TempDir dir;
  {
    auto kv = OpenRaw(dir.Sub("meta"));
    ASSERT_NE(kv, nullptr);
    auto txn = kv->BeginWrite();
    ASSERT_TRUE(txn.ok());
    const SecretBytes meta_key = MetaKey();
    for (const GoldenEntry& e : entries) {
      auto table = std::find(kTables.begin(), kTables.end(), e.table);
      ASSERT_NE(table, kTables.end()) << "unknown table " << e.table;
      Bytes value = e.is_sealed ? e.clear : e.plain;
      if (e.is_sealed) {
        auto sealed = crypto::SealRecord(meta_key, Aad(kSealTags.at(e.table), e.key), e.sealed);
        ASSERT_TRUE(sealed.ok());
        value.insert(value.end(), sealed->begin(), sealed->end());
      }
      ASSERT_TRUE(
          (*txn)->Put(static_cast<cache::TableId>(table - kTables.begin()), e.key, value).ok());
    }
    ASSERT_TRUE((*txn)->Commit().ok());
  }

  auto store = MetaStore::Open(dir.Sub("meta"), MetaKey(), NameKey());
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto txn = (*store)->Read();
  ASSERT_TRUE(txn.ok());
  MetaTxn& t = **txn;

  for (const InodeRecord& rec : Inodes()) ExpectInode(t, rec);

  std::map<uint64_t, Entry> by_slot;
  for (const Entry& want : kEntries) {
    auto got = t.LookupEntry(want.parent, want.name);
    ASSERT_TRUE(got.ok()) << want.name << ": " << got.error().message;
    EXPECT_EQ(got->ino, want.ino);
    EXPECT_EQ(got->type, want.type);
    EXPECT_EQ(got->name, want.name);
    EXPECT_EQ(got->slot, HomeSlot(want.name)) << want.name;
    by_slot.emplace(got->slot, want);
  }
  EXPECT_EQ(t.LookupEntry(kRoot, "absent").code(), util::Errc::kNotFound);
  std::vector<DirentValue> scanned;
  ASSERT_TRUE(t.ScanEntries(kRoot, 0, [&](const DirentValue& e) {
                 scanned.push_back(e);
                 return true;
               }).ok());
  ASSERT_EQ(scanned.size(), by_slot.size());
  auto want = by_slot.begin();
  for (const DirentValue& e : scanned) {  // slot order
    EXPECT_EQ(e.slot, want->first);
    EXPECT_EQ(e.name, want->second.name);
    EXPECT_EQ(e.ino, want->second.ino);
    EXPECT_EQ(e.type, want->second.type);
    ++want;
  }

  for (const Block& b : kBlocks) {
    auto got = t.GetBlock(b.ino, b.index);
    ASSERT_TRUE(got.ok()) << "block " << b.index << ": " << got.error().message;
    EXPECT_EQ(got->id, b.ref.id);
    EXPECT_EQ(got->generation, b.ref.generation);
    EXPECT_EQ(got->length, b.ref.length);
    EXPECT_EQ(got->sealed_size, b.ref.sealed_size);
  }

  auto xattr = t.GetXattr(kFile, kXattrName);
  ASSERT_TRUE(xattr.ok()) << xattr.error().message;
  EXPECT_EQ(util::ToHex(*xattr), util::ToHex(kXattrValue));

  std::vector<uint64_t> orphans;
  ASSERT_TRUE(t.ScanOrphans([&](uint64_t ino) {
                 orphans.push_back(ino);
                 return true;
               }).ok());
  EXPECT_EQ(orphans, std::vector<uint64_t>{kOrphan});

  std::vector<std::pair<ObjectId, uint64_t>> uploads;
  ASSERT_TRUE(t.ScanUploads([&](const ObjectId& id, uint64_t size) {
                 uploads.emplace_back(id, size);
                 return true;
               }).ok());
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].first, kUploadId);
  EXPECT_EQ(uploads[0].second, kUploadSize);

  std::vector<ObjectId> garbage;
  ASSERT_TRUE(t.ScanGarbage([&](const ObjectId& id) {
                 garbage.push_back(id);
                 return true;
               }).ok());
  EXPECT_EQ(garbage, std::vector<ObjectId>{kGarbageId});

  auto placement = t.GetPlacement(kPlacementId);
  ASSERT_TRUE(placement.ok()) << placement.error().message;
  EXPECT_EQ(util::ToHex(*placement), util::ToHex(kPlacement));

  auto format = t.GetState("format_version");
  ASSERT_TRUE(format.ok());
  EXPECT_EQ(*format, 1u);
  auto next = t.GetState("next_ino");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, kNextIno);
}

}  // namespace
}  // namespace shardfs::core
