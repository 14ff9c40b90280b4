// cache_churn: a block cache at full budget doing random gets and puts with LRU eviction, for
// two layouts of the block bytes:
//   files  the BlockCache (one file per block, LMDB index)
//   lmdb   the bytes as LMDB values in one KvStore table, evicted in the same LRU order
// Reports MB/s per window. PLATFORM.md measured LMDB's large values collapsing under scattered
// frees (LRU eviction) with a growing live set; this measures both layouts at a fixed budget,
// for as long as asked (hours, to be conclusive). The fill rate mostly measures the first touch
// of fresh memory on a VM and depends on which layout runs first: compare the windows.
//
// Usage: cache_churn [--seconds 60] [--budget 1G] [--sizes 256K,4M] [--get-ratio 0.5]
//                    [--window 10] [--layout both|files|lmdb] [--dir ./cache_churn.tmp]
//                    [--seed 1] [--keep]
// --seconds is the churn time per layout, after an untimed fill to the budget.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "fs/cache/block_cache.h"
#include "fs/cache/kv_store.h"
#include "fs/util/files.h"
#include "fs/util/ids.h"
#include "fs/util/log.h"
#include "fs/util/units.h"

namespace shardfs::bench {
namespace {

using Clock = std::chrono::steady_clock;
using util::ObjectId;

struct Flags {
  double seconds = 60;
  uint64_t budget = uint64_t{1} << 30;
  std::vector<uint64_t> sizes = {256 << 10, 4 << 20};
  double get_ratio = 0.5;
  double window = 10;
  std::string layout = "both";
  std::string dir = "./cache_churn.tmp";
  uint64_t seed = 1;
  bool keep = false;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "cache_churn: %s\nusage: cache_churn [--seconds 60] [--budget 1G] [--sizes "
               "256K,4M] [--get-ratio 0.5] [--window 10] [--layout both|files|lmdb] [--dir D] "
               "[--seed 1] [--keep]\n",
               why.c_str());
  std::exit(2);
}

uint64_t Size(const std::string& text) {
  auto v = util::ParseSize(text);
  if (!v.ok()) Usage("bad size '" + text + "'");
  return *v;
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--keep") {
      f.keep = true;
      continue;
    }
    std::string value;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      Usage(arg + " needs a value");
    }
    if (arg == "--seconds") {
      f.seconds = std::atof(value.c_str());
    } else if (arg == "--budget") {
      f.budget = Size(value);
    } else if (arg == "--sizes") {
      f.sizes.clear();
      for (size_t pos = 0; pos <= value.size();) {
        size_t comma = value.find(',', pos);
        if (comma == std::string::npos) comma = value.size();
        f.sizes.push_back(Size(value.substr(pos, comma - pos)));
        pos = comma + 1;
      }
    } else if (arg == "--get-ratio") {
      f.get_ratio = std::atof(value.c_str());
    } else if (arg == "--window") {
      f.window = std::atof(value.c_str());
    } else if (arg == "--layout") {
      f.layout = value;
    } else if (arg == "--dir") {
      f.dir = value;
    } else if (arg == "--seed") {
      f.seed = std::strtoull(value.c_str(), nullptr, 10);
    } else {
      Usage("unknown flag " + arg);
    }
  }
  if (f.seconds <= 0 || f.window <= 0 || f.sizes.empty()) Usage("bad flags");
  if (f.layout != "both" && f.layout != "files" && f.layout != "lmdb") Usage("bad --layout");
  for (uint64_t s : f.sizes)
    if (s == 0 || s > f.budget) Usage("block sizes must be > 0 and fit in the budget");
  return f;
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// The LRU policy both layouts follow, and the set of live ids the workload reads from.
class LruModel {
 public:
  explicit LruModel(uint64_t budget) : budget_(budget) {}

  // Makes room for a new block (returning the ids evicted for it) and records it.
  std::vector<ObjectId> Insert(const ObjectId& id, uint64_t size) {
    std::vector<ObjectId> victims;
    while (used_ + size > budget_ && !lru_.empty()) {
      ObjectId v = lru_.begin()->second;
      victims.push_back(v);
      Erase(v);
    }
    lru_.emplace(++seq_, id);
    index_[id] = {seq_, size, live_.size()};
    live_.push_back(id);
    used_ += size;
    return victims;
  }
  void Touch(const ObjectId& id) {
    auto& e = index_.at(id);
    lru_.erase(e.seq);
    e.seq = ++seq_;
    lru_.emplace(e.seq, id);
  }
  const ObjectId& Sample(std::mt19937_64& rng) const { return live_[rng() % live_.size()]; }
  bool empty() const { return live_.empty(); }
  uint64_t used() const { return used_; }

 private:
  struct Entry {
    uint64_t seq, size;
    size_t pos;  // in live_
  };
  void Erase(const ObjectId& id) {
    Entry e = index_.at(id);
    lru_.erase(e.seq);
    used_ -= e.size;
    live_[e.pos] = live_.back();
    index_[live_[e.pos]].pos = e.pos;
    live_.pop_back();
    index_.erase(id);
  }

  const uint64_t budget_;
  uint64_t used_ = 0, seq_ = 0;
  std::map<uint64_t, ObjectId> lru_;
  std::unordered_map<ObjectId, Entry> index_;
  std::vector<ObjectId> live_;
};

class Layout {
 public:
  virtual ~Layout() = default;
  virtual util::Status Put(const ObjectId& id, util::ByteSpan data,
                           const std::vector<ObjectId>& victims) = 0;
  virtual util::Result<util::Bytes> Get(const ObjectId& id) = 0;
  virtual uint64_t DiskBytes() = 0;
};

class FilesLayout final : public Layout {
 public:
  static std::unique_ptr<Layout> Open(const std::string& dir, uint64_t budget) {
    auto cache = cache::BlockCache::Open({.dir = dir, .budget_bytes = budget});
    if (!cache.ok()) Usage("cannot open the block cache: " + cache.error().message);
    return std::unique_ptr<Layout>(new FilesLayout(dir, std::move(cache).value()));
  }
  // The BlockCache evicts by itself, in the same LRU order as the model.
  util::Status Put(const ObjectId& id, util::ByteSpan data, const std::vector<ObjectId>&) override {
    return cache_->Put(id, data, /*dirty=*/false);
  }
  util::Result<util::Bytes> Get(const ObjectId& id) override { return cache_->Get(id); }
  uint64_t DiskBytes() override {
    return cache_->Stats().used_bytes + FileSize(dir_ + "/index/data.mdb");
  }

 private:
  FilesLayout(std::string dir, std::unique_ptr<cache::BlockCache> cache)
      : dir_(std::move(dir)), cache_(std::move(cache)) {}
  std::string dir_;
  std::unique_ptr<cache::BlockCache> cache_;
};

class LmdbLayout final : public Layout {
 public:
  static std::unique_ptr<Layout> Open(const std::string& dir) {
    auto kv = cache::KvStore::Open({.dir = dir, .tables = {"blocks"}});
    if (!kv.ok()) Usage("cannot open the LMDB store: " + kv.error().message);
    return std::unique_ptr<Layout>(new LmdbLayout(std::move(kv).value()));
  }
  // One transaction per put, deleting the LRU victims first: scattered frees, as eviction makes.
  util::Status Put(const ObjectId& id, util::ByteSpan data,
                   const std::vector<ObjectId>& victims) override {
    SHARDFS_ASSIGN_OR_RETURN(auto txn, kv_->BeginWrite());
    for (const ObjectId& v : victims) SHARDFS_TRY(txn->Delete(0, Key(v)));
    SHARDFS_TRY(txn->Put(0, Key(id), data));
    return txn->Commit();
  }
  util::Result<util::Bytes> Get(const ObjectId& id) override {
    SHARDFS_ASSIGN_OR_RETURN(auto txn, kv_->BeginRead());
    return txn->Get(0, Key(id));
  }
  uint64_t DiskBytes() override { return kv_->FileBytes(); }

 private:
  explicit LmdbLayout(std::unique_ptr<cache::KvStore> kv) : kv_(std::move(kv)) {}
  static util::ByteSpan Key(const ObjectId& id) { return {id.bytes.data(), id.bytes.size()}; }
  std::unique_ptr<cache::KvStore> kv_;
};

struct Window {
  double seconds = 0;
  uint64_t put_bytes = 0, get_bytes = 0, ops = 0, misses = 0;
  double max_get_ms = 0, max_put_ms = 0;
  uint64_t disk_bytes = 0;
};

struct Run {
  std::string layout;
  double fill_mbps = 0;
  std::vector<Window> windows;
};

double Mbps(uint64_t bytes, double seconds) { return bytes / 1e6 / seconds; }

class Workload {
 public:
  Workload(const Flags& flags, Layout& layout)
      : flags_(flags), layout_(layout), model_(flags.budget), rng_(flags.seed) {
    uint64_t biggest = 0;
    for (uint64_t s : flags.sizes) biggest = std::max(biggest, s);
    data_.resize(biggest);
    std::mt19937_64 fill(flags.seed ^ 0x5eed);
    for (auto& b : data_) b = static_cast<uint8_t>(fill());
  }

  // Puts new blocks until the cache holds its budget; returns MB/s.
  double Fill() {
    auto start = Clock::now();
    uint64_t bytes = 0;
    while (model_.used() + flags_.sizes.front() <= flags_.budget) bytes += PutOne();
    return Mbps(bytes, Secs(Clock::now() - start));
  }

  Window Churn(double seconds) {
    Window w;
    auto start = Clock::now();
    auto end = start + std::chrono::duration<double>(seconds);
    std::uniform_real_distribution<double> coin(0, 1);
    while (Clock::now() < end) {
      auto t0 = Clock::now();
      if (coin(rng_) < flags_.get_ratio && !model_.empty()) {
        ObjectId id = model_.Sample(rng_);
        auto got = layout_.Get(id);
        if (got.ok()) {
          w.get_bytes += got->size();
          model_.Touch(id);
        } else if (got.code() == util::Errc::kNotFound) {
          ++w.misses;
        } else {
          Usage("get failed: " + got.error().message);
        }
        w.max_get_ms = std::max(w.max_get_ms, Secs(Clock::now() - t0) * 1e3);
      } else {
        w.put_bytes += PutOne();
        w.max_put_ms = std::max(w.max_put_ms, Secs(Clock::now() - t0) * 1e3);
      }
      ++w.ops;
    }
    w.seconds = Secs(Clock::now() - start);
    w.disk_bytes = layout_.DiskBytes();
    return w;
  }

 private:
  static double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

  uint64_t PutOne() {
    ObjectId id;
    for (auto& b : id.bytes) b = static_cast<uint8_t>(rng_());
    uint64_t size = flags_.sizes[rng_() % flags_.sizes.size()];
    ++counter_;
    std::memcpy(data_.data(), &counter_, sizeof counter_);  // every block differs
    std::vector<ObjectId> victims = model_.Insert(id, size);
    auto s = layout_.Put(id, util::ByteSpan(data_.data(), size), victims);
    if (!s.ok()) Usage("put failed: " + s.error().message);
    return size;
  }

  const Flags& flags_;
  Layout& layout_;
  LruModel model_;
  std::mt19937_64 rng_;
  util::Bytes data_;
  uint64_t counter_ = 0;
};

Run RunLayout(const Flags& flags, const std::string& name) {
  const std::string dir = flags.dir + "/" + name;
  (void)util::RemoveTree(dir);
  if (auto s = util::MakeDirs(dir, 0700); !s.ok()) Usage(s.error().message);
  Run run;
  run.layout = name;
  {
    std::unique_ptr<Layout> layout =
        name == "files" ? FilesLayout::Open(dir, flags.budget) : LmdbLayout::Open(dir);
    Workload work(flags, *layout);
    run.fill_mbps = work.Fill();
    std::printf("%-6s fill to %s: %.0f MB/s\n", name.c_str(),
                util::FormatSize(flags.budget).c_str(), run.fill_mbps);
    for (double done = 0; done < flags.seconds - 1e-9; done += flags.window) {
      Window w = work.Churn(std::min(flags.window, flags.seconds - done));
      std::printf(
          "%-6s %4.0f-%-4.0fs put %7.1f  get %7.1f  total %7.1f MB/s  %6.0f ops/s  "
          "max get %6.1f put %6.1f ms  misses %llu  disk %6.0f MiB\n",
          name.c_str(), done, done + w.seconds, Mbps(w.put_bytes, w.seconds),
          Mbps(w.get_bytes, w.seconds), Mbps(w.put_bytes + w.get_bytes, w.seconds),
          w.ops / w.seconds, w.max_get_ms, w.max_put_ms, static_cast<unsigned long long>(w.misses),
          w.disk_bytes / 1048576.0);
      std::fflush(stdout);
      run.windows.push_back(w);
    }
  }
  if (!flags.keep) (void)util::RemoveTree(dir);
  return run;
}

void PrintTable(const Flags& flags, const std::vector<Run>& runs) {
  std::string sizes;
  for (uint64_t s : flags.sizes) sizes += (sizes.empty() ? "" : "+") + util::FormatSize(s);
  std::printf("\nbudget %s, blocks %s, %.0f%% gets; total MB/s (put+get) per %.0f s window\n",
              util::FormatSize(flags.budget).c_str(), sizes.c_str(), flags.get_ratio * 100,
              flags.window);
  std::printf("| layout | fill MB/s |");
  for (size_t i = 0; i < runs.front().windows.size(); ++i) std::printf(" w%zu |", i + 1);
  std::printf(" worst get / put ms | disk MiB at end |\n|---|---|");
  for (size_t i = 0; i < runs.front().windows.size(); ++i) std::printf("---|");
  std::printf("---|---|\n");
  for (const Run& r : runs) {
    std::printf("| %s | %.0f |", r.layout.c_str(), r.fill_mbps);
    double worst_get = 0, worst_put = 0;
    for (const Window& w : r.windows) {
      std::printf(" %.0f |", Mbps(w.put_bytes + w.get_bytes, w.seconds));
      worst_get = std::max(worst_get, w.max_get_ms);
      worst_put = std::max(worst_put, w.max_put_ms);
    }
    std::printf(" %.1f / %.1f | %.0f |\n", worst_get, worst_put,
                r.windows.back().disk_bytes / 1048576.0);
  }
}

}  // namespace
}  // namespace shardfs::bench

int main(int argc, char** argv) {
  using namespace shardfs::bench;
  Flags flags = ParseFlags(argc, argv);
  shardfs::util::InitLogging(shardfs::util::LogSink::kStderr, "warn");
  std::vector<Run> runs;
  if (flags.layout != "lmdb") runs.push_back(RunLayout(flags, "files"));
  if (flags.layout != "files") runs.push_back(RunLayout(flags, "lmdb"));
  PrintTable(flags, runs);
  if (!flags.keep) (void)shardfs::util::RemoveTree(flags.dir);
  return 0;
}
