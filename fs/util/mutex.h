// Mutex: std::mutex that clang's thread-safety analysis knows (fs/util/thread_annotations.h).
// MutexLock holds one for a scope. A function that needs the mutex held says REQUIRES(mu_) and
// may let it go for slow work in between with mu_.Unlock() ... mu_.Lock(); waits on a
// condition variable go through Await/AwaitFor, which the analysis sees as keeping the mutex
// held (it is, whenever they return). Thread-safe, as std::mutex.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "fs/util/thread_annotations.h"

namespace shardfs::util {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // For std::lock_guard and std::unique_lock (BasicLockable).
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

  // Waits on cv, this mutex held (released while waiting, held again on return).
  void Await(std::condition_variable& cv) REQUIRES(this) {
    std::unique_lock<std::mutex> held(mu_, std::adopt_lock);
    cv.wait(held);
    held.release();
  }
  // Await for at most `limit`; false when it ran out.
  template <typename Rep, typename Period>
  bool AwaitFor(std::condition_variable& cv, std::chrono::duration<Rep, Period> limit)
      REQUIRES(this) {
    std::unique_lock<std::mutex> held(mu_, std::adopt_lock);
    const bool woken = cv.wait_for(held, limit) == std::cv_status::no_timeout;
    held.release();
    return woken;
  }

 private:
  std::mutex mu_;
};

// Holds a Mutex from construction to the end of the scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace shardfs::util
