#include "fs/remote/testing/mem_store.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace shardfs::remote::testing {

MemStore::MemStore(uint64_t capacity_bytes, std::string name)
    : capacity_bytes_(capacity_bytes), name_(std::move(name)) {}

util::Status MemStore::Put(std::string_view name, util::ByteSpan data) {
  std::lock_guard lock(mu_);
  ++counts_.puts;
  SHARDFS_TRY(ValidateObjectName(name));
  auto it = objects_.find(name);
  uint64_t old_size = it == objects_.end() ? 0 : it->second.size();
  uint64_t new_used = used_bytes_ - old_size + data.size();
  if (capacity_bytes_ != 0 && new_used > capacity_bytes_) {
    return util::MakeError(
        util::Errc::kNoSpace,
        fmt::format("{} is full: {} bytes for {} do not fit ({} of {} bytes used)", Describe(),
                    data.size(), name, used_bytes_, capacity_bytes_));
  }
  util::Bytes copy(data.begin(), data.end());
  if (it == objects_.end()) {
    objects_.emplace(std::string(name), std::move(copy));
  } else {
    it->second = std::move(copy);
  }
  used_bytes_ = new_used;
  return util::Ok();
}

util::Result<util::Bytes> MemStore::Get(std::string_view name) {
  return GetRange(name, 0, UINT64_MAX);
}

util::Result<util::Bytes> MemStore::GetRange(std::string_view name, uint64_t offset,
                                             uint64_t length) {
  std::lock_guard lock(mu_);
  ++counts_.gets;
  SHARDFS_TRY(ValidateObjectName(name));
  auto it = objects_.find(name);
  if (it == objects_.end()) {
    return util::MakeError(util::Errc::kNotFound,
                           fmt::format("{} has no object {}", Describe(), name));
  }
  const util::Bytes& data = it->second;
  if (offset >= data.size()) return util::Bytes();
  uint64_t n = std::min<uint64_t>(length, data.size() - offset);
  auto begin = data.begin() + static_cast<ptrdiff_t>(offset);
  return util::Bytes(begin, begin + static_cast<ptrdiff_t>(n));
}

util::Status MemStore::Delete(std::string_view name) {
  std::lock_guard lock(mu_);
  ++counts_.deletes;
  SHARDFS_TRY(ValidateObjectName(name));
  auto it = objects_.find(name);
  if (it != objects_.end()) {
    used_bytes_ -= it->second.size();
    objects_.erase(it);
  }
  return util::Ok();
}

util::Result<std::vector<std::string>> MemStore::List(std::string_view prefix) {
  std::lock_guard lock(mu_);
  ++counts_.lists;
  std::vector<std::string> names;
  for (auto it = objects_.lower_bound(prefix); it != objects_.end(); ++it) {
    if (!it->first.starts_with(prefix)) break;
    names.push_back(it->first);
  }
  return names;
}

util::Result<StoreUsage> MemStore::Usage() {
  std::lock_guard lock(mu_);
  return StoreUsage{
      .used_bytes = used_bytes_,
      .capacity_bytes = capacity_bytes_,
      .available_bytes = capacity_bytes_ > used_bytes_ ? capacity_bytes_ - used_bytes_ : 0,
      .objects = objects_.size()};
}

MemStore::Counts MemStore::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void MemStore::ResetCounts() {
  std::lock_guard lock(mu_);
  counts_ = Counts();
}

}  // namespace shardfs::remote::testing
