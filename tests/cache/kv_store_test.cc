#include "fs/cache/kv_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "fs/cache/testing/mem_kv_store.h"
#include "fs/util/encoding.h"
#include "tests/temp_dir.h"

namespace shardfs::cache {
namespace {

using util::AsBytes;
using util::Bytes;
using util::Errc;

constexpr TableId kA = 0;
constexpr TableId kB = 1;

std::string Str(const Bytes& b) { return std::string(b.begin(), b.end()); }

// The two implementations, each opening a store with tables "a" and "b" that holds at most
// `capacity` bytes (LMDB: its map size), the same one again on a reopen.
struct LmdbKv {
  std::unique_ptr<KvStore> Open(uint64_t capacity) {
    auto store = KvStore::Open({.dir = dir.Sub("kv"), .tables = {"a", "b"}, .map_size = capacity});
    EXPECT_TRUE(store.ok()) << store.error().message;
    return store.ok() ? std::move(store).value() : nullptr;
  }
  testutil::TempDir dir{"kv"};
};
struct MemKv {
  std::unique_ptr<KvStore> Open(uint64_t capacity) {
    return testing::MemKvStore::Open(disk, 2, capacity);
  }
  std::shared_ptr<testing::MemKvDisk> disk = std::make_shared<testing::MemKvDisk>();
};

// The KvStore contract, run against LMDB and the in-memory fake.
template <typename Impl>
class KvStoreContractTest : public ::testing::Test {
 protected:
  std::unique_ptr<KvStore> OpenStore(uint64_t capacity = uint64_t{1} << 30) {
    return impl_.Open(capacity);
  }

  void PutAll(KvStore& store, TableId t,
              const std::vector<std::pair<std::string, std::string>>& kv) {
    auto txn = store.BeginWrite();
    ASSERT_TRUE(txn.ok());
    for (const auto& [k, v] : kv) ASSERT_TRUE((*txn)->Put(t, AsBytes(k), AsBytes(v)).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }

  std::vector<std::string> ScanKeys(KvStore& store, TableId t, const std::string& start,
                                    size_t limit = 100) {
    std::vector<std::string> keys;
    auto txn = store.BeginRead();
    EXPECT_TRUE(txn.ok());
    auto s = (*txn)->Scan(t, AsBytes(start), [&](util::ByteSpan k, util::ByteSpan) {
      keys.emplace_back(util::AsStringView(k));
      return keys.size() < limit;
    });
    EXPECT_TRUE(s.ok());
    return keys;
  }

  Impl impl_;
};
using Implementations = ::testing::Types<LmdbKv, MemKv>;
TYPED_TEST_SUITE(KvStoreContractTest, Implementations);

// What only LMDB does: options it checks, the map of its file.
class KvStoreTest : public KvStoreContractTest<LmdbKv> {};

TYPED_TEST(KvStoreContractTest, PutGetDelete) {
  auto store = this->OpenStore();
  ASSERT_TRUE(store);
  this->PutAll(*store, kA, {{"k1", "v1"}, {"k2", "v2"}});

  auto read = store->BeginRead();
  ASSERT_TRUE(read.ok());
  auto v = (*read)->Get(kA, AsBytes("k1"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(Str(*v), "v1");
  read->reset();

  auto txn = store->BeginWrite();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE((*txn)->Delete(kA, AsBytes("k1")).ok());
  ASSERT_TRUE((*txn)->Delete(kA, AsBytes("never-there")).ok());  // not an error
  ASSERT_TRUE((*txn)->Put(kA, AsBytes("k2"), AsBytes("v2'")).ok());
  ASSERT_TRUE((*txn)->Commit().ok());

  read = store->BeginRead();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ((*read)->Get(kA, AsBytes("k1")).code(), Errc::kNotFound);
  EXPECT_EQ(Str(*(*read)->Get(kA, AsBytes("k2"))), "v2'");
  EXPECT_GT(store->FileBytes(), 0u);
  EXPECT_TRUE(store->Sync().ok());
}

// Kilobytes of the process's resident memory in mappings of FILE (from /proc/self/smaps).
uint64_t MappedRssKib(const std::string& file) {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool inside = false;
  uint64_t kib = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
        line.find('-') != std::string::npos && line.find(' ') > line.find('-')) {
      inside = line.size() >= file.size() &&
               line.compare(line.size() - file.size(), file.size(), file) == 0;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      kib += std::stoull(line.substr(4));
    }
  }
  return kib;
}

TEST_F(KvStoreTest, ReleasingMappedPagesKeepsEveryValue) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  std::vector<std::pair<std::string, std::string>> kv;
  for (int i = 0; i < 2048; ++i)
    kv.emplace_back("k" + std::to_string(i), std::string(4080, 'a' + i % 26));
  PutAll(*store, kA, kv);
  const std::string file = impl_.dir.Sub("kv") + "/data.mdb";
  auto read_all = [&] {
    auto txn = store->BeginRead();
    ASSERT_TRUE(txn.ok());
    for (const auto& [k, v] : kv) {
      auto got = (*txn)->Get(kA, AsBytes(k));
      ASSERT_TRUE(got.ok());
      ASSERT_EQ(Str(*got), v);
    }
  };
  read_all();
  EXPECT_GE(MappedRssKib(file), 8u * 1024) << "2048 values of 4 KiB were read through the map";
  store->ReleaseMappedPages();
  EXPECT_LT(MappedRssKib(file), 512u);
  read_all();  // mapped again from the page cache
  EXPECT_GE(MappedRssKib(file), 8u * 1024);
}

TYPED_TEST(KvStoreContractTest, MissingKeyIsNotFound) {
  auto store = this->OpenStore();
  ASSERT_TRUE(store);
  auto read = store->BeginRead();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ((*read)->Get(kA, AsBytes("nope")).code(), Errc::kNotFound);
  read->reset();
  auto txn = store->BeginWrite();
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ((*txn)->Get(kA, AsBytes("nope")).code(), Errc::kNotFound);
  // A miss does not spoil the transaction.
  EXPECT_TRUE((*txn)->Put(kA, AsBytes("yes"), AsBytes("1")).ok());
  EXPECT_TRUE((*txn)->Commit().ok());
}

TYPED_TEST(KvStoreContractTest, ScanIsInKeyOrderFromStart) {
  auto store = this->OpenStore();
  ASSERT_TRUE(store);
  this->PutAll(*store, kA, {{"d", "4"}, {"b", "2"}, {"a", "1"}, {"c", "3"}, {"bb", "22"}});
  EXPECT_EQ(this->ScanKeys(*store, kA, ""), (std::vector<std::string>{"a", "b", "bb", "c", "d"}));
  EXPECT_EQ(this->ScanKeys(*store, kA, "b"), (std::vector<std::string>{"b", "bb", "c", "d"}));
  EXPECT_EQ(this->ScanKeys(*store, kA, "ba"), (std::vector<std::string>{"bb", "c", "d"}));
  EXPECT_EQ(this->ScanKeys(*store, kA, "bc"), (std::vector<std::string>{"c", "d"}));
  EXPECT_TRUE(this->ScanKeys(*store, kA, "e").empty());
  EXPECT_EQ(this->ScanKeys(*store, kA, "", 2),
            (std::vector<std::string>{"a", "b"}));  // fn stops it
  EXPECT_TRUE(this->ScanKeys(*store, kB, "").empty());

  // Binary keys sort as unsigned bytes: big-endian numbers scan in numeric order.
  auto txn = store->BeginWrite();
  ASSERT_TRUE(txn.ok());
  for (uint8_t b : {0xff, 0x00, 0x80, 0x7f}) {
    uint8_t key[2] = {b, 1};
    ASSERT_TRUE((*txn)->Put(kB, util::ByteSpan(key, 2), AsBytes("x")).ok());
  }
  std::vector<uint8_t> first;
  ASSERT_TRUE((*txn)
                  ->Scan(kB, {},
                         [&](util::ByteSpan k, util::ByteSpan) {
                           first.push_back(k[0]);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(first, (std::vector<uint8_t>{0x00, 0x7f, 0x80, 0xff}));  // own writes are visible
}

TYPED_TEST(KvStoreContractTest, WriteTxnDestroyedWithoutCommitIsAborted) {
  auto store = this->OpenStore();
  ASSERT_TRUE(store);
  this->PutAll(*store, kA, {{"kept", "1"}});
  {
    auto txn = store->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->Put(kA, AsBytes("lost"), AsBytes("2")).ok());
    ASSERT_TRUE((*txn)->Delete(kA, AsBytes("kept")).ok());
  }
  EXPECT_EQ(this->ScanKeys(*store, kA, ""), (std::vector<std::string>{"kept"}));
  // And the writer slot was released.
  auto txn = store->BeginWrite();
  ASSERT_TRUE(txn.ok());
  EXPECT_TRUE((*txn)->Commit().ok());
  EXPECT_EQ((*txn)->Commit().code(), Errc::kInvalid);  // ended
}

TYPED_TEST(KvStoreContractTest, TablesAreSeparate) {
  auto store = this->OpenStore();
  ASSERT_TRUE(store);
  this->PutAll(*store, kA, {{"k", "in a"}});
  this->PutAll(*store, kB, {{"k", "in b"}, {"only-b", "x"}});
  auto read = store->BeginRead();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(Str(*(*read)->Get(kA, AsBytes("k"))), "in a");
  EXPECT_EQ(Str(*(*read)->Get(kB, AsBytes("k"))), "in b");
  EXPECT_EQ((*read)->Get(kA, AsBytes("only-b")).code(), Errc::kNotFound);
  EXPECT_EQ((*read)->Get(2, AsBytes("k")).code(), Errc::kInvalid);  // no third table
}

TYPED_TEST(KvStoreContractTest, ReopenKeepsCommittedData) {
  {
    auto store = this->OpenStore();
    ASSERT_TRUE(store);
    this->PutAll(*store, kB, {{"k", "v"}});
  }
  auto store = this->OpenStore();
  ASSERT_TRUE(store);
  EXPECT_EQ(this->ScanKeys(*store, kB, ""), (std::vector<std::string>{"k"}));
}

TEST_F(KvStoreTest, BadOptionsAreInvalid) {
  EXPECT_EQ(KvStore::Open({.dir = "", .tables = {"a"}}).code(), Errc::kInvalid);
  EXPECT_EQ(KvStore::Open({.dir = impl_.dir.Sub("x"), .tables = {"a", "a"}}).code(),
            Errc::kInvalid);
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto txn = store->BeginWrite();
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ((*txn)->Put(kA, {}, AsBytes("v")).code(), Errc::kInvalid);  // empty key
}

TYPED_TEST(KvStoreContractTest, EmptyKeyIsInvalid) {
  auto store = this->OpenStore();
  ASSERT_TRUE(store);
  auto txn = store->BeginWrite();
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ((*txn)->Put(kA, {}, AsBytes("v")).code(), Errc::kInvalid);
}

TYPED_TEST(KvStoreContractTest, FullMapIsNoSpaceAndStoreStaysUsable) {
  auto store = this->OpenStore(1 << 20);  // 1 MiB of map
  ASSERT_TRUE(store);
  this->PutAll(*store, kA, {{"before", "1"}});
  {
    auto txn = store->BeginWrite();
    ASSERT_TRUE(txn.ok());
    Bytes big(4 << 20, 0x5a);
    auto s = (*txn)->Put(kA, AsBytes("big"), big);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Errc::kNoSpace) << s.error().message;
    EXPECT_NE(s.error().message.find("map_size"), std::string::npos) << s.error().message;
    // The transaction was aborted with it.
    EXPECT_EQ((*txn)->Put(kA, AsBytes("after"), AsBytes("2")).code(), Errc::kInvalid);
    EXPECT_EQ((*txn)->Commit().code(), Errc::kInvalid);
  }
  this->PutAll(*store, kA, {{"after", "2"}});
  EXPECT_EQ(this->ScanKeys(*store, kA, ""), (std::vector<std::string>{"after", "before"}));
}

TYPED_TEST(KvStoreContractTest, SecondBeginWriteOnSameThreadFailsInsteadOfDeadlocking) {
  auto store = this->OpenStore();
  ASSERT_TRUE(store);
  auto txn = store->BeginWrite();
  ASSERT_TRUE(txn.ok());
  auto again = store->BeginWrite();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.code(), Errc::kInternal);
  // Read transactions are not tied to the thread (MDB_NOTLS): several at once are fine.
  auto r1 = store->BeginRead();
  auto r2 = store->BeginRead();
  EXPECT_TRUE(r1.ok());
  EXPECT_TRUE(r2.ok());
}

TYPED_TEST(KvStoreContractTest, SecondWriterWaitsForTheFirst) {
  auto store = this->OpenStore();
  ASSERT_TRUE(store);
  auto first = store->BeginWrite();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->Put(kA, AsBytes("n"), AsBytes("1")).ok());

  std::atomic<bool> began{false};
  auto second = std::async(std::launch::async, [&]() -> std::string {
    auto txn = store->BeginWrite();
    began = true;
    if (!txn.ok()) return "error";
    auto v = (*txn)->Get(kA, AsBytes("n"));
    std::string seen = v.ok() ? Str(*v) : "missing";
    if (!(*txn)->Put(kA, AsBytes("n"), AsBytes("2")).ok() || !(*txn)->Commit().ok()) return "err";
    return seen;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(began.load());
  ASSERT_TRUE((*first)->Commit().ok());
  ASSERT_EQ(second.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(second.get(), "1");  // it began after the first committed
  EXPECT_EQ(this->ScanKeys(*store, kA, "n").size(), 1u);
}

// A writer keeps keys x and y equal and increasing; readers must always see a consistent,
// never-decreasing snapshot.
TYPED_TEST(KvStoreContractTest, ConcurrentReadersSeeConsistentSnapshots) {
  auto store = this->OpenStore();
  ASSERT_TRUE(store);
  constexpr uint64_t kWrites = 2000;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<uint64_t> reads{0};

  auto load = [](const util::Result<Bytes>& r) -> int64_t {
    return r.ok() && r->size() == 8 ? static_cast<int64_t>(util::LoadU64Le(r->data())) : -1;
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (!stop.load()) {
        auto txn = store->BeginRead();
        if (!txn.ok()) {
          ++failures;
          continue;
        }
        auto x = (*txn)->Get(kA, AsBytes("x"));
        std::this_thread::yield();  // give the writer a chance to commit in between
        auto y = (*txn)->Get(kA, AsBytes("y"));
        if (!x.ok() && !y.ok()) continue;  // before the first commit
        int64_t xv = load(x), yv = load(y);
        if (xv != yv || xv < last) ++failures;
        last = xv;
        ++reads;
      }
    });
  }
  auto write = [&](uint64_t i) {
    auto txn = store->BeginWrite();
    if (!txn.ok()) return false;
    Bytes v;
    util::AppendU64Le(v, i);
    return (*txn)->Put(kA, AsBytes("x"), v).ok() && (*txn)->Put(kA, AsBytes("y"), v).ok() &&
           (*txn)->Commit().ok();
  };
  // At least kWrites commits, and on until the readers have read a while (a fast store may do
  // them all before a reader thread first runs).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (uint64_t i = 1;
       i <= kWrites || (reads.load() < 200 && std::chrono::steady_clock::now() < deadline); ++i) {
    if (!write(i)) {
      ADD_FAILURE() << "write " << i << " failed";
      break;  // still stop and join the readers below
    }
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 0u);
}

}  // namespace
}  // namespace shardfs::cache
