// shardfs-node as a process: a 1 GiB streamed PUT and GET with bounded memory, kill -9 in the
// middle of an upload, SIGTERM, many concurrent connections.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "fs/util/files.h"
#include "tests/node/node_harness.h"

namespace shardfs::node::testing {
namespace {

// Deterministic and cheap content: each 4 KiB page is filled with a byte derived from its index
// and starts with its offset, so a misplaced page is detected.
void Pattern(uint64_t off, uint8_t* buf, size_t n) {
  for (size_t i = 0; i < n;) {
    uint64_t pos = off + i;
    size_t page_left = 4096 - static_cast<size_t>(pos % 4096);
    size_t len = std::min(page_left, n - i);
    std::memset(buf + i, static_cast<int>((pos / 4096 * 131) & 0xff), len);
    if (pos % 4096 == 0 && len >= 8) std::memcpy(buf + i, &pos, 8);
    i += len;
  }
}

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}

TEST(NodeProcessTest, OneGibStreamedWithBoundedMemory) {
  NodeProcess node({{"AK1", "s1", 0}});
  node.Start();
  S3Client c(node.port(), "AK1", "s1");
  ASSERT_EQ(c.Put("/big", "").status, 200);
  const uint64_t kSize = uint64_t{1} << 30;
  Request put;
  put.method = "PUT";
  put.path = "/big/blob";
  put.body_size = kSize;
  put.fill = Pattern;
  Response r = c.Send(put);
  ASSERT_EQ(r.status, 200) << r.body << node.Log();
  remote::s3::Sha256Hasher want;
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t off = 0; off < kSize; off += buf.size()) {
    Pattern(off, buf.data(), buf.size());
    want.Update(buf);
  }
  remote::s3::Sha256Hasher got;
  Request get;
  get.path = "/big/blob";
  r = c.Send(get, [&got](const uint8_t* p, size_t n) { got.Update({p, n}); });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body_bytes, kSize);
  EXPECT_EQ(got.FinishHex(), want.FinishHex());
  uint64_t hwm_kib = node.PeakRssKib();
  std::printf("shardfs-node peak RSS after a 1 GiB PUT and GET: %.1f MiB\n", hwm_kib / 1024.0);
  // ASan's shadow memory and quarantine add ~20 MiB to the same bounded buffers.
#if defined(__SANITIZE_ADDRESS__)
  constexpr uint64_t kLimitMib = 160;
#else
  constexpr uint64_t kLimitMib = 100;
#endif
  EXPECT_LT(hwm_kib, kLimitMib * 1024);
  EXPECT_EQ(node.Stop(SIGTERM), 0);
}

TEST(NodeProcessTest, KillDuringUploadLeavesNothing) {
  NodeProcess node({{"AK1", "s1", 0}});
  node.Start();
  S3Client c(node.port(), "AK1", "s1");
  ASSERT_EQ(c.Put("/kill", "").status, 200);
  ASSERT_EQ(c.Put("/kill/old", "old content").status, 200);
  std::atomic<bool> killed{false};
  std::thread uploader([&] {
    Request put;
    put.method = "PUT";
    put.path = "/kill/old";  // replaces an existing object: the old one must survive
    put.body_size = uint64_t{256} << 20;
    put.fill = [&](uint64_t off, uint8_t* b, size_t n) {
      if (off >= (uint64_t{16} << 20) && !killed.exchange(true)) node.Kill9();
      Pattern(off, b, n);
    };
    c.Send(put);
  });
  uploader.join();
  ASSERT_TRUE(killed.load());
  EXPECT_GE(CountFiles(node.data_dir() + "/tmp"), 1u);  // the half-written upload
  node.Start();
  EXPECT_EQ(CountFiles(node.data_dir() + "/tmp"), 0u);
  EXPECT_EQ(c.Get("/kill/old").body, "old content");
  Response list = c.Get("/kill");
  EXPECT_EQ(list.body.find("<Size>268435456</Size>"), std::string::npos);
  EXPECT_EQ(node.Stop(SIGTERM), 0);
}

TEST(NodeProcessTest, ManyConcurrentConnections) {
  NodeProcess node({{"AK1", "s1", 0}});
  node.Start();
  S3Client c(node.port(), "AK1", "s1");
  ASSERT_EQ(c.Put("/conc", "").status, 200);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string key = "/conc/t" + std::to_string(t) + "-" + std::to_string(i);
        std::string body(1000 + t * 10 + i, static_cast<char>('a' + t));
        if (c.Put(key, body).status == 200 && c.Get(key).body == body) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_EQ(node.Stop(SIGINT), 0);
}

}  // namespace
}  // namespace shardfs::node::testing
