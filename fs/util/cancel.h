// CancelSource / CancelToken: a one-way "stop now" signal from the code that started some work to
// the code doing it (a hedged read cancels the requests it no longer needs). A token is cheap to
// copy; a default token is never cancelled. Callbacks registered on a token run once, on the
// thread that calls Cancel() (or at once, on the registering thread, if already cancelled); they
// must be short and must not block. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>

#include "fs/util/result.h"

namespace shardfs::util {

// What a cancellable call returns when it gave up because its token fired (kUnavailable).
inline constexpr std::string_view kCancelledMessage = "cancelled";
inline Error CancelledError() { return Error{Errc::kUnavailable, std::string(kCancelledMessage)}; }
// True for CancelledError(), also with context added in front: the call was abandoned, which
// says nothing about the health of whatever it talked to.
inline bool IsCancelledError(const Error& e) {
  return e.code == Errc::kUnavailable && std::string_view(e.message).ends_with(kCancelledMessage);
}

namespace internal {
struct CancelState {
  std::atomic<bool> cancelled{false};
  std::mutex mu;  // guards callbacks and next_id; leaf lock, never held while a callback runs
  uint64_t next_id = 1;
  std::map<uint64_t, std::function<void()>> callbacks;
};
}  // namespace internal

class CancelToken {
 public:
  CancelToken() = default;  // never cancelled

  bool cancelled() const { return state_ && state_->cancelled.load(std::memory_order_acquire); }

  // Runs fn when (or at once if) the token is cancelled. Returns an id for Unregister; 0 when fn
  // already ran or the token can never be cancelled.
  uint64_t Register(std::function<void()> fn) const {
    if (!state_) return 0;
    {
      std::lock_guard lock(state_->mu);
      if (!state_->cancelled.load(std::memory_order_acquire)) {
        uint64_t id = state_->next_id++;
        state_->callbacks.emplace(id, std::move(fn));
        return id;
      }
    }
    fn();
    return 0;
  }
  // After Unregister returns, the callback will not start, unless a Cancel() on another thread
  // already took it (then it may still be running: keep what it touches alive until Cancel()
  // returns, e.g. by sharing ownership with the callback).
  void Unregister(uint64_t id) const {
    if (!state_ || id == 0) return;
    std::lock_guard lock(state_->mu);
    state_->callbacks.erase(id);
  }

 private:
  friend class CancelSource;
  explicit CancelToken(std::shared_ptr<internal::CancelState> s) : state_(std::move(s)) {}
  std::shared_ptr<internal::CancelState> state_;
};

class CancelSource {
 public:
  CancelSource() : state_(std::make_shared<internal::CancelState>()) {}
  CancelToken token() const { return CancelToken(state_); }
  bool cancelled() const { return state_->cancelled.load(std::memory_order_acquire); }
  // Idempotent; runs every registered callback once.
  void Cancel() {
    std::map<uint64_t, std::function<void()>> callbacks;
    {
      std::lock_guard lock(state_->mu);
      if (state_->cancelled.exchange(true, std::memory_order_acq_rel)) return;
      callbacks.swap(state_->callbacks);
    }
    for (auto& [id, fn] : callbacks) fn();
  }

 private:
  std::shared_ptr<internal::CancelState> state_;
};

}  // namespace shardfs::util
