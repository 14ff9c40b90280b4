#include "fs/fuse/daemon_socket.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace shardfs::fuse {
namespace {

// A device number no real mount has, different per test process.
constexpr uint32_t kMajor = 4000;
uint32_t Minor(uint32_t n) { return static_cast<uint32_t>(::getpid()) * 16 + n; }

TEST(DaemonSocket, ConnectionNamesTheDaemonAndSeesItGo) {
  auto listener = DaemonListener::Listen(kMajor, Minor(1));
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  auto conn = DaemonConnection::Connect(kMajor, Minor(1));
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  EXPECT_EQ(conn->pid(), ::getpid());
  EXPECT_EQ(conn->uid(), ::getuid());
  EXPECT_FALSE(conn->WaitForExit(0));
  EXPECT_FALSE(conn->WaitForExit(20));
  { DaemonListener gone = std::move(listener).value(); }
  EXPECT_TRUE(conn->WaitForExit(5000));
}

TEST(DaemonSocket, NoDaemonIsNotFound) {
  auto conn = DaemonConnection::Connect(kMajor, Minor(2));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.code(), util::Errc::kNotFound);
}

TEST(DaemonSocket, OneListenerPerMount) {
  auto first = DaemonListener::Listen(kMajor, Minor(3));
  ASSERT_TRUE(first.ok());
  auto second = DaemonListener::Listen(kMajor, Minor(3));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.code(), util::Errc::kExists);
}

TEST(DaemonSocket, WaitsForAnotherProcessToExit) {
  const uint32_t minor = Minor(4);  // the parent's pid, in both processes
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto listener = DaemonListener::Listen(kMajor, minor);
    char ok = listener.ok() ? 1 : 0;
    (void)!::write(ready[1], &ok, 1);
    ::usleep(200 * 1000);
    ::_exit(0);
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 1);
  auto conn = DaemonConnection::Connect(kMajor, minor);
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  EXPECT_EQ(conn->pid(), child);
  EXPECT_TRUE(conn->WaitForExit(10000));
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(ready[0]);
  ::close(ready[1]);
}

}  // namespace
}  // namespace shardfs::fuse
