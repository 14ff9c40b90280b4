// S3Store's listing, usage and bucket calls (the object calls are in s3_store.cc).
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "fs/remote/s3/sigv4.h"
#include "fs/remote/s3/xml.h"
#include "fs/remote/s3_store.h"

namespace shardfs::remote {

using util::Errc;
using util::MakeError;

namespace {

constexpr int kMaxListPages = 1 << 20;  // a server that never stops paging is broken

std::string ListQuery(std::string_view prefix, std::string_view token, int max_keys) {
  std::string q = "list-type=2";
  if (max_keys > 0) q += fmt::format("&max-keys={}", max_keys);
  if (!prefix.empty()) q += "&prefix=" + s3::UriEncode(prefix, true);
  if (!token.empty()) q += "&continuation-token=" + s3::UriEncode(token, true);
  return q;
}

}  // namespace

util::Result<std::vector<std::string>> S3Store::List(std::string_view prefix) {
  std::vector<std::string> names;
  const std::string path = "/" + options_.bucket;
  std::string token;
  for (int page = 0;; ++page) {
    if (page >= kMaxListPages) {
      return MakeError(Errc::kCorrupt, fmt::format("node {} pages its listing of bucket {} "
                                                   "without end",
                                                   endpoint_url_, options_.bucket));
    }
    SHARDFS_ASSIGN_OR_RETURN(Reply reply,
                             Execute("GET", path, ListQuery(prefix, token, 0), {}, {}, {}));
    if (reply.status != 200) return ReplyError(reply, "bucket " + options_.bucket);
    auto parsed = s3::ParseListObjectsV2(util::AsStringView(reply.body));
    if (!parsed.ok()) {
      return Context(parsed,
                     fmt::format("node {}: listing bucket {}", endpoint_url_, options_.bucket));
    }
    for (auto& entry : parsed->contents) {
      if (entry.key.starts_with(prefix) && ValidateObjectName(entry.key).ok()) {
        names.push_back(std::move(entry.key));
      }
    }
    if (!parsed->is_truncated) break;
    if (parsed->next_continuation_token.empty() || parsed->next_continuation_token == token) {
      return MakeError(Errc::kCorrupt,
                       fmt::format("node {} sent a truncated listing of bucket {} without a new "
                                   "continuation token",
                                   endpoint_url_, options_.bucket));
    }
    token = std::move(parsed->next_continuation_token);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// ---- Usage ---------------------------------------------------------------------------------

void S3Store::ForgetUsage() {
  util::MutexLock lock(mu_);
  usage_.reset();
  ++usage_generation_;
}

util::Result<StoreUsage> S3Store::Usage() {
  uint64_t generation;
  std::optional<bool> serves;
  {
    util::MutexLock lock(mu_);
    if (usage_ && std::chrono::steady_clock::now() - usage_at_ < options_.usage_cache) {
      return *usage_;
    }
    generation = usage_generation_;
    serves = serves_usage_;
  }
  std::optional<StoreUsage> usage;
  if (serves.value_or(true)) {
    SHARDFS_ASSIGN_OR_RETURN(usage, NodeUsage());
    util::MutexLock lock(mu_);
    serves_usage_ = usage.has_value();
  }
  if (!usage) {
    SHARDFS_ASSIGN_OR_RETURN(usage, UsageByListing());
  }
  util::MutexLock lock(mu_);
  if (generation == usage_generation_) {  // no Put or Delete of ours raced with the fetch
    usage_ = usage;
    usage_at_ = std::chrono::steady_clock::now();
  }
  return *usage;
}

util::Result<std::optional<StoreUsage>> S3Store::NodeUsage() {
  SHARDFS_ASSIGN_OR_RETURN(Reply reply, Execute("GET", "/_shardfs/usage", "", {}, {}, {}));
  // Bad credentials are an error; AccessDenied is a plain S3 server refusing the odd bucket name.
  if (reply.status == 403 && reply.code != "AccessDenied") return ReplyError(reply, "usage");
  if (reply.status != 200) return std::optional<StoreUsage>();  // not a shardfs-node
  auto bad = [&](std::string_view why) {
    return MakeError(Errc::kCorrupt,
                     fmt::format("node {} sent a malformed usage reply: {}", endpoint_url_, why));
  };
  nlohmann::json doc = nlohmann::json::parse(util::AsStringView(reply.body), nullptr,
                                             /*allow_exceptions=*/false);
  if (!doc.is_object()) return bad("not a JSON object");
  StoreUsage u;
  for (auto [key, field] :
       {std::pair{"used_bytes", &u.used_bytes}, std::pair{"quota_bytes", &u.capacity_bytes},
        std::pair{"objects", &u.objects}}) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_number_unsigned()) {
      return bad(fmt::format("no unsigned number \"{}\"", key));
    }
    *field = it->get<uint64_t>();
  }
  if (u.capacity_bytes > 0) {
    u.available_bytes = u.capacity_bytes > u.used_bytes ? u.capacity_bytes - u.used_bytes : 0;
  }
  return std::optional<StoreUsage>(u);
}

util::Result<StoreUsage> S3Store::UsageByListing() {
  StoreUsage u;
  const std::string path = "/" + options_.bucket;
  std::string token;
  for (int page = 0; page < kMaxListPages; ++page) {
    SHARDFS_ASSIGN_OR_RETURN(Reply reply,
                             Execute("GET", path, ListQuery("", token, 0), {}, {}, {}));
    if (reply.status != 200) return ReplyError(reply, "bucket " + options_.bucket);
    auto parsed = s3::ParseListObjectsV2(util::AsStringView(reply.body));
    if (!parsed.ok()) {
      return Context(parsed,
                     fmt::format("node {}: listing bucket {}", endpoint_url_, options_.bucket));
    }
    for (const auto& entry : parsed->contents) {
      u.used_bytes += entry.size;
      ++u.objects;
    }
    if (!parsed->is_truncated) return u;
    if (parsed->next_continuation_token.empty() || parsed->next_continuation_token == token) {
      return MakeError(Errc::kCorrupt, fmt::format("node {} sent a truncated listing without a "
                                                   "new continuation token",
                                                   endpoint_url_));
    }
    token = std::move(parsed->next_continuation_token);
  }
  return MakeError(Errc::kCorrupt,
                   fmt::format("node {} pages its listing without end", endpoint_url_));
}

// ---- Bucket and node -----------------------------------------------------------------------

util::Status S3Store::CreateBucketIfMissing() {
  SHARDFS_ASSIGN_OR_RETURN(Reply reply, Execute("PUT", "/" + options_.bucket, "", {}, {}, {}));
  if (reply.status == 200 || reply.status == 204 || reply.code == "BucketAlreadyOwnedByYou") {
    return util::Ok();
  }
  if (reply.code == "BucketAlreadyExists") {
    return MakeError(Errc::kExists, fmt::format("node {}: bucket {} belongs to another account",
                                                endpoint_url_, options_.bucket));
  }
  return ReplyError(reply, "bucket " + options_.bucket);
}

util::Status S3Store::Probe() {
  SHARDFS_ASSIGN_OR_RETURN(Reply reply,
                           Execute("GET", "/" + options_.bucket, ListQuery("", "", 1), {}, {}, {}));
  if (reply.status != 200) return ReplyError(reply, "bucket " + options_.bucket);
  auto parsed = s3::ParseListObjectsV2(util::AsStringView(reply.body));
  if (!parsed.ok()) {
    return Context(parsed,
                   fmt::format("node {}: listing bucket {}", endpoint_url_, options_.bucket));
  }
  return util::Ok();
}

util::Result<bool> S3Store::IsShardfsNode() {
  SHARDFS_ASSIGN_OR_RETURN(Reply reply,
                           Execute("GET", "/_shardfs/health", "", {}, {}, {}, /*sign=*/false));
  if (reply.status != 200) return false;
  nlohmann::json doc = nlohmann::json::parse(util::AsStringView(reply.body), nullptr, false);
  if (!doc.is_object()) return false;
  auto status = doc.find("status");
  return status != doc.end() && status->is_string() && status->get<std::string>() == "ok";
}

}  // namespace shardfs::remote
