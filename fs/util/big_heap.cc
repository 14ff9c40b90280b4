#include "fs/util/big_heap.h"

#include <sys/mman.h>

#include <algorithm>

namespace shardfs::util {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }
}  // namespace

BigHeap::BigHeap(size_t region, size_t warm_cap) : warm_cap_(warm_cap) {
  std::fill(std::begin(warm_), std::end(warm_), -1);
  std::fill(std::begin(cold_), std::end(cold_), -1);
  units_ = std::min<size_t>(region / kUnit, INT32_MAX);
  if (units_ == 0) return;
  const size_t meta = RoundUp(units_ * (sizeof(int8_t) + sizeof(size_t) + sizeof(int32_t)), 4096);
  region_ = units_ * kUnit;
  // One reservation: the metadata first, then the region aligned to huge pages.
  const size_t total = meta + region_ + kHugePage;
  void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    region_ = 0;
    units_ = 0;
    return;
  }
  auto* raw = static_cast<char*>(p);
  touched_ = reinterpret_cast<size_t*>(raw);
  next_ = reinterpret_cast<int32_t*>(raw + units_ * sizeof(size_t));
  class_ = reinterpret_cast<int8_t*>(raw + units_ * (sizeof(size_t) + sizeof(int32_t)));
  const auto start = reinterpret_cast<uintptr_t>(raw + meta);
  base_ = reinterpret_cast<char*>(RoundUp(start, kHugePage));
  // Best effort: without huge pages a cold slot costs more faults, nothing else.
  (void)::madvise(base_, region_, MADV_HUGEPAGE);
}

BigHeap::~BigHeap() {
  // Process-lifetime in practice; tests unmap what they made.
  if (base_ != nullptr) {
    const size_t meta = RoundUp(units_ * (sizeof(int8_t) + sizeof(size_t) + sizeof(int32_t)), 4096);
    ::munmap(touched_, meta + region_ + kHugePage);
  }
}

int BigHeap::ClassOf(size_t size) {
  if (size == 0 || size > kMaxSize) return -1;
  const size_t units = (size + kUnit - 1) / kUnit;
  int c = 0;
  while ((size_t{1} << c) < units) ++c;
  return c;
}

void* BigHeap::Allocate(size_t size) {
  const int c = ClassOf(size);
  if (c < 0 || base_ == nullptr) return nullptr;
  const size_t slot_units = size_t{1} << c;
  std::lock_guard lock(mu_);
  int32_t unit = -1;
  if (warm_[c] >= 0) {
    unit = warm_[c];
    warm_[c] = next_[unit];
    warm_bytes_ -= touched_[unit];
  } else if (cold_[c] >= 0) {
    unit = cold_[c];
    cold_[c] = next_[unit];
  } else {
    // Slots of 2 MiB and more start on a huge page boundary.
    const size_t align = std::min<size_t>(slot_units, kHugePage / kUnit);
    const size_t at = RoundUp(bump_, align);
    if (at + slot_units > units_) return nullptr;
    bump_ = at + slot_units;
    unit = static_cast<int32_t>(at);
    class_[unit] = static_cast<int8_t>(c);
    touched_[unit] = 0;
  }
  touched_[unit] = std::max(touched_[unit], size);
  live_ += slot_units * kUnit;
  return base_ + static_cast<size_t>(unit) * kUnit;
}

void BigHeap::Free(void* p) {
  const auto unit = static_cast<int32_t>((static_cast<char*>(p) - base_) / kUnit);
  size_t slot_bytes = 0;
  {
    std::lock_guard lock(mu_);
    const int c = class_[unit];
    slot_bytes = kUnit << c;
    live_ -= slot_bytes;
    if (warm_bytes_ + touched_[unit] <= warm_cap_) {
      warm_bytes_ += touched_[unit];
      next_[unit] = warm_[c];
      warm_[c] = unit;
      return;
    }
  }
  // Over the cap: the pages go back to the kernel before the slot is listed again, so no one
  // is handed it meanwhile.
  (void)::madvise(p, slot_bytes, MADV_DONTNEED);
  std::lock_guard lock(mu_);
  const int c = class_[unit];
  touched_[unit] = 0;
  next_[unit] = cold_[c];
  cold_[c] = unit;
}

size_t BigHeap::live_bytes() const {
  std::lock_guard lock(mu_);
  return live_;
}

size_t BigHeap::warm_bytes() const {
  std::lock_guard lock(mu_);
  return warm_bytes_;
}

}  // namespace shardfs::util
