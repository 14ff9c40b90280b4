// BigHeap: slots by size class, reuse, the cap on freed bytes kept resident (checked against
// the kernel's own count of resident pages), and fallback answers out of range.
#include "fs/util/big_heap.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

namespace shardfs::util {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// Pages of [p, p + n) the kernel has resident.
size_t ResidentBytes(void* p, size_t n) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((n + page - 1) / page);
  EXPECT_EQ(::mincore(p, n, vec.data()), 0);
  size_t resident = 0;
  for (unsigned char v : vec) resident += (v & 1) ? page : 0;
  return resident;
}

TEST(BigHeapTest, SlotsAreReusedWarmUpToTheCapThenGivenBack) {
  BigHeap heap(256 * kMiB, 8 * kMiB);
  void* a = heap.Allocate(4 * kMiB + 40);  // an 8 MiB slot
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(heap.Owns(a));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % (2 * kMiB), 0u);
  EXPECT_EQ(heap.live_bytes(), 8 * kMiB);
  std::memset(a, 0x5a, 4 * kMiB + 40);
  heap.Free(a);
  EXPECT_EQ(heap.live_bytes(), 0u);
  EXPECT_EQ(heap.warm_bytes(), 4 * kMiB + 40);
  EXPECT_GE(ResidentBytes(a, 8 * kMiB), 4 * kMiB);  // kept warm
  void* again = heap.Allocate(5 * kMiB);
  EXPECT_EQ(again, a);  // the warm slot of its class, first
  EXPECT_EQ(heap.warm_bytes(), 0u);
  EXPECT_EQ(static_cast<unsigned char*>(again)[100], 0x5a);  // warm: not zeroed again

  // Two more slots of that class filled and freed: past the 8 MiB cap, pages go back.
  void* b = heap.Allocate(6 * kMiB);
  void* c = heap.Allocate(6 * kMiB);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  std::memset(b, 1, 6 * kMiB);
  std::memset(c, 1, 6 * kMiB);
  heap.Free(b);  // 6 MiB warm
  heap.Free(c);  // would make 12: given back
  EXPECT_EQ(heap.warm_bytes(), 6 * kMiB);
  EXPECT_EQ(ResidentBytes(c, 8 * kMiB), 0u);
  void* d = heap.Allocate(7 * kMiB);  // warm b first
  EXPECT_EQ(d, b);
  void* e = heap.Allocate(7 * kMiB);  // then the cold c, zeroed by the kernel
  EXPECT_EQ(e, c);
  EXPECT_EQ(static_cast<unsigned char*>(e)[0], 0);
  for (void* p : {again, d, e}) heap.Free(p);
}

TEST(BigHeapTest, OutOfRangeAndExhaustedSizesFallBack) {
  BigHeap heap(16 * kMiB, 0);
  EXPECT_EQ(heap.Allocate(0), nullptr);
  EXPECT_EQ(heap.Allocate(BigHeap::kMaxSize + 1), nullptr);
  void* a = heap.Allocate(9 * kMiB);  // a 16 MiB slot: the whole region
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(heap.Allocate(kMiB), nullptr);  // used up: the caller goes to malloc
  int local = 0;
  EXPECT_FALSE(heap.Owns(&local));
  heap.Free(a);
  EXPECT_EQ(heap.warm_bytes(), 0u);         // cap 0: nothing kept
  EXPECT_EQ(heap.Allocate(kMiB), nullptr);  // slots are not split across sizes
  EXPECT_EQ(heap.Allocate(12 * kMiB), a);   // but reused within theirs
  heap.Free(a);
}

TEST(BigHeapTest, ManyThreadsNeverShareASlot) {
  BigHeap heap(512 * kMiB, 16 * kMiB);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const size_t size = (1 + (i + t) % 5) * kMiB;
        auto* p = static_cast<unsigned char*>(heap.Allocate(size));
        if (p == nullptr) {
          ++bad;
          continue;
        }
        std::memset(p, t + 1, size);
        std::this_thread::yield();
        for (size_t at = 0; at < size; at += 4096) {
          if (p[at] != t + 1) ++bad;
        }
        heap.Free(p);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(heap.live_bytes(), 0u);
  EXPECT_LE(heap.warm_bytes(), 16 * kMiB);
}

}  // namespace
}  // namespace shardfs::util
