// BigHeap: where a process's large allocations (1 MiB and up: file blocks, their sealed forms,
// shards) live, instead of malloc's arenas. Blocks of megabytes come and go on many threads;
// from the arenas, freed ones stayed resident between trims (a 256 MiB write left the daemon
// at 250-290 MiB), and from plain mmap every block paid fresh page faults. Here a freed
// allocation's pages stay resident only while the freed bytes kept warm are under a cap; past
// it they go back to the kernel at once (MADV_DONTNEED). The region is reserved once
// (address space only) and asks for transparent huge pages, so a cold block costs a few
// faults, not one per 4 KiB page.
//
// Slots are a power of two of 1 MiB units (1 MiB to 128 MiB), carved from the region as
// needed and reused within their size. Allocate returns null when the size is out of range
// or the region is used up: the caller falls back to malloc. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace shardfs::util {

class BigHeap {
 public:
  static constexpr size_t kUnit = size_t{1} << 20;
  static constexpr int kClasses = 8;  // 1 MiB << 0 .. 1 MiB << 7
  static constexpr size_t kMaxSize = kUnit << (kClasses - 1);

  // region: bytes of address space to reserve; warm_cap: freed bytes kept resident.
  BigHeap(size_t region, size_t warm_cap);
  ~BigHeap();
  BigHeap(const BigHeap&) = delete;
  BigHeap& operator=(const BigHeap&) = delete;

  void* Allocate(size_t size);
  // p must come from Allocate (Owns(p)).
  void Free(void* p);
  bool Owns(const void* p) const {
    const auto* c = static_cast<const char*>(p);
    return c >= base_ && c < base_ + region_;
  }

  // For tests and status: bytes in slots handed out, and freed bytes kept resident.
  size_t live_bytes() const;
  size_t warm_bytes() const;

 private:
  static int ClassOf(size_t size);  // -1 when out of range

  char* base_ = nullptr;  // null when the reservation failed (Allocate always returns null)
  size_t region_ = 0;
  size_t units_ = 0;
  const size_t warm_cap_;

  mutable std::mutex mu_;
  size_t bump_ = 0;  // units carved so far
  // Per unit (only a slot's first unit is used): its class, the bytes of it that may be
  // resident, and the next slot in its free list (-1: none). Arrays mapped with the region,
  // so that nothing here allocates through operator new.
  int8_t* class_ = nullptr;
  size_t* touched_ = nullptr;
  int32_t* next_ = nullptr;
  int32_t warm_[kClasses];  // free slots whose pages are resident, most recent first
  int32_t cold_[kClasses];  // free slots given back to the kernel
  size_t live_ = 0, warm_bytes_ = 0;
};

}  // namespace shardfs::util
