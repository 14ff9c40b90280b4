// Golden files for the block cache's index (docs/metadata.md, "Block cache index"): every entry
// of the index environment and every block file that a few fixed Puts leave, in
// tests/data/golden/cache-index-v<N>.txt. Today's format (2) in both directions: BlockCache must
// write exactly these entries, and must serve a cache built from the file alone. Format 1, which
// today's code still opens (and upgrades in place), is read only; its file is frozen. A failure
// means a format change: bump the version and keep reading the old ones rather than regenerate.
// To regenerate the current file deliberately, run with SHARDFS_UPDATE_GOLDEN=1.
#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fs/cache/block_cache.h"
#include "fs/cache/kv_store.h"
#include "fs/util/encoding.h"
#include "fs/util/files.h"
#include "tests/golden_util.h"
#include "tests/temp_dir.h"

namespace shardfs::cache {
namespace {

using golden::Counting;
using golden::Updating;
constexpr auto Id = golden::CountingId;

using util::Bytes;
using util::ByteSpan;
using util::ObjectId;

const std::string kGoldenDir = std::string(SHARDFS_TEST_DATA_DIR) + "/golden";
const std::string kGoldenV1 = kGoldenDir + "/cache-index-v1.txt";
const std::string kGoldenV2 = kGoldenDir + "/cache-index-v2.txt";

// The index tables as block_cache_open.cc opens them: a TableId is the position in this list.
const std::vector<std::string> kTables = {"blocks", "meta", "small"};
constexpr uint64_t kInlineMax = 64;

constexpr char kHeader[] =
    "# The block cache, index format 2 (docs/metadata.md): every entry of <cache>/index and\n"
    "# every block file that the fixed Puts of tests/cache/cache_index_golden_test.cc leave, one\n"
    "# per line: <table> <key hex> <value hex>, or file <path> <content hex>. blocks: id ->\n"
    "# u64le size | u64le LRU seq | u8 flags (1 dirty, 2 inline); meta: \"format\" -> u32le;\n"
    "# small: id -> an inline block's bytes. Do not edit: a change here is a format change.\n";

// The fixed Puts, in order (so LRU seqs 1..4): two blocks in files, two inline in the index.
struct FixedBlock {
  ObjectId id;
  Bytes data;
  bool dirty;
};
std::vector<FixedBlock> FixedBlocks() {
  return {{Id(0x10), Counting(0x00, 100), false},
          {Id(0x20), Counting(0x80, 200), true},
          {Id(0x30), Counting(0x30, 40), true},
          {Id(0x40), Counting(0x40, 50), false}};
}

std::unique_ptr<KvStore> OpenIndex(const std::string& cache_dir) {
  auto kv = KvStore::Open({.dir = cache_dir + "/index", .tables = kTables});
  EXPECT_TRUE(kv.ok()) << kv.error().message;
  return kv.ok() ? std::move(*kv) : nullptr;
}

std::vector<std::string> SortedNames(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* de = ::readdir(d)) {
    std::string name = de->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// The index and the block files of a closed cache: the golden file's text.
std::string Dump(const std::string& cache_dir) {
  std::string out = kHeader;
  {
    auto kv = OpenIndex(cache_dir);
    if (kv == nullptr) return out;
    auto txn = kv->BeginRead();
    EXPECT_TRUE(txn.ok());
    if (!txn.ok()) return out;
    for (size_t t = 0; t < kTables.size(); ++t) {
      util::Status s = (*txn)->Scan(static_cast<TableId>(t), {}, [&](ByteSpan key, ByteSpan value) {
        out += kTables[t] + " " + util::ToHex(key) + " " + util::ToHex(value) + "\n";
        return true;
      });
      EXPECT_TRUE(s.ok()) << kTables[t];
    }
  }
  for (const std::string& sub : SortedNames(cache_dir + "/blocks")) {
    for (const std::string& name : SortedNames(cache_dir + "/blocks/" + sub)) {
      const std::string path = "blocks/" + sub + "/" + name;
      auto data = util::ReadFile(cache_dir + "/" + path, 1 << 20);
      EXPECT_TRUE(data.ok()) << path;
      out += "file " + path + " " + (data.ok() ? util::ToHex(*data) : "?") + "\n";
    }
  }
  return out;
}

struct Golden {
  struct Row {
    std::string table;
    Bytes key, value;
  };
  std::vector<Row> rows;
  std::map<std::string, Bytes> files;  // path under the cache dir -> content
};

Bytes Hex(std::string_view hex) {
  auto b = util::FromHex(hex);
  EXPECT_TRUE(b.has_value()) << "not hex: " << hex;
  return b.value_or(Bytes{});
}

Golden ReadGolden(const std::string& path) {
  Golden g;
  auto text = util::ReadFile(path, 1 << 20);
  EXPECT_TRUE(text.ok()) << path << ": " << text.error().message;
  if (!text.ok()) return g;
  std::istringstream in{std::string(util::AsStringView(*text))};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string what, key, value;
    fields >> what >> key >> value;
    if (what == "file") {
      g.files[key] = Hex(value);
    } else {
      g.rows.push_back({what, Hex(key), Hex(value)});
    }
  }
  return g;
}

// Builds a cache directory from a golden file alone: the index through KvStore, the files.
void BuildFromGolden(const Golden& g, const std::string& cache_dir) {
  {
    auto kv = OpenIndex(cache_dir);
    ASSERT_NE(kv, nullptr);
    auto txn = kv->BeginWrite();
    ASSERT_TRUE(txn.ok());
    for (const Golden::Row& r : g.rows) {
      auto t = std::find(kTables.begin(), kTables.end(), r.table);
      ASSERT_NE(t, kTables.end()) << "unknown table " << r.table;
      ASSERT_TRUE((*txn)->Put(static_cast<TableId>(t - kTables.begin()), r.key, r.value).ok());
    }
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  for (const auto& [path, data] : g.files) {
    const std::string full = cache_dir + "/" + path;
    ASSERT_TRUE(util::MakeDirs(full.substr(0, full.rfind('/')), 0700).ok());
    ASSERT_TRUE(util::WriteFileAtomic(full, data, 0600).ok()) << full;
  }
}

// What the golden index says about each block, decoded by the documented layout.
struct GoldenBlock {
  uint64_t size = 0, seq = 0;
  bool dirty = false;
  Bytes data;  // from its file, or from the "small" table when inline
};
std::map<ObjectId, GoldenBlock> DecodeBlocks(const Golden& g) {
  std::map<ObjectId, Bytes> small;
  for (const Golden::Row& r : g.rows) {
    if (r.table != "small") continue;
    ObjectId id;
    std::copy(r.key.begin(), r.key.end(), id.bytes.begin());
    small[id] = r.value;
  }
  std::map<ObjectId, GoldenBlock> out;
  for (const Golden::Row& r : g.rows) {
    if (r.table != "blocks") continue;
    EXPECT_EQ(r.key.size(), 16u);
    EXPECT_EQ(r.value.size(), 17u);
    if (r.key.size() != 16 || r.value.size() != 17) continue;
    ObjectId id;
    std::copy(r.key.begin(), r.key.end(), id.bytes.begin());
    GoldenBlock b;
    b.size = util::LoadU64Le(r.value.data());
    b.seq = util::LoadU64Le(r.value.data() + 8);
    b.dirty = (r.value[16] & 1) != 0;
    const std::string hex = id.Hex();
    b.data =
        (r.value[16] & 2) != 0 ? small[id] : g.files.at("blocks/" + hex.substr(0, 2) + "/" + hex);
    EXPECT_EQ(b.data.size(), b.size) << hex;
    out[id] = b;
  }
  return out;
}

uint32_t FormatOf(const std::string& cache_dir) {
  auto kv = OpenIndex(cache_dir);
  if (kv == nullptr) return 0;
  auto txn = kv->BeginRead();
  if (!txn.ok()) return 0;
  auto v = (*txn)->Get(1, util::AsBytes("format"));
  return v.ok() && v->size() == 4 ? util::LoadU32Le(v->data()) : 0;
}

// Opens a cache built from the golden file and checks what it serves against both the file and
// the fixed blocks (the first n of FixedBlocks(): a format-1 cache had fewer).
void ExpectReads(const std::string& golden_path, size_t n_fixed) {
  const Golden g = ReadGolden(golden_path);
  const std::map<ObjectId, GoldenBlock> blocks = DecodeBlocks(g);
  std::vector<FixedBlock> fixed = FixedBlocks();
  fixed.resize(n_fixed);
  ASSERT_EQ(blocks.size(), fixed.size());
  uint64_t used = 0, dirty_bytes = 0, dirty_blocks = 0;
  std::set<ObjectId> dirty;
  for (const FixedBlock& f : fixed) {
    ASSERT_TRUE(blocks.contains(f.id)) << f.id.Hex();
    EXPECT_EQ(util::ToHex(blocks.at(f.id).data), util::ToHex(f.data)) << f.id.Hex();
    EXPECT_EQ(blocks.at(f.id).dirty, f.dirty) << f.id.Hex();
    used += f.data.size();
    if (f.dirty) {
      dirty_bytes += f.data.size();
      ++dirty_blocks;
      dirty.insert(f.id);
    }
  }

  testutil::TempDir dir;
  BuildFromGolden(g, dir.path());
  {
    auto cache = BlockCache::Open(
        {.dir = dir.path(), .budget_bytes = 1 << 20, .inline_max_bytes = kInlineMax});
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    BlockCacheStats st = (*cache)->Stats();
    EXPECT_EQ(st.blocks, fixed.size());
    EXPECT_EQ(st.used_bytes, used);
    EXPECT_EQ(st.dirty_blocks, dirty_blocks);
    EXPECT_EQ(st.dirty_bytes, dirty_bytes);
    auto listed = (*cache)->DirtyBlocks();
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(std::set<ObjectId>(listed->begin(), listed->end()), dirty);
    for (const FixedBlock& f : fixed) {
      auto got = (*cache)->Get(f.id);
      ASSERT_TRUE(got.ok()) << f.id.Hex() << ": " << got.error().message;
      EXPECT_EQ(util::ToHex(*got), util::ToHex(f.data)) << f.id.Hex();
    }
  }
  EXPECT_EQ(FormatOf(dir.path()), 2u) << "an older index is upgraded in place at Open";

  // LRU order and dirty pinning as stored: a budget one block short evicts the clean block with
  // the smallest seq at Open, and keeps every dirty block.
  testutil::TempDir small;
  BuildFromGolden(g, small.path());
  ObjectId oldest_clean;
  uint64_t oldest_seq = UINT64_MAX;
  for (const auto& [id, b] : blocks) {
    if (!b.dirty && b.seq < oldest_seq) {
      oldest_seq = b.seq;
      oldest_clean = id;
    }
  }
  ASSERT_EQ(oldest_clean, fixed[0].id);  // the first Put
  auto cache = BlockCache::Open({.dir = small.path(),
                                 .budget_bytes = used - fixed[0].data.size(),
                                 .inline_max_bytes = kInlineMax});
  ASSERT_TRUE(cache.ok()) << cache.error().message;
  EXPECT_FALSE((*cache)->Contains(oldest_clean));
  for (size_t i = 1; i < fixed.size(); ++i) {
    auto got = (*cache)->Get(fixed[i].id);
    ASSERT_TRUE(got.ok()) << fixed[i].id.Hex() << ": " << got.error().message;
    EXPECT_EQ(util::ToHex(*got), util::ToHex(fixed[i].data));
  }
  EXPECT_EQ((*cache)->Stats().dirty_blocks, dirty_blocks);
  EXPECT_EQ((*cache)->Stats().dirty_bytes, dirty_bytes);
}

TEST(CacheIndexGoldenTest, WritesFormatV2) {
  testutil::TempDir dir;
  {
    auto cache = BlockCache::Open(
        {.dir = dir.path(), .budget_bytes = 1 << 20, .inline_max_bytes = kInlineMax});
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    for (const FixedBlock& b : FixedBlocks()) {
      ASSERT_TRUE((*cache)->Put(b.id, b.data, b.dirty).ok()) << b.id.Hex();
    }
  }
  const std::string dump = Dump(dir.path());
  if (Updating()) {
    ASSERT_TRUE(util::WriteFileAtomic(kGoldenV2, util::AsBytes(dump), 0644).ok());
  }
  auto golden = util::ReadFile(kGoldenV2, 1 << 20);
  ASSERT_TRUE(golden.ok()) << golden.error().message;
  EXPECT_EQ(util::AsStringView(*golden), dump)
      << "the block cache index format changed: bump its version and keep reading the old one";
}

TEST(CacheIndexGoldenTest, ReadsFormatV2) { ExpectReads(kGoldenV2, 4); }

// Format 1: no inline blocks, no "small" table, format -> 1. Frozen: never regenerated.
TEST(CacheIndexGoldenTest, ReadsFormatV1) { ExpectReads(kGoldenV1, 2); }

}  // namespace
}  // namespace shardfs::cache
