#include "cli/drive/drive_fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "cli/drive/drive_probe.h"
#include "fs/cache/block_cache.h"
#include "fs/core/core_fs.h"
#include "fs/core/meta_store.h"
#include "fs/crypto/record.h"
#include "fs/remote/dir_store.h"
#include "fs/remote/erasure_store.h"
#include "fs/remote/s3_store.h"
#include "fs/remote/whole_block_store.h"
#include "fs/util/encoding.h"
#include "fs/util/files.h"

namespace shardfs::drive {

using util::Errc;
using util::MakeError;
using util::Result;

namespace {

// An exclusive lock on <cache dir>/lock: a second mount of the same drive (or of another
// drive configured with the same cache) fails instead of corrupting the cache.
Result<int> LockCacheDir(const core::DriveConfig& config) {
  std::string path = config.cache_dir + "/lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return util::ErrnoError(errno, fmt::format("cannot open {}", path));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return MakeError(Errc::kExists,
                       fmt::format("drive '{}' is already mounted: its cache {} is in use; "
                                   "unmount it first",
                                   config.name, config.cache_dir));
    }
    return util::ErrnoError(err, fmt::format("cannot lock {}", path));
  }
  return fd;
}

Result<std::unique_ptr<remote::S3Store>> OpenS3Node(const core::NodeSpec& node) {
  auto store = remote::S3Store::Open(NodeS3Options(node));
  if (!store.ok()) return store.error().WithContext(fmt::format("node '{}'", node.id));
  return std::move(store).value();
}

// One node's store: a local directory, or an S3 endpoint (shardfs-node or any S3 server).
Result<std::unique_ptr<remote::ShardStore>> OpenNodeStore(const core::NodeSpec& node) {
  if (node.IsDir()) {
    auto dir = remote::DirStore::Open(node.endpoint.substr(4));
    if (!dir.ok()) return dir.error().WithContext(fmt::format("node '{}'", node.id));
    return std::unique_ptr<remote::ShardStore>(std::move(dir).value());
  }
  SHARDFS_ASSIGN_OR_RETURN(auto s3, OpenS3Node(node));
  return std::unique_ptr<remote::ShardStore>(std::move(s3));
}

struct RemoteStack {
  std::vector<std::unique_ptr<remote::ShardStore>> nodes;
  std::unique_ptr<remote::BlockStore> store;
};

Result<RemoteStack> OpenRemote(const core::DriveConfig& config, const crypto::DriveKeys& keys) {
  RemoteStack stack;
  if (config.store.kind == core::StoreSpec::Kind::kDir) {
    auto dir = remote::DirStore::Open(config.store.path);
    if (!dir.ok()) return dir.error().WithContext("store");
    stack.store = std::make_unique<remote::WholeBlockStore>(std::move(dir).value());
    return stack;
  }
  std::vector<remote::ErasureNode> nodes;
  for (const core::NodeSpec& spec : config.nodes) {
    SHARDFS_ASSIGN_OR_RETURN(auto store, OpenNodeStore(spec));
    nodes.push_back({spec.id, store.get()});
    stack.nodes.push_back(std::move(store));
  }
  remote::ErasureOptions options;
  options.k = static_cast<int>(config.erasure.data);
  options.m = static_cast<int>(config.erasure.parity);
  // A shard's name is keyed: without the drive's keys a node cannot tell which shards (on it
  // or on other nodes) belong to the same block.
  auto key = std::make_shared<util::SecretBytes>(keys.object_names.Clone());
  options.shard_name = [key](std::string_view block, int index) {
    auto mac = crypto::HmacSha256(*key, util::AsBytes(fmt::format("shard|{}|{}", block, index)));
    return util::ToHex(util::ByteSpan(mac.data(), 16));
  };
  auto erasure = remote::ErasureStore::Create(std::move(nodes), std::move(options));
  if (!erasure.ok()) return erasure.error().WithContext("erasure coding");
  stack.store = std::move(erasure).value();
  return stack;
}

}  // namespace

util::Status PrepareNodes(const core::DriveConfig& config) {
  std::vector<std::thread> threads;
  std::vector<util::Status> results(config.nodes.size(), util::Ok());
  for (size_t i = 0; i < config.nodes.size(); ++i) {
    const core::NodeSpec& node = config.nodes[i];
    if (node.IsDir()) continue;
    threads.emplace_back([&node, &result = results[i]] {
      auto store = OpenS3Node(node);
      result = store.ok() ? (*store)->CreateBucketIfMissing() : util::Status(store.error());
      if (!result.ok()) result = result.error().WithContext(fmt::format("node '{}'", node.id));
    });
  }
  for (auto& t : threads) t.join();
  for (const util::Status& r : results) SHARDFS_TRY(r);
  return util::Ok();
}

Result<std::unique_ptr<core::Filesystem>> OpenDriveFilesystem(UnlockedDrive drive,
                                                              const core::FsOptions& options) {
  const core::DriveConfig& config = drive.config;
  auto made = util::MakeDirs(config.cache_dir, 0700);
  if (!made.ok()) return made.error().WithContext("cache directory");
  SHARDFS_ASSIGN_OR_RETURN(int lock_fd, LockCacheDir(config));
  auto fail = [&](const util::Error& e) {
    ::close(lock_fd);
    return e;
  };
  auto meta = core::MetaStore::Open(config.cache_dir + "/meta", drive.keys.metadata,
                                    drive.keys.entry_names);
  if (!meta.ok()) return fail(meta.error().WithContext("metadata"));
  auto cache = cache::BlockCache::Open({config.cache_dir + "/blocks", config.cache_size});
  if (!cache.ok()) return fail(cache.error().WithContext("block cache"));
  auto remote = OpenRemote(config, drive.keys);
  if (!remote.ok()) return fail(remote.error());
  core::CoreFs::Deps deps;
  deps.config = config;
  deps.keys = std::move(drive.keys);
  deps.meta = std::move(meta).value();
  deps.cache = std::move(cache).value();
  deps.node_stores = std::move(remote->nodes);
  deps.store = std::move(remote->store);
  deps.clock = std::make_shared<util::SystemClock>();
  deps.options = options;
  deps.lock_fd = lock_fd;
  deps.root_uid = ::geteuid();
  deps.root_gid = ::getegid();
  auto fs = core::CoreFs::Open(std::move(deps));  // closes lock_fd itself, also on failure
  if (!fs.ok()) return fs.error();
  return std::unique_ptr<core::Filesystem>(std::move(fs).value());
}

}  // namespace shardfs::drive
