#include "fs/remote/task_pool.h"

#include "fs/util/check.h"

namespace shardfs::remote {

TaskPool::TaskPool(int threads) {
  SHARDFS_CHECK(threads >= 1, "a TaskPool needs a thread");
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

TaskPool::~TaskPool() {
  std::deque<std::function<void()>> dropped;
  {
    util::MutexLock lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  // dropped goes out of scope here, outside the lock: a task's captures may take time to free.
}

void TaskPool::Submit(std::function<void()> task) {
  {
    util::MutexLock lock(mu_);
    if (stopping_) return;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void TaskPool::Run() {
  for (;;) {
    std::function<void()> task;
    {
      util::MutexLock lock(mu_);
      while (!stopping_ && queue_.empty()) mu_.Await(cv_);
      if (stopping_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace shardfs::remote
