#include "fs/util/cancel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace shardfs::util {
namespace {

TEST(CancelTest, DefaultTokenNeverCancels) {
  CancelToken token;
  EXPECT_FALSE(token.cancelled());
  bool ran = false;
  EXPECT_EQ(token.Register([&] { ran = true; }), 0u);
  EXPECT_FALSE(ran);
}

TEST(CancelTest, CallbacksRunOnceOnCancelAndAtOnceAfterwards) {
  CancelSource source;
  CancelToken token = source.token();
  int first = 0, removed = 0, late = 0;
  token.Register([&] { ++first; });
  uint64_t id = token.Register([&] { ++removed; });
  token.Unregister(id);
  EXPECT_FALSE(token.cancelled());
  source.Cancel();
  source.Cancel();  // idempotent
  EXPECT_TRUE(token.cancelled());
  EXPECT_TRUE(source.cancelled());
  EXPECT_EQ(first, 1);
  EXPECT_EQ(removed, 0);
  EXPECT_EQ(token.Register([&] { ++late; }), 0u);
  EXPECT_EQ(late, 1);
}

TEST(CancelTest, CancelFromAnotherThreadWakesAWaiter) {
  CancelSource source;
  std::atomic<bool> woke{false};
  source.token().Register([&] { woke = true; });
  std::thread t([&] { source.Cancel(); });
  t.join();
  EXPECT_TRUE(woke);
}

}  // namespace
}  // namespace shardfs::util
