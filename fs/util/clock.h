// Clock: the injectable source of time, so timeouts, leases and backoff are testable without
// sleeping. SystemClock is thread-safe; FakeClock (tests) is thread-safe too.
#pragma once

#include <atomic>
#include <chrono>

namespace shardfs::util {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint = std::chrono::time_point<std::chrono::system_clock, Duration>;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1'700'000'000)))
      : ns_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(Duration(ns_.load())); }
  void Advance(Duration d) { ns_ += d.count(); }

 private:
  std::atomic<int64_t> ns_;
};

}  // namespace shardfs::util
