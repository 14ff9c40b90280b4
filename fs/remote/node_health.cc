#include "fs/remote/node_health.h"

#include <algorithm>
#include <cmath>

#include "fs/util/check.h"

namespace shardfs::remote {
namespace {

constexpr size_t kMaxErrorLength = 300;  // a hostile node must not flood `shardfs status`

double ToMs(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

NodeHealth::NodeHealth(size_t nodes, const util::Clock* clock, HealthOptions options)
    : clock_(clock), options_(options), count_(nodes), nodes_(nodes) {
  SHARDFS_CHECK(clock_ != nullptr, "NodeHealth needs a clock");
  SHARDFS_CHECK(options_.alpha > 0 && options_.alpha <= 1, "HealthOptions.alpha is in (0, 1]");
  SHARDFS_CHECK(options_.failures_to_unhealthy >= 1, "HealthOptions.failures_to_unhealthy >= 1");
}

void NodeHealth::AddLatencyLocked(State& s, double ms) {
  if (!s.has_latency) {
    s.latency_ms = ms;
    s.has_latency = true;
  } else {
    s.latency_ms += options_.alpha * (ms - s.latency_ms);
  }
}

void NodeHealth::AddErrorSampleLocked(State& s, double sample) {
  s.error_rate += options_.alpha * (sample - s.error_rate);
}

void NodeHealth::RecordSuccess(size_t node, std::chrono::nanoseconds latency) {
  util::MutexLock lock(mu_);
  State& s = nodes_.at(node);
  AddLatencyLocked(s, ToMs(latency));
  AddErrorSampleLocked(s, 0);
  s.consecutive_failures = 0;
}

void NodeHealth::RecordFailure(size_t node, std::string_view error) {
  const util::Clock::TimePoint now = clock_->Now();
  util::MutexLock lock(mu_);
  State& s = nodes_.at(node);
  AddErrorSampleLocked(s, 1);
  s.last_error = std::string(error.substr(0, kMaxErrorLength));
  ++s.consecutive_failures;
  const auto threshold = static_cast<uint64_t>(options_.failures_to_unhealthy);
  if (s.consecutive_failures >= threshold) {
    // initial_backoff, doubled for each failure past the threshold (a failed probe), capped.
    const uint64_t doublings = std::min<uint64_t>(s.consecutive_failures - threshold, 30);
    util::Clock::Duration backoff = options_.initial_backoff;
    for (uint64_t i = 0; i < doublings && backoff < options_.max_backoff; ++i) backoff *= 2;
    s.retry_at = now + std::min(backoff, options_.max_backoff);
  }
}

void NodeHealth::RecordAbandoned(size_t node, std::chrono::nanoseconds elapsed) {
  util::MutexLock lock(mu_);
  State& s = nodes_.at(node);
  const double ms = ToMs(elapsed);
  if (!s.has_latency || ms > s.latency_ms) AddLatencyLocked(s, ms);
}

void NodeHealth::RecordBadShard(size_t node, std::string_view what) {
  util::MutexLock lock(mu_);
  State& s = nodes_.at(node);
  ++s.bad_shards;
  AddErrorSampleLocked(s, 1);
  s.last_error = std::string(what.substr(0, kMaxErrorLength));
}

void NodeHealth::RecordStored(size_t node) {
  util::MutexLock lock(mu_);
  ++nodes_.at(node).shards_stored;
}

bool NodeHealth::AvailableLocked(const State& s, util::Clock::TimePoint now) const {
  return s.consecutive_failures < static_cast<uint64_t>(options_.failures_to_unhealthy) ||
         now >= s.retry_at;
}

bool NodeHealth::Available(size_t node) const {
  const util::Clock::TimePoint now = clock_->Now();
  util::MutexLock lock(mu_);
  return AvailableLocked(nodes_.at(node), now);
}

NodeHealthSnapshot NodeHealth::Snapshot(size_t node) const {
  const util::Clock::TimePoint now = clock_->Now();
  util::MutexLock lock(mu_);
  const State& s = nodes_.at(node);
  NodeHealthSnapshot out;
  out.healthy = s.consecutive_failures < static_cast<uint64_t>(options_.failures_to_unhealthy);
  out.available = AvailableLocked(s, now);
  out.has_latency = s.has_latency;
  out.latency_ms = s.latency_ms;
  out.error_rate = s.error_rate;
  out.consecutive_failures = s.consecutive_failures;
  out.retry_at = s.retry_at;
  out.shards_stored = s.shards_stored;
  out.bad_shards = s.bad_shards;
  out.last_error = s.last_error;
  return out;
}

int NodeHealth::TierLocked(const State& s, util::Clock::TimePoint now) const {
  if (!AvailableLocked(s, now)) return kBackoffTier;
  // A node never measured costs 0: it gets tried, and so measured.
  const double cost = s.latency_ms + s.error_rate * options_.error_penalty_ms;
  if (!(cost >= 1)) return 0;  // also catches NaN
  return 1 + static_cast<int>(std::min(std::floor(std::log2(cost)), 60.0));
}

std::vector<RankedNode> NodeHealth::Rank(uint64_t rotation) const {
  const util::Clock::TimePoint now = clock_->Now();
  std::vector<RankedNode> out;
  {
    util::MutexLock lock(mu_);
    out.reserve(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) out.push_back({i, TierLocked(nodes_[i], now)});
  }
  const size_t n = out.size();
  if (n == 0) return out;
  const size_t start = static_cast<size_t>(rotation % n);
  auto rotated = [&](size_t i) { return (i + n - start) % n; };
  std::sort(out.begin(), out.end(), [&](const RankedNode& a, const RankedNode& b) {
    if (a.tier != b.tier) return a.tier < b.tier;
    return rotated(a.node) < rotated(b.node);
  });
  return out;
}

}  // namespace shardfs::remote
