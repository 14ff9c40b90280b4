// The global operator new and delete of shardfs and shardfs-node: allocations of 1 MiB and more
// (blocks, sealed blocks, shards, a node's upload staging buffers) come from a util::BigHeap,
// which keeps at most 32 MiB of freed ones resident; the rest from malloc as usual. Measured on
// a dir-store drive: peak anonymous memory after a 256 MiB write and sync, 250-290 MiB from
// malloc's arenas (freed blocks stayed until the 5 s trim). In shardfs-node, a fresh 1 MiB
// staging buffer per upload (mmap, page faults, munmap) cost more CPU than the upload's copy
// itself. Not in sanitizer builds, which bring their own.
#include <cstdlib>
#include <new>

#include "fs/util/big_heap.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SHARDFS_OWN_NEW 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SHARDFS_OWN_NEW 0
#endif
#endif
#ifndef SHARDFS_OWN_NEW
#define SHARDFS_OWN_NEW 1
#endif

#if SHARDFS_OWN_NEW
namespace {

using shardfs::util::BigHeap;

// Built on first use (operator new runs before main) and never destroyed: blocks may be freed
// by static destructors after main returns.
BigHeap& Heap() {
  alignas(BigHeap) static unsigned char storage[sizeof(BigHeap)];
  static BigHeap* heap = new (storage) BigHeap(size_t{16} << 30, size_t{32} << 20);
  return *heap;
}

void* Allocate(std::size_t n) {
  if (n >= BigHeap::kUnit) {
    if (void* p = Heap().Allocate(n)) return p;
  }
  for (;;) {
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void* AllocateAligned(std::size_t n, std::align_val_t al) {
  const auto align = static_cast<std::size_t>(al);
  if (n >= BigHeap::kUnit && align <= BigHeap::kUnit) {
    if (void* p = Heap().Allocate(n)) return p;  // slots start on 1 MiB boundaries
  }
  const std::size_t size = n == 0 ? align : (n + align - 1) / align * align;
  for (;;) {
    if (void* p = std::aligned_alloc(align, size)) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void Release(void* p) noexcept {
  if (p == nullptr) return;
  BigHeap& heap = Heap();
  if (heap.Owns(p)) {
    heap.Free(p);
  } else {
    std::free(p);
  }
}

}  // namespace

void* operator new(std::size_t n) { return Allocate(n); }
void* operator new[](std::size_t n) { return Allocate(n); }
void operator delete(void* p) noexcept { Release(p); }
void operator delete[](void* p) noexcept { Release(p); }
void operator delete(void* p, std::size_t) noexcept { Release(p); }
void operator delete[](void* p, std::size_t) noexcept { Release(p); }
void* operator new(std::size_t n, std::align_val_t al) { return AllocateAligned(n, al); }
void* operator new[](std::size_t n, std::align_val_t al) { return AllocateAligned(n, al); }
void operator delete(void* p, std::align_val_t) noexcept { Release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { Release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { Release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { Release(p); }
#endif
