// Reference-model test: random operation sequences on CoreFs, checked against a plain
// in-memory model (name -> contents) after every step. Small blocks and a tiny cache and
// memory budget make buffers spill, blocks evict, and remounts read back from the store.
// The seed is printed on failure; SHARDFS_SEED=N replays one sequence.
#include <fcntl.h>

#include <cstdlib>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "tests/core/core_fs_harness.h"

namespace shardfs::core {
namespace {

class Model {
 public:
  explicit Model(uint64_t seed, CoreFsHarness& h) : rng_(seed), h_(h) {}

  void Step(int i) {
    int op = Pick(0, 99);
    if (files_.empty() || op < 8) return Create(i);
    auto it = files_.begin();
    std::advance(it, Pick(0, static_cast<int>(files_.size()) - 1));
    const std::string name = it->first;
    std::string& content = it->second;
    if (op < 50) return Write(name, content);
    if (op < 62) return Truncate(name, content);
    if (op < 68) return Punch(name, content);
    if (op < 72) return Rename(name);
    if (op < 75) return Unlink(name);
    if (op < 78) return h_.Remount();
    if (op < 79) {
      h_.Unmount();
      h_.WipeCache();
      ASSERT_TRUE(h_.Mount().ok());
      return;
    }
    return Check(name, content);
  }

  void CheckAll() {
    for (auto& [name, content] : files_) Check(name, content);
  }

 private:
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  uint64_t Ino(const std::string& name) {
    auto a = h_.fs().Lookup(kRootIno, name);
    EXPECT_TRUE(a.ok()) << name;
    return a.ok() ? a->ino : 0;
  }
  uint64_t OpenFh(uint64_t ino) { return *h_.fs().Open(ino, O_RDWR); }

  void Create(int i) {
    std::string name = "file" + std::to_string(i);
    auto c = h_.fs().Create(kRootIno, name, 0644, O_RDWR | O_CREAT | O_EXCL, RootCaller());
    ASSERT_TRUE(c.ok()) << c.error().message;
    ASSERT_TRUE(h_.fs().Release(c->attr.ino, c->fh).ok());
    files_[name] = "";
  }
  void Write(const std::string& name, std::string& content) {
    const uint64_t bs = h_.block_size();
    uint64_t off = Pick(0, 3) == 0 ? content.size() : Pick(0, static_cast<int>(6 * bs));
    const int kind = Pick(0, 5);  // whole blocks, small writes (patches), or anything
    size_t len = kind == 0  ? bs * Pick(1, 3)
                 : kind < 3 ? Pick(1, 100)
                            : Pick(1, static_cast<int>(2 * bs));
    std::string data(len, '\0');
    for (auto& c : data) c = static_cast<char>(Pick(0, 255));
    uint64_t ino = Ino(name);
    uint64_t fh = OpenFh(ino);
    auto n = h_.fs().Write(ino, fh, off, util::AsBytes(data));
    ASSERT_TRUE(n.ok()) << n.error().message;
    if (content.size() < off + len) content.resize(off + len, '\0');
    content.replace(off, len, data);
    if (Pick(0, 4) == 0) {
      ASSERT_TRUE(h_.fs().Fsync(ino, fh, false).ok());
    }
    ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  }
  void Truncate(const std::string& name, std::string& content) {
    SetAttr s;
    s.size = Pick(0, static_cast<int>(7 * h_.block_size()));
    ASSERT_TRUE(h_.fs().SetAttributes(Ino(name), s, RootCaller()).ok());
    content.resize(*s.size, '\0');
  }
  void Punch(const std::string& name, std::string& content) {
    if (content.empty()) return;
    uint64_t off = Pick(0, static_cast<int>(content.size()) - 1);
    uint64_t len = Pick(1, static_cast<int>(3 * h_.block_size()));
    uint64_t ino = Ino(name);
    uint64_t fh = OpenFh(ino);
    ASSERT_TRUE(h_.fs().Fallocate(ino, fh, kFallocPunchHole | kFallocKeepSize, off, len).ok());
    ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
    for (uint64_t i = off; i < std::min<uint64_t>(content.size(), off + len); ++i) content[i] = 0;
  }
  void Rename(const std::string& name) {
    std::string to = name + "r";
    ASSERT_TRUE(h_.fs().Rename(kRootIno, name, kRootIno, to, 0).ok());
    files_.erase(to);
    auto node = files_.extract(name);
    node.key() = to;
    files_.insert(std::move(node));
  }
  void Unlink(const std::string& name) {
    ASSERT_TRUE(h_.fs().Unlink(kRootIno, name).ok());
    files_.erase(name);
  }
  void Check(const std::string& name, const std::string& content) {
    uint64_t ino = Ino(name);
    auto attr = h_.fs().GetAttr(ino);
    ASSERT_TRUE(attr.ok());
    ASSERT_EQ(attr->size, content.size()) << name;
    uint64_t fh = OpenFh(ino);
    std::string got(content.size() + 10, 'x');
    auto n = h_.fs().Read(
        ino, fh, 0, util::MutableByteSpan(reinterpret_cast<uint8_t*>(got.data()), got.size()));
    ASSERT_TRUE(n.ok()) << n.error().message;
    got.resize(*n);
    ASSERT_TRUE(got == content) << name << ": contents differ";
    ASSERT_TRUE(h_.fs().Release(ino, fh).ok());
  }

  std::mt19937_64 rng_;
  CoreFsHarness& h_;
  std::map<std::string, std::string> files_;
};

TEST(CoreFsModelTest, RandomOperationsMatchTheModel) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("SHARDFS_SEED")) seed = std::strtoull(s, nullptr, 10);
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (replay with SHARDFS_SEED=" + std::to_string(seed) + ")");
  // 4 KiB blocks, a 64 KiB block cache and 32 KiB of buffers: everything spills.
  CoreFsHarness h(4096, 64 << 10, 32 << 10);
  ASSERT_TRUE(h.Mount().ok());
  Model model(seed, h);
  for (int i = 0; i < 600; ++i) {
    model.Step(i);
    if (::testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "failed at step " << i;
      return;
    }
  }
  model.CheckAll();
  h.Remount();
  model.CheckAll();
}

}  // namespace
}  // namespace shardfs::core
