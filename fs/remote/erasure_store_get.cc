// ErasureStore::Get: the hedged read. The caller's thread plans and waits; pool threads fetch and
// verify shards. A Fetch is shared with its tasks, so requests still running when Get returns
// (cancelled, no longer needed) write into state that is still alive.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "fs/remote/erasure.h"
#include "fs/remote/erasure_store.h"
#include "fs/remote/location_record.h"

namespace shardfs::remote {

using util::Errc;
using util::MakeError;

namespace {

using SteadyClock = std::chrono::steady_clock;

enum class Outcome { kGood, kBad, kMissing, kUnreachable };

struct FetchDone {
  int shard = 0;
  Outcome outcome = Outcome::kUnreachable;
  util::Bytes data;  // kGood only
  std::string why;   // otherwise
};

}  // namespace

struct ErasureStore::Fetch {
  std::string block;
  LocationRecord record;
  std::vector<std::string> names;  // by shard
  std::vector<int> node_of;        // by shard; -1: not in the node list
  util::CancelSource cancel;
  Inbox<FetchDone> inbox;
};

void ErasureStore::StartFetch(const std::shared_ptr<Fetch>& fetch, int shard) {
  const auto node = static_cast<size_t>(fetch->node_of[static_cast<size_t>(shard)]);
  pool_.Submit(
      [fetch, shard, node, store = nodes_[node].store, label = NodeLabel(node), health = &health_] {
        if (fetch->cancel.cancelled()) return;  // the Get is over; no one is waiting
        const auto i = static_cast<size_t>(shard);
        const uint64_t size = fetch->record.shard_size;
        const auto start = SteadyClock::now();
        // One byte more than the shard, so an object that is too long shows.
        auto got = store->GetRangeCancellable(fetch->names[i], 0, size + 1, fetch->cancel.token());
        const auto elapsed = SteadyClock::now() - start;
        FetchDone done{shard, Outcome::kGood, {}, {}};
        if (got.ok()) {
          if (got->size() != size) {
            done.why = fmt::format("shard {} has {} bytes, not {}", shard, got->size(), size);
          } else if (ShardChecksum(*got) != fetch->record.shards[i].checksum) {
            done.why = fmt::format("shard {} fails its checksum", shard);
          }
          if (!done.why.empty()) {
            done.outcome = Outcome::kBad;
            health->RecordBadShard(node, done.why);
            spdlog::warn("node {} returned a bad shard: block {} {} (object {})", label,
                         fetch->block, done.why, fetch->names[i]);
          } else {
            health->RecordSuccess(node, elapsed);
            done.data = std::move(got).value();
          }
        } else if (util::IsCancelledError(got.error())) {
          health->RecordAbandoned(node, elapsed);
          return;
        } else if (got.code() == Errc::kNotFound) {
          // The node answered, but lost a shard it had stored: as bad as a damaged one.
          done.outcome = Outcome::kMissing;
          done.why = fmt::format("shard {} is missing", shard);
          health->RecordBadShard(node, done.why);
          spdlog::warn("node {} lost a shard: block {} {} (object {})", label, fetch->block,
                       done.why, fetch->names[i]);
        } else {
          health->RecordFailure(node, got.error().message);
          done.outcome = Outcome::kUnreachable;
          done.why = fmt::format("shard {}: {}", shard, got.error().message);
        }
        if (done.outcome != Outcome::kGood) done.why = fmt::format("{}: {}", label, done.why);
        fetch->inbox.Push(std::move(done));
      });
}

util::Result<util::Bytes> ErasureStore::Get(std::string_view name, util::ByteSpan location) {
  auto fetch = std::make_shared<Fetch>();
  fetch->block = std::string(name);
  SHARDFS_ASSIGN_OR_RETURN(fetch->record, ParseLocationRecord(location));
  const LocationRecord& record = fetch->record;
  const int k = record.k, total = record.k + record.m;
  SHARDFS_ASSIGN_OR_RETURN(fetch->names, ShardNames(name, total));

  // Ask the best nodes first; among equally good ones, data shards (no decoding).
  std::vector<std::string> causes;  // why shards could not be had
  bool unreachable = false;         // some shard may come back later: kUnavailable, not kCorrupt
  const std::vector<RankedNode> ranking = health_.Rank(rotation_.fetch_add(1));
  std::vector<size_t> position(nodes_.size()), tier(nodes_.size());
  for (size_t p = 0; p < ranking.size(); ++p) {
    position[ranking[p].node] = p;
    tier[ranking[p].node] = static_cast<size_t>(ranking[p].tier);
  }
  std::vector<int> order;
  for (int s = 0; s < total; ++s) {
    const int node = FindNode(record.shards[static_cast<size_t>(s)].node);
    fetch->node_of.push_back(node);
    if (node >= 0) {
      order.push_back(s);
    } else {
      unreachable = true;
      causes.push_back(fmt::format("shard {} is on node {}, which is not in the node list", s,
                                   record.shards[static_cast<size_t>(s)].node));
    }
  }
  auto key = [&](int s) {
    const auto n = static_cast<size_t>(fetch->node_of[static_cast<size_t>(s)]);
    return std::tuple(tier[n], s >= k, position[n], s);
  };
  std::sort(order.begin(), order.end(), [&](int a, int b) { return key(a) < key(b); });

  size_t next = 0;
  int pending = 0;
  auto launch = [&] {
    StartFetch(fetch, order[next++]);
    ++pending;
  };
  const size_t first = std::min(order.size(), static_cast<size_t>(k + options_.hedge));
  while (next < first) launch();

  std::vector<std::optional<util::Bytes>> good(static_cast<size_t>(total));
  int good_count = 0;
  auto deadline = SteadyClock::now() + options_.straggler_after;
  while (good_count < k && pending > 0) {
    std::optional<FetchDone> done;
    if (next < order.size()) {
      done = fetch->inbox.PopUntil(deadline);
      if (!done) {  // a straggler: ask one more holder without giving up on it
        launch();
        deadline = SteadyClock::now() + options_.straggler_after;
        continue;
      }
    } else {
      done = fetch->inbox.Pop();
    }
    --pending;
    if (done->outcome == Outcome::kGood) {
      good[static_cast<size_t>(done->shard)] = std::move(done->data);
      ++good_count;
      continue;
    }
    unreachable = unreachable || done->outcome == Outcome::kUnreachable;
    causes.push_back(std::move(done->why));
    if (next < order.size()) {
      launch();
      deadline = SteadyClock::now() + options_.straggler_after;
    }
  }
  fetch->cancel.Cancel();  // the requests still out are not needed any more

  if (good_count < k) {
    return MakeError(unreachable ? Errc::kUnavailable : Errc::kCorrupt,
                     fmt::format("block {}: only {} good shards of the {} needed: {}", name,
                                 good_count, k, fmt::join(causes, "; ")));
  }
  if (k == 1) {  // mirroring: any good copy is the block (its size was checked on arrival)
    for (auto& shard : good) {
      if (shard) return std::move(*shard);
    }
  }
  std::vector<ShardView> views;
  for (int s = 0; s < total; ++s) {
    if (good[static_cast<size_t>(s)]) views.push_back({s, *good[static_cast<size_t>(s)]});
  }
  auto decoded = DecodeShards(k, record.m, record.length, views);
  if (!decoded.ok()) {
    return MakeError(Errc::kCorrupt, fmt::format("block {}: shards that pass their checksums do "
                                                 "not decode: {}",
                                                 name, decoded.error().message));
  }
  return decoded;
}

}  // namespace shardfs::remote
