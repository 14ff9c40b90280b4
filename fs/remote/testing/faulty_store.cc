#include "fs/remote/testing/faulty_store.h"

#include <thread>
#include <utility>

#include <fmt/format.h>

namespace shardfs::remote::testing {

FaultyStore::FaultyStore(ShardStore* inner, uint64_t seed) : inner_(inner), rng_(seed) {
  SHARDFS_CHECK(inner_ != nullptr, "FaultyStore needs a store to wrap");
}

void FaultyStore::SetLatency(std::chrono::microseconds per_call) {
  std::lock_guard lock(mu_);
  latency_ = per_call;
}

void FaultyStore::FailNext(uint64_t n, util::Errc code) {
  std::lock_guard lock(mu_);
  fail_next_ = n;
  fail_next_code_ = code;
}

void FaultyStore::SetFailureRate(double probability, util::Errc code) {
  std::lock_guard lock(mu_);
  failure_rate_ = probability;
  failure_rate_code_ = code;
}

void FaultyStore::SetCorruptReads(bool on) {
  std::lock_guard lock(mu_);
  corrupt_reads_ = on;
}

void FaultyStore::Drop() {
  std::lock_guard lock(mu_);
  dropped_ = true;
}

void FaultyStore::Restore() {
  std::lock_guard lock(mu_);
  dropped_ = false;
}

bool FaultyStore::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void FaultyStore::ClearFaults() {
  std::lock_guard lock(mu_);
  latency_ = std::chrono::microseconds(0);
  fail_next_ = 0;
  failure_rate_ = 0;
  corrupt_reads_ = false;
  dropped_ = false;
}

uint64_t FaultyStore::injected_faults() const {
  std::lock_guard lock(mu_);
  return injected_;
}

double FaultyStore::NextUnitLocked() {
  // The top 53 bits as a double: the same sequence on every platform, unlike the std
  // distributions.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

std::optional<util::Error> FaultyStore::BeforeCall(std::string_view op, std::string_view name) {
  std::chrono::microseconds latency;
  {
    std::lock_guard lock(mu_);
    latency = latency_;
  }
  if (latency.count() > 0) std::this_thread::sleep_for(latency);

  std::lock_guard lock(mu_);
  std::optional<util::Errc> code;
  std::string_view why;
  if (dropped_) {
    code = util::Errc::kUnavailable;
    why = "the node is down";
  } else if (fail_next_ > 0) {
    --fail_next_;
    code = fail_next_code_;
    why = "a planned failure";
  } else if (failure_rate_ > 0 && NextUnitLocked() < failure_rate_) {
    code = failure_rate_code_;
    why = "a random failure";
  }
  if (!code) return std::nullopt;
  ++injected_;
  std::string call = name.empty() ? std::string(op) : fmt::format("{} {}", op, name);
  return util::MakeError(
      *code, fmt::format("{} on {}: injected fault ({})", call, inner_->Describe(), why));
}

util::Result<util::Bytes> FaultyStore::MaybeCorrupt(util::Result<util::Bytes> data) {
  if (!data.ok() || data->empty()) return data;
  std::lock_guard lock(mu_);
  if (!corrupt_reads_) return data;
  ++injected_;
  (*data)[rng_() % data->size()] ^= 0xff;
  return data;
}

util::Status FaultyStore::Put(std::string_view name, util::ByteSpan data) {
  if (auto e = BeforeCall("put", name)) return *std::move(e);
  return inner_->Put(name, data);
}

util::Result<util::Bytes> FaultyStore::Get(std::string_view name) {
  if (auto e = BeforeCall("get", name)) return *std::move(e);
  return MaybeCorrupt(inner_->Get(name));
}

util::Result<util::Bytes> FaultyStore::GetRange(std::string_view name, uint64_t offset,
                                                uint64_t length) {
  if (auto e = BeforeCall("get range of", name)) return *std::move(e);
  return MaybeCorrupt(inner_->GetRange(name, offset, length));
}

util::Status FaultyStore::Delete(std::string_view name) {
  if (auto e = BeforeCall("delete", name)) return *std::move(e);
  return inner_->Delete(name);
}

util::Result<std::vector<std::string>> FaultyStore::List(std::string_view prefix) {
  if (auto e = BeforeCall("list", prefix)) return *std::move(e);
  return inner_->List(prefix);
}

util::Result<StoreUsage> FaultyStore::Usage() {
  if (auto e = BeforeCall("usage", "")) return *std::move(e);
  return inner_->Usage();
}

}  // namespace shardfs::remote::testing
