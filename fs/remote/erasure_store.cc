// ErasureStore: construction, Put (placement), Delete, Usage and status. Get is in
// erasure_store_get.cc.
#include "fs/remote/erasure_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "fs/remote/erasure.h"
#include "fs/remote/location_record.h"

namespace shardfs::remote {

using util::Errc;
using util::MakeError;

namespace {

using SteadyClock = std::chrono::steady_clock;

struct PutDone {
  int shard = 0;
  size_t node = 0;
  util::Status status;
};

struct DeleteDone {
  size_t node = 0;
  util::Status status;
};

}  // namespace

struct ErasureStore::PutPlan {
  std::string_view block;
  const EncodedShards* shards = nullptr;
  std::vector<std::string> names;  // by shard
  std::vector<int> placed;         // by shard: the node that took it, -1 until one did
  std::vector<bool> failed;        // by node: failed during this Put, not asked again
  std::vector<int> load;           // by node: shards it took
  std::vector<size_t> candidates;  // nodes to ask, best first
  size_t next_candidate = 0;
  std::vector<int> unplaced;  // shards no distinct node took
  std::vector<std::string> errors;
  bool only_no_space = true;  // every failure so far was kNoSpace
  int pending = 0;
  std::shared_ptr<Inbox<PutDone>> inbox = std::make_shared<Inbox<PutDone>>();
};

util::Result<std::unique_ptr<ErasureStore>> ErasureStore::Create(std::vector<ErasureNode> nodes,
                                                                 ErasureOptions options) {
  SHARDFS_TRY(ValidateErasureCode(options.k, options.m));
  auto invalid = [](std::string why) { return MakeError(Errc::kInvalid, std::move(why)); };
  if (!options.shard_name) return invalid("ErasureStore needs a shard_name function");
  if (options.hedge < 0) return invalid("ErasureStore hedge must be 0 or more");
  if (options.threads < 1 || options.threads > 256) {
    return invalid("ErasureStore threads must be 1 to 256");
  }
  if (nodes.size() < static_cast<size_t>(options.k)) {
    return invalid(fmt::format("a {}+{} erasure code needs at least {} nodes, got {}", options.k,
                               options.m, options.k, nodes.size()));
  }
  std::set<std::string, std::less<>> seen;
  for (const ErasureNode& n : nodes) {
    if (n.name.empty() || n.name.size() > kMaxNodeNameLength) {
      return invalid(
          fmt::format("node name \"{}\" must be 1-{} bytes", n.name, kMaxNodeNameLength));
    }
    if (n.store == nullptr) return invalid(fmt::format("node {} has no store", n.name));
    if (!seen.insert(n.name).second) return invalid(fmt::format("node {} listed twice", n.name));
  }
  if (nodes.size() < static_cast<size_t>(options.k + options.m)) {
    spdlog::warn(
        "{}+{} erasure code over only {} nodes: some nodes will hold several shards of a "
        "block, so losing one of them costs more than one shard",
        options.k, options.m, nodes.size());
  }
  return std::unique_ptr<ErasureStore>(new ErasureStore(std::move(nodes), std::move(options)));
}

ErasureStore::ErasureStore(std::vector<ErasureNode> nodes, ErasureOptions options)
    : nodes_(std::move(nodes)),
      options_(std::move(options)),
      health_(nodes_.size(), options_.clock ? options_.clock : &system_clock_, options_.health),
      pool_(options_.threads) {}

ErasureStore::~ErasureStore() = default;

int ErasureStore::FindNode(std::string_view name) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string ErasureStore::NodeLabel(size_t node) const {
  return fmt::format("{} ({})", nodes_[node].name, nodes_[node].store->Describe());
}

util::Result<std::vector<std::string>> ErasureStore::ShardNames(std::string_view block,
                                                                int count) const {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    names.push_back(options_.shard_name(block, i));
    if (auto valid = ValidateObjectName(names.back()); !valid.ok()) {
      return MakeError(Errc::kInvalid,
                       fmt::format("shard_name for shard {}: {}", i, valid.error().message));
    }
    for (int j = 0; j < i; ++j) {
      if (names[static_cast<size_t>(j)] == names.back()) {
        return MakeError(Errc::kInvalid,
                         fmt::format("shard_name gives shards {} and {} the same name", j, i));
      }
    }
  }
  return names;
}

void ErasureStore::StartPut(PutPlan& plan, int shard, size_t node) {
  ++plan.pending;
  // The shard bytes are a view into the caller's frame: Put waits for every task it starts.
  pool_.Submit([inbox = plan.inbox, store = nodes_[node].store,
                name = plan.names[static_cast<size_t>(shard)], data = plan.shards->shard(shard),
                health = &health_, shard, node] {
    const auto start = SteadyClock::now();
    util::Status status = store->Put(name, data);
    if (status.ok()) {
      health->RecordSuccess(node, SteadyClock::now() - start);
      health->RecordStored(node);
    } else {
      health->RecordFailure(node, status.error().message);
    }
    inbox->Push({shard, node, std::move(status)});
  });
}

void ErasureStore::PlaceOnDistinctNodes(PutPlan& plan) {
  for (int shard = 0; shard < static_cast<int>(plan.names.size()); ++shard) {
    if (plan.next_candidate < plan.candidates.size()) {
      StartPut(plan, shard, plan.candidates[plan.next_candidate++]);
    } else {
      plan.unplaced.push_back(shard);
    }
  }
  DrainPuts(plan, [&](int shard, size_t, Errc code) {
    plan.only_no_space = plan.only_no_space && code == Errc::kNoSpace;
    if (plan.next_candidate < plan.candidates.size()) {
      StartPut(plan, shard, plan.candidates[plan.next_candidate++]);
    } else {
      plan.unplaced.push_back(shard);
    }
  });
}

void ErasureStore::DrainPuts(PutPlan& plan,
                             const std::function<void(int shard, size_t node, Errc)>& failed) {
  while (plan.pending > 0) {
    PutDone done = plan.inbox->Pop();
    --plan.pending;
    if (done.status.ok()) {
      plan.placed[static_cast<size_t>(done.shard)] = static_cast<int>(done.node);
      ++plan.load[done.node];
      continue;
    }
    plan.failed[done.node] = true;
    plan.errors.push_back(fmt::format("{}: {}", NodeLabel(done.node), done.status.error().message));
    failed(done.shard, done.node, done.status.code());  // may start more: waited for too
  }
}

util::Status ErasureStore::PlaceOnUsedNodes(PutPlan& plan) {
  const int total = static_cast<int>(plan.names.size());
  auto usable = [&] {
    std::vector<size_t> out;  // in ranking order, so ties go to the better node
    for (size_t n : plan.candidates) {
      if (plan.load[n] > 0 && !plan.failed[n]) out.push_back(n);
    }
    return out;
  };
  const std::vector<size_t> holders = usable();
  if (plan.unplaced.empty()) {
    if (degraded_.exchange(false)) spdlog::info("erasure store: shards on distinct nodes again");
    return util::Ok();
  }
  if (holders.size() < static_cast<size_t>(options_.k)) {
    std::string why = fmt::format(
        "block {}: only {} of {} nodes took a shard, fewer than the {} a {}+{} code needs{}{}",
        plan.block, holders.size(), nodes_.size(), options_.k, options_.k, options_.m,
        plan.errors.empty() ? "" : ": ", fmt::join(plan.errors, "; "));
    return MakeError(
        plan.only_no_space && !plan.errors.empty() ? Errc::kNoSpace : Errc::kUnavailable,
        std::move(why));
  }
  if (!degraded_.exchange(true)) {
    spdlog::warn(
        "erasure store: only {} of {} nodes reachable; placing {} of block {}'s {} shards "
        "on nodes that already hold one (redundancy reduced until repair){}{}",
        holders.size(), nodes_.size(), plan.unplaced.size(), plan.block, total,
        plan.errors.empty() ? "" : ": ", fmt::join(plan.errors, "; "));
  }
  // Each unplaced shard goes to the least loaded holder, so no node holds more than
  // ceil((k + m) / holders) shards; a holder that fails now is not asked again.
  std::vector<int> assigned = plan.load;
  while (!plan.unplaced.empty()) {
    std::vector<size_t> live = usable();
    if (live.empty()) {
      return MakeError(Errc::kUnavailable,
                       fmt::format("block {}: every node failed while placing its shards: {}",
                                   plan.block, fmt::join(plan.errors, "; ")));
    }
    for (int shard : plan.unplaced) {
      size_t best = live[0];
      for (size_t n : live) {
        if (assigned[n] < assigned[best]) best = n;
      }
      ++assigned[best];
      StartPut(plan, shard, best);
    }
    plan.unplaced.clear();
    DrainPuts(plan, [&](int shard, size_t node, Errc) {
      --assigned[node];
      plan.unplaced.push_back(shard);
    });
  }
  return util::Ok();
}

void ErasureStore::RemoveShards(const std::vector<std::string>& names,
                                const std::vector<int>& nodes) {
  auto inbox = std::make_shared<Inbox<DeleteDone>>();
  int pending = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (nodes[i] < 0) continue;
    ++pending;
    pool_.Submit([inbox, store = nodes_[static_cast<size_t>(nodes[i])].store, name = names[i]] {
      inbox->Push({0, store->Delete(name)});
    });
  }
  for (; pending > 0; --pending) inbox->Pop();  // best effort: errors leave garbage, no harm
}

util::Result<util::Bytes> ErasureStore::Put(std::string_view name, util::ByteSpan sealed) {
  SHARDFS_TRY(ValidateObjectName(name));
  const int total = options_.k + options_.m;
  SHARDFS_ASSIGN_OR_RETURN(EncodedShards shards, EncodeShards(options_.k, options_.m, sealed));
  PutPlan plan;
  plan.block = name;
  plan.shards = &shards;
  SHARDFS_ASSIGN_OR_RETURN(plan.names, ShardNames(name, total));
  plan.placed.assign(static_cast<size_t>(total), -1);
  plan.failed.assign(nodes_.size(), false);
  plan.load.assign(nodes_.size(), 0);
  // Nodes in backoff are left out (a degraded placement beats waiting on a dead node), unless
  // without them the block could not be stored at all: then they are asked last.
  const std::vector<RankedNode> ranking = health_.Rank(rotation_.fetch_add(1));
  for (const RankedNode& r : ranking) {
    if (r.tier < NodeHealth::kBackoffTier) plan.candidates.push_back(r.node);
  }
  if (plan.candidates.size() < static_cast<size_t>(options_.k)) {
    for (const RankedNode& r : ranking) {
      if (r.tier >= NodeHealth::kBackoffTier) plan.candidates.push_back(r.node);
    }
  }
  PlaceOnDistinctNodes(plan);
  if (auto placed = PlaceOnUsedNodes(plan); !placed.ok()) {
    RemoveShards(plan.names, plan.placed);
    return placed.error();
  }
  LocationRecord record;
  record.k = options_.k;
  record.m = options_.m;
  record.length = sealed.size();
  record.shard_size = shards.shard_size();
  for (int i = 0; i < total; ++i) {
    record.shards.push_back({nodes_[static_cast<size_t>(plan.placed[static_cast<size_t>(i)])].name,
                             ShardChecksum(shards.shard(i))});
  }
  return SerializeLocationRecord(record);
}

util::Status ErasureStore::Delete(std::string_view name, util::ByteSpan location) {
  SHARDFS_ASSIGN_OR_RETURN(LocationRecord record, ParseLocationRecord(location));
  SHARDFS_ASSIGN_OR_RETURN(auto names, ShardNames(name, record.k + record.m));
  auto inbox = std::make_shared<Inbox<DeleteDone>>();
  std::vector<std::string> errors;
  int pending = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const int node = FindNode(record.shards[i].node);
    if (node < 0) {
      errors.push_back(fmt::format("shard {} is on node {}, which is not in the node list", i,
                                   record.shards[i].node));
      continue;
    }
    ++pending;
    pool_.Submit([inbox, store = nodes_[static_cast<size_t>(node)].store, name = names[i],
                  health = &health_, node = static_cast<size_t>(node)] {
      const auto start = SteadyClock::now();
      util::Status status = store->Delete(name);
      if (status.ok()) {
        health->RecordSuccess(node, SteadyClock::now() - start);
      } else {
        health->RecordFailure(node, status.error().message);
      }
      inbox->Push({node, std::move(status)});
    });
  }
  for (; pending > 0; --pending) {
    DeleteDone done = inbox->Pop();
    if (!done.status.ok()) {
      errors.push_back(fmt::format("{}: {}", NodeLabel(done.node), done.status.error().message));
    }
  }
  if (errors.empty()) return util::Ok();
  return MakeError(Errc::kUnavailable, fmt::format("block {}: could not delete every shard: {}",
                                                   name, fmt::join(errors, "; ")));
}

__extension__ typedef unsigned __int128 U128;  // sums of node sizes overflow 64 bits

uint64_t BlockBytesOnNodes(const std::vector<uint64_t>& room, int k, int m) {
  // Every block puts one shard of s bytes on each of k+m distinct nodes. B blocks with
  // x = B*s fit when sum(min(room_i, x)) >= (k+m)*x (no node holds more than one shard of a
  // block), and they hold k*x bytes of blocks. With the c largest nodes capped at x and the
  // others giving all their room R_c, the largest such x is R_c / (k+m-c); the answer is the
  // first c (from 0) whose x is at least the room of the largest node left uncapped.
  const size_t shards = static_cast<size_t>(k) + static_cast<size_t>(m);
  if (room.size() < shards) return 0;
  std::vector<uint64_t> sorted = room;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  U128 rest = 0;
  for (uint64_t r : sorted) rest += r;
  U128 x = 0;
  for (size_t c = 0; c < shards; ++c) {
    x = rest / (shards - c);
    if (x >= sorted[c]) break;  // always true at c = shards - 1
    rest -= sorted[c];
  }
  const U128 bytes = x * static_cast<unsigned>(k);
  return static_cast<uint64_t>(std::min<U128>(bytes, UINT64_MAX));
}

util::Result<StoreUsage> ErasureStore::Usage() {
  struct UsageDone {
    size_t node = 0;
    util::Result<StoreUsage> usage;
  };
  auto inbox = std::make_shared<Inbox<UsageDone>>();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    pool_.Submit([inbox, store = nodes_[i].store, i] { inbox->Push({i, store->Usage()}); });
  }
  uint64_t shard_bytes = 0;
  uint64_t shard_objects = 0;
  std::vector<uint64_t> capacity(nodes_.size(), 0), available(nodes_.size(), 0);
  bool capacity_known = true;
  std::vector<std::string> errors;
  for (size_t pending = nodes_.size(); pending > 0; --pending) {
    UsageDone done = inbox->Pop();
    if (!done.usage.ok()) {
      errors.push_back(fmt::format("{}: {}", NodeLabel(done.node), done.usage.error().message));
      capacity_known = false;
      continue;
    }
    shard_bytes += done.usage->used_bytes;
    shard_objects += done.usage->objects;
    capacity[done.node] = done.usage->capacity_bytes;
    available[done.node] = done.usage->available_bytes;
    capacity_known = capacity_known && done.usage->capacity_bytes != 0;
  }
  if (errors.size() == nodes_.size()) {
    return MakeError(Errc::kUnavailable,
                     fmt::format("no node reports its usage: {}", fmt::join(errors, "; ")));
  }
  // In bytes of blocks, as the drive sees them: shards hold k/(k+m) of their bytes as data.
  StoreUsage sum;
  const uint64_t shards = static_cast<uint64_t>(options_.k) + static_cast<uint64_t>(options_.m);
  sum.used_bytes = static_cast<uint64_t>(static_cast<U128>(shard_bytes) *
                                         static_cast<uint64_t>(options_.k) / shards);
  sum.objects = shard_objects / shards;
  // A node that did not answer, or has no limit, makes the total unknown.
  if (capacity_known) {
    sum.capacity_bytes = BlockBytesOnNodes(capacity, options_.k, options_.m);
    sum.available_bytes = BlockBytesOnNodes(available, options_.k, options_.m);
  }
  return sum;
}

std::vector<NodeStatus> ErasureStore::Nodes() {
  std::vector<NodeStatus> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const NodeHealthSnapshot h = health_.Snapshot(i);
    NodeStatus s;
    s.name = nodes_[i].name;
    s.endpoint = nodes_[i].store->Describe();
    s.healthy = h.healthy;
    s.latency_ms = h.latency_ms;
    s.error_rate = h.error_rate;
    s.shards_stored = h.shards_stored;
    s.bad_shards = h.bad_shards;
    s.last_error = h.last_error;
    out.push_back(std::move(s));
  }
  return out;
}

std::string ErasureStore::Describe() const {
  return fmt::format("{}+{} over {} nodes", options_.k, options_.m, nodes_.size());
}

}  // namespace shardfs::remote
