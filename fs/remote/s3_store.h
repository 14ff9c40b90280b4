// S3Store: a ShardStore in one bucket of an S3-compatible server (shardfs-node, Ceph RGW, AWS...):
// path-style requests (/bucket/key) signed with SigV4 (bodies as UNSIGNED-PAYLOAD), on a bounded
// pool of keep-alive connections (HttpPool). Retryable failures (connection errors, timeouts,
// 429, 500/502/503/504, SlowDown) are retried with exponential backoff and full jitter; 4xx
// answers never are. Errors name the node and the cause. Blocking calls; never call them from an
// Asio thread. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/remote/shard_store.h"
#include "fs/util/bytes.h"
#include "fs/util/clock.h"

#include "fs/util/mutex.h"

namespace shardfs::remote {

class HttpPool;
struct HttpRequest;

struct S3Options {
  std::string endpoint;  // "http://host:port" or "https://host:port"
  std::string bucket;
  std::string access_key;
  util::SecretBytes secret_key;
  std::string region = "us-east-1";

  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  // per attempt, request sent to last byte
  std::chrono::milliseconds idle_timeout{30000};     // pooled connections idle longer are closed
  int max_attempts = 4;                              // 1 = no retries
  std::chrono::milliseconds backoff_base{100};       // attempt n waits rand(0, base * 2^n)
  std::chrono::milliseconds backoff_max{3000};
  size_t max_connections = 16;
  uint64_t max_object_bytes = uint64_t{64} << 20;  // a longer object is refused by Get
  int io_threads = 2;
  std::chrono::milliseconds usage_cache{2000};  // how long a Usage answer is reused
  const util::Clock* clock = nullptr;           // signing time; nullptr: the system clock
  std::string ca_file;  // https: PEM file of the CAs to trust (self-signed nodes); empty: system
};

class S3Store final : public ShardStore {
 public:
  // Checks the options (endpoint URL, bucket name, keys) without touching the network.
  static util::Result<std::unique_ptr<S3Store>> Open(S3Options options);
  ~S3Store() override;

  util::Status Put(std::string_view name, util::ByteSpan data) override;
  util::Result<util::Bytes> Get(std::string_view name) override;
  util::Result<util::Bytes> GetRange(std::string_view name, uint64_t offset,
                                     uint64_t length) override;
  util::Result<util::Bytes> GetRangeCancellable(std::string_view name, uint64_t offset,
                                                uint64_t length,
                                                const util::CancelToken& cancel) override;
  util::Status Delete(std::string_view name) override;
  // ListObjectsV2, following continuation tokens; keys that are not valid object names are
  // left out.
  util::Result<std::vector<std::string>> List(std::string_view prefix) override;
  // From shardfs-node's GET /_shardfs/usage (with its quota as the capacity) when the server
  // has it, else by listing the bucket (capacity 0: unknown). Reused for options.usage_cache,
  // forgotten at this store's own Put and Delete.
  util::Result<StoreUsage> Usage() override;
  std::string Describe() const override;  // "s3://127.0.0.1:9000/bucket"

  // PUT /bucket; a bucket we already own is fine. kExists when someone else owns the name.
  util::Status CreateBucketIfMissing();
  // One signed, cheap request (list one key): the node is up, the credentials work and the
  // bucket exists. Errors say which of these failed.
  util::Status Probe();
  // GET /_shardfs/health (unauthenticated): true for a shardfs-node that answers "ok".
  util::Result<bool> IsShardfsNode();

  struct Stats {
    uint64_t connections_opened = 0;
    uint64_t requests = 0;  // HTTP exchanges, retries included
    uint64_t retries = 0;
  };
  Stats stats() const;
  const std::string& endpoint_url() const { return endpoint_url_; }

 private:
  // An HTTP reply; code and message come from an S3 <Error> document, when there is one.
  struct Reply {
    unsigned status = 0;
    util::Bytes body;
    std::string content_range;
    std::string code;
    std::string message;
  };
  S3Store(S3Options options, std::unique_ptr<HttpPool> pool, std::string endpoint_url);

  // Signs and sends a request to path?query, retrying retryable failures. Returns the reply
  // of the last attempt (any status) or the transport error, with the node named.
  util::Result<Reply> Execute(std::string_view method, std::string_view path,
                              std::string_view query, util::ByteSpan body,
                              std::vector<std::pair<std::string, std::string>> extra_headers,
                              const util::CancelToken& cancel, bool sign = true);
  util::Result<Reply> ExecuteOnce(std::string_view method, std::string_view path,
                                  std::string_view query, util::ByteSpan body,
                                  const std::vector<std::pair<std::string, std::string>>& extra,
                                  const util::CancelToken& cancel, bool sign);
  // An S3 error reply as an Error: code from the status and the <Code>, message naming the
  // node, the bucket or object, and the cause.
  util::Error ReplyError(const Reply& reply, std::string_view what) const;
  util::Error NodeError(const util::Error& e, std::string_view what) const;
  std::string ObjectPath(std::string_view name) const;
  util::Result<util::Bytes> FetchRange(std::string_view name, uint64_t offset, uint64_t length,
                                       const util::CancelToken& cancel);
  // used_bytes and objects by listing; nullopt usage from the node when it does not serve it.
  util::Result<StoreUsage> UsageByListing();
  util::Result<std::optional<StoreUsage>> NodeUsage();
  void ForgetUsage();

  const S3Options options_;
  const std::string endpoint_url_;
  const util::SystemClock system_clock_;
  const util::Clock* const clock_;
  const std::unique_ptr<HttpPool> pool_;

  // Leaf lock: guards the fields below; never held across a request.
  mutable util::Mutex mu_;
  std::optional<StoreUsage> usage_ GUARDED_BY(mu_);  // the cached answer
  std::chrono::steady_clock::time_point usage_at_ GUARDED_BY(mu_);
  // Bumped by Put/Delete: a racing fetch is not cached.
  uint64_t usage_generation_ GUARDED_BY(mu_) = 0;
  std::optional<bool> serves_usage_ GUARDED_BY(mu_);  // learned on the first Usage
  uint64_t retries_ GUARDED_BY(mu_) = 0;
};

}  // namespace shardfs::remote
