// What the fstest exercisers share: splitmix64, a tiny generator that gives the same sequence
// for a seed on every platform (unlike the std distributions), and a fresh seed of 63 bits (so
// that --seed, parsed as int64, takes any seed printed). Not thread-safe (one per thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace shardfs::fstest {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (inclusive); lo if hi < lo.
  int64_t In(int64_t lo, int64_t hi) {
    return hi <= lo ? lo : lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  // Uniform in [0, n); 0 if n is 0.
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  bool Percent(int p) { return static_cast<int>(Next() % 100) < p; }

 private:
  uint64_t s_;
};

inline uint64_t FreshSeed() {
  return ((static_cast<uint64_t>(std::random_device{}()) << 32) ^
          static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count())) &
         static_cast<uint64_t>(INT64_MAX);
}

}  // namespace shardfs::fstest
