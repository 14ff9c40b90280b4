// TaskPool: a fixed set of threads running submitted tasks in submission order, for fanning out
// blocking calls to nodes; Inbox<T>: how their results come back to the waiting caller. The pool's
// destructor lets running tasks finish, drops the ones not started (so a task owns, or shares
// ownership of, whatever it touches) and joins. Both thread-safe; a task must never wait for
// another task.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "fs/util/mutex.h"

namespace shardfs::remote {

class TaskPool {
 public:
  explicit TaskPool(int threads);  // threads >= 1
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  void Submit(std::function<void()> task);

 private:
  void Run();

  util::Mutex mu_;  // leaf lock; never held while a task runs
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// Results pushed by tasks, popped by the caller that started them. Shared (std::shared_ptr)
// between the caller and its tasks, so a task the caller stopped waiting for can still push.
template <typename T>
class Inbox {
 public:
  void Push(T item) {
    {
      util::MutexLock lock(mu_);
      items_.push_back(std::move(item));
    }
    cv_.notify_one();
  }
  // The oldest item, or nullopt once deadline passes with none.
  std::optional<T> PopUntil(std::chrono::steady_clock::time_point deadline) {
    util::MutexLock lock(mu_);
    for (auto now = std::chrono::steady_clock::now(); items_.empty();
         now = std::chrono::steady_clock::now()) {
      if (now >= deadline) return std::nullopt;
      mu_.AwaitFor(cv_, deadline - now);
    }
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  T Pop() {
    util::MutexLock lock(mu_);
    while (items_.empty()) mu_.Await(cv_);
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

 private:
  util::Mutex mu_;  // leaf lock
  std::condition_variable cv_;
  std::deque<T> items_ GUARDED_BY(mu_);
};

}  // namespace shardfs::remote
