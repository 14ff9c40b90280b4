// micro_bench: the data path's steps on one core, each beside the raw library call it wraps, so
// shardfs's own overhead shows. Benchmarks are named STEP/shardfs and STEP/raw;
// bench/report.py pairs them into bench/results/micro.md. Steps: seal and open a 4 MiB block
// (crypto::SealBlock/OpenBlock vs EVP AES-256-GCM), erasure encode and decode 4+2
// (remote::EncodeShards/DecodeShards vs ISA-L ec_encode_data), a shard checksum
// (remote::ShardChecksum vs XXH3_64bits), block cache put and get (cache::BlockCache vs pwrite/
// pread of the same bytes in one file) and a block-map lookup (core::MetaTxn::GetBlock vs an LMDB
// get of a value of the same size). Throughput is over wall time (a cache put waits for I/O).
// Files go to a temporary directory under $TMPDIR or /var/tmp, removed at exit.
// Usage: micro_bench [Google Benchmark flags, e.g. --benchmark_filter=seal]
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <isa-l/erasure_code.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <unistd.h>

// As fs/remote/erasure.cc does, so the raw call is the same code the library runs.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "fs/cache/block_cache.h"
#include "fs/core/meta_store.h"
#include "fs/crypto/aead.h"
#include "fs/crypto/random.h"
#include "fs/remote/erasure.h"
#include "fs/util/bytes.h"
#include "fs/util/check.h"
#include "fs/util/ids.h"

namespace shardfs::bench {
namespace {

using util::Bytes;
using util::ByteSpan;

constexpr size_t kBlock = size_t{4} << 20;  // the default block size
constexpr int kK = 4;                       // the default erasure code, 4+2
constexpr int kM = 2;
constexpr int kCacheBlocks = 64;       // 256 MiB of distinct blocks for put and get
constexpr uint64_t kMapBlocks = 1000;  // block-map entries: 10 files of 100 blocks
constexpr uint64_t kMapFiles = 10;

struct Data {
  util::SecretBytes key;
  Bytes plain;
  Bytes aad;
  Bytes sealed;
  std::string dir;
};

Data& Shared() {
  static Data d = [] {
    Data x;
    x.key = std::move(crypto::RandomSecret(32).value());
    x.plain = std::move(crypto::RandomBytes(kBlock).value());
    x.aad = crypto::BlockAad(Bytes(16, 7), 42, 3, 1);
    x.sealed = std::move(crypto::SealBlock(x.key, x.aad, x.plain).value());
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/var/tmp") + "/micro_bench.XXXXXX";
    SHARDFS_CHECK(mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
    x.dir = tmpl;
    return x;
  }();
  return d;
}

void SetBytes(benchmark::State& state, size_t per_iteration, const char* label) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * per_iteration));
  state.SetLabel(label);
}

// ---- seal and open ----

void SealShardfs(benchmark::State& state) {
  Data& d = Shared();
  for (auto _ : state) benchmark::DoNotOptimize(crypto::SealBlock(d.key, d.aad, d.plain));
  SetBytes(state, kBlock, "crypto::SealBlock (random nonce, padding, AAD)");
}

void OpenShardfs(benchmark::State& state) {
  Data& d = Shared();
  for (auto _ : state) benchmark::DoNotOptimize(crypto::OpenBlock(d.key, d.aad, d.sealed));
  SetBytes(state, kBlock, "crypto::OpenBlock");
}

// One EVP AES-256-GCM pass over n bytes with a fixed nonce, as a library user would write it.
bool RawGcm(bool encrypt, const util::SecretBytes& key, ByteSpan aad, ByteSpan in, uint8_t* out,
            uint8_t* tag) {
  static const uint8_t kNonce[12] = {};
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  int n = 0;
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), kNonce,
                        encrypt ? 1 : 0) != 1 ||
      EVP_CipherUpdate(ctx.get(), nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_CipherUpdate(ctx.get(), out, &n, in.data(), static_cast<int>(in.size())) != 1) {
    return false;
  }
  if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag) != 1) return false;
  if (EVP_CipherFinal_ex(ctx.get(), out + n, &n) != 1) return false;
  return !encrypt || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
}

void SealRaw(benchmark::State& state) {
  Data& d = Shared();
  Bytes out(kBlock);
  uint8_t tag[16];
  for (auto _ : state) {
    SHARDFS_CHECK(RawGcm(true, d.key, d.aad, d.plain, out.data(), tag), "EVP encrypt failed");
    benchmark::ClobberMemory();
  }
  SetBytes(state, kBlock, "EVP AES-256-GCM encrypt");
}

void OpenRaw(benchmark::State& state) {
  Data& d = Shared();
  Bytes cipher(kBlock), out(kBlock);
  uint8_t tag[16];
  SHARDFS_CHECK(RawGcm(true, d.key, d.aad, d.plain, cipher.data(), tag), "EVP encrypt failed");
  for (auto _ : state) {
    SHARDFS_CHECK(RawGcm(false, d.key, d.aad, cipher, out.data(), tag), "EVP decrypt failed");
    benchmark::ClobberMemory();
  }
  SetBytes(state, kBlock, "EVP AES-256-GCM decrypt and verify");
}

// ---- erasure coding ----

void EncodeShardfs(benchmark::State& state) {
  Data& d = Shared();
  for (auto _ : state) benchmark::DoNotOptimize(remote::EncodeShards(kK, kM, d.sealed));
  SetBytes(state, d.sealed.size(), "remote::EncodeShards 4+2 of a sealed block");
}

void DecodeShardfs(benchmark::State& state) {
  Data& d = Shared();
  auto shards = remote::EncodeShards(kK, kM, d.sealed);
  SHARDFS_CHECK(shards.ok(), "encode failed");
  // Data shards 0 and 1 lost: the two parity shards stand in, so this really decodes.
  std::vector<remote::ShardView> views;
  for (int i = 2; i < kK + kM; ++i) views.push_back({i, shards->shard(i)});
  for (auto _ : state) {
    benchmark::DoNotOptimize(remote::DecodeShards(kK, kM, d.sealed.size(), views));
  }
  SetBytes(state, d.sealed.size(), "remote::DecodeShards 4+2, two data shards lost");
}

// ISA-L with the same Cauchy matrix, tables prepared once, shards in caller buffers.
struct RawEc {
  explicit RawEc(size_t length) : len((length + kK - 1) / kK), buf((kK + kM) * len) {
    gf_gen_cauchy1_matrix(matrix, kK + kM, kK);
    ec_init_tables(kK, kM, &matrix[kK * kK], tables);
    for (int i = 0; i < kK + kM; ++i) ptr[i] = &buf[static_cast<size_t>(i) * len];
  }
  size_t len;
  std::vector<uint8_t> buf;
  uint8_t matrix[(kK + kM) * kK];
  uint8_t tables[32 * kK * kM];
  uint8_t* ptr[kK + kM];
};

void EncodeRaw(benchmark::State& state) {
  Data& d = Shared();
  RawEc ec(d.sealed.size());
  std::memcpy(ec.buf.data(), d.sealed.data(), d.sealed.size());
  for (auto _ : state) {
    ec_encode_data(static_cast<int>(ec.len), kK, kM, ec.tables, ec.ptr, &ec.ptr[kK]);
    benchmark::ClobberMemory();
  }
  SetBytes(state, d.sealed.size(), "ec_encode_data 4+2");
}

void DecodeRaw(benchmark::State& state) {
  Data& d = Shared();
  RawEc ec(d.sealed.size());
  std::memcpy(ec.buf.data(), d.sealed.data(), d.sealed.size());
  ec_encode_data(static_cast<int>(ec.len), kK, kM, ec.tables, ec.ptr, &ec.ptr[kK]);
  // Rows of the surviving shards 2..5, inverted: rebuilding shards 0 and 1 is one more
  // ec_encode_data with those rows.
  uint8_t sub[kK * kK], inv[kK * kK], rows[kM * kK], tables[32 * kK * kM];
  for (int r = 0; r < kK; ++r) std::memcpy(&sub[r * kK], &ec.matrix[(r + 2) * kK], kK);
  SHARDFS_CHECK(gf_invert_matrix(sub, inv, kK) == 0, "singular matrix");
  std::memcpy(rows, inv, sizeof(rows));
  std::vector<uint8_t> rebuilt(2 * ec.len);
  uint8_t* in[kK] = {ec.ptr[2], ec.ptr[3], ec.ptr[4], ec.ptr[5]};
  uint8_t* out[2] = {rebuilt.data(), rebuilt.data() + ec.len};
  for (auto _ : state) {
    ec_init_tables(kK, 2, rows, tables);
    ec_encode_data(static_cast<int>(ec.len), kK, 2, tables, in, out);
    benchmark::ClobberMemory();
  }
  SHARDFS_CHECK(std::memcmp(rebuilt.data(), ec.ptr[0], ec.len) == 0, "raw decode is wrong");
  SetBytes(state, d.sealed.size(), "gf_invert_matrix + ec_encode_data");
}

// ---- checksums ----

void ChecksumShardfs(benchmark::State& state) {
  Data& d = Shared();
  ByteSpan shard(d.sealed.data(), kBlock / kK);
  for (auto _ : state) benchmark::DoNotOptimize(remote::ShardChecksum(shard));
  SetBytes(state, shard.size(), "remote::ShardChecksum of a 1 MiB shard");
}

void ChecksumRaw(benchmark::State& state) {
  Data& d = Shared();
  for (auto _ : state) benchmark::DoNotOptimize(XXH3_64bits(d.sealed.data(), kBlock / kK));
  SetBytes(state, kBlock / kK, "XXH3_64bits (XXH_INLINE_ALL, as in fs/remote)");
}

// ---- block cache ----

util::ObjectId IdOf(uint64_t n) {
  util::ObjectId id;
  std::memcpy(id.bytes.data(), &n, sizeof n);
  return id;
}

std::unique_ptr<cache::BlockCache> OpenCache(const std::string& name) {
  cache::BlockCache::Options o;
  o.dir = Shared().dir + "/" + name;
  o.budget_bytes = uint64_t{kCacheBlocks} * (kBlock + 4096);
  auto c = cache::BlockCache::Open(o);
  SHARDFS_CHECK(c.ok(), "cannot open the block cache");
  return std::move(c).value();
}

void CachePutShardfs(benchmark::State& state) {
  Data& d = Shared();
  auto c = OpenCache("put");
  uint64_t n = 0;
  for (auto _ : state) SHARDFS_CHECK(c->Put(IdOf(n++), d.sealed, false).ok(), "put failed");
  SetBytes(state, d.sealed.size(), "cache::BlockCache::Put, clean, evicting LRU at budget");
}

void CacheGetShardfs(benchmark::State& state) {
  Data& d = Shared();
  auto c = OpenCache("get");
  for (uint64_t i = 0; i < kCacheBlocks; ++i) {
    SHARDFS_CHECK(c->Put(IdOf(i), d.sealed, false).ok(), "put failed");
  }
  uint64_t n = 0;
  for (auto _ : state) benchmark::DoNotOptimize(c->Get(IdOf(n++ % kCacheBlocks)));
  SetBytes(state, d.sealed.size(), "cache::BlockCache::Get (page-cached)");
}

struct RawFile {
  explicit RawFile(const std::string& path) : fd(open(path.c_str(), O_RDWR | O_CREAT, 0600)) {
    SHARDFS_CHECK(fd >= 0, "cannot open the raw file");
  }
  ~RawFile() { close(fd); }
  int fd;
};

void CachePutRaw(benchmark::State& state) {
  Data& d = Shared();
  RawFile f(d.dir + "/raw-put");
  const size_t n = d.sealed.size();
  uint64_t i = 0;
  for (auto _ : state) {
    off_t at = static_cast<off_t>((i++ % kCacheBlocks) * n);
    SHARDFS_CHECK(pwrite(f.fd, d.sealed.data(), n, at) == static_cast<ssize_t>(n), "pwrite");
  }
  SetBytes(state, n, "pwrite into one file");
}

void CacheGetRaw(benchmark::State& state) {
  Data& d = Shared();
  RawFile f(d.dir + "/raw-get");
  const size_t n = d.sealed.size();
  for (uint64_t i = 0; i < kCacheBlocks; ++i) {
    SHARDFS_CHECK(
        pwrite(f.fd, d.sealed.data(), n, static_cast<off_t>(i * n)) == static_cast<ssize_t>(n),
        "pwrite");
  }
  Bytes out(n);
  uint64_t i = 0;
  for (auto _ : state) {
    off_t at = static_cast<off_t>((i++ % kCacheBlocks) * n);
    SHARDFS_CHECK(pread(f.fd, out.data(), n, at) == static_cast<ssize_t>(n), "pread");
  }
  SetBytes(state, n, "pread from one file (page-cached)");
}

// ---- block map ----

void BlockMapShardfs(benchmark::State& state) {
  auto meta_key = crypto::RandomSecret(32);
  auto name_key = crypto::RandomSecret(32);
  auto store = core::MetaStore::Open(Shared().dir + "/meta", *meta_key, *name_key);
  SHARDFS_CHECK(store.ok(), "cannot open the meta store");
  {
    auto txn = (*store)->Write();
    for (uint64_t b = 0; b < kMapBlocks; ++b) {
      core::BlockRef ref{IdOf(b), b, uint32_t{kBlock}, uint32_t{kBlock + 64}};
      SHARDFS_CHECK((*txn)->PutBlock(2 + b % kMapFiles, b / kMapFiles, ref).ok(), "put");
    }
    SHARDFS_CHECK((*txn)->Commit().ok(), "commit");
  }
  uint64_t b = 0;
  for (auto _ : state) {
    auto txn = (*store)->Read();
    benchmark::DoNotOptimize((*txn)->GetBlock(2 + b % kMapFiles, (b / kMapFiles) % 100));
    ++b;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel("MetaStore::Read + MetaTxn::GetBlock (LMDB get, open sealed record)");
}

void BlockMapRaw(benchmark::State& state) {
  std::string dir = Shared().dir + "/raw-lmdb";
  std::filesystem::create_directories(dir);
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  MDB_txn* txn = nullptr;
  SHARDFS_CHECK(mdb_env_create(&env) == 0 && mdb_env_set_mapsize(env, size_t{1} << 30) == 0 &&
                    mdb_env_set_maxdbs(env, 4) == 0 &&
                    mdb_env_open(env, dir.c_str(), MDB_NOSYNC | MDB_NOTLS, 0600) == 0 &&
                    mdb_txn_begin(env, nullptr, 0, &txn) == 0 &&
                    mdb_dbi_open(txn, "blocks", MDB_CREATE, &dbi) == 0,
                "cannot open LMDB");
  uint8_t value[32 + 28] = {};  // a sealed block-map entry's size
  auto key_of = [](uint64_t ino, uint64_t index, uint8_t* k) {
    for (int i = 0; i < 8; ++i) k[i] = static_cast<uint8_t>(ino >> (56 - 8 * i));
    for (int i = 0; i < 8; ++i) k[8 + i] = static_cast<uint8_t>(index >> (56 - 8 * i));
  };
  uint8_t k[16];
  for (uint64_t b = 0; b < kMapBlocks; ++b) {
    key_of(2 + b % kMapFiles, b / kMapFiles, k);
    MDB_val key{sizeof k, k}, val{sizeof value, value};
    SHARDFS_CHECK(mdb_put(txn, dbi, &key, &val, 0) == 0, "mdb_put");
  }
  SHARDFS_CHECK(mdb_txn_commit(txn) == 0, "mdb_txn_commit");
  uint64_t b = 0;
  for (auto _ : state) {
    key_of(2 + b % kMapFiles, (b / kMapFiles) % 100, k);
    MDB_val key{sizeof k, k}, val;
    SHARDFS_CHECK(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0, "mdb_txn_begin");
    SHARDFS_CHECK(mdb_get(txn, dbi, &key, &val) == 0, "mdb_get");
    benchmark::DoNotOptimize(val.mv_data);
    mdb_txn_abort(txn);
    ++b;
  }
  mdb_env_close(env);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel("mdb_txn_begin + mdb_get of a 60-byte value");
}

void Register(const char* step, void (*shardfs)(benchmark::State&),
              void (*raw)(benchmark::State&)) {
  benchmark::RegisterBenchmark((std::string(step) + "/shardfs").c_str(), shardfs)
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark((std::string(step) + "/raw").c_str(), raw)
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
}

}  // namespace
}  // namespace shardfs::bench

int main(int argc, char** argv) {
  using namespace shardfs::bench;  // NOLINT: main only
  Register("seal a 4 MiB block", SealShardfs, SealRaw);
  Register("open a 4 MiB block", OpenShardfs, OpenRaw);
  Register("erasure encode 4+2", EncodeShardfs, EncodeRaw);
  Register("erasure decode 4+2", DecodeShardfs, DecodeRaw);
  Register("shard checksum", ChecksumShardfs, ChecksumRaw);
  Register("cache put 4 MiB", CachePutShardfs, CachePutRaw);
  Register("cache get 4 MiB", CacheGetShardfs, CacheGetRaw);
  Register("block-map lookup", BlockMapShardfs, BlockMapRaw);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(Shared().dir);
  return 0;
}
