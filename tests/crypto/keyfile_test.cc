// Keyfile wrapping: round trips, wrong password, and every way a file on disk can be damaged or
// crafted. Expected errors for a damaged v1 file (docs/keyfile.md): every single-byte change is
// kCorrupt (the trailing SHA-256 covers every byte), except the version byte, which is read
// before the checksum: a higher value is kUnsupported, 0 is kCorrupt. A crafted file with a
// recomputed checksum is kCorrupt if its fields are out of bounds, else kPermission (the
// password no longer opens it). Nothing ever unwraps, crashes, or runs Argon2 on bad bounds.
// Argon2 runs with t=1, m=1 MiB for speed except in one test of the defaults.
#include "fs/crypto/keyfile.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>

#include "fs/util/encoding.h"
#include "fs/util/files.h"

namespace shardfs::crypto {
namespace {

using util::Bytes;
using util::ByteSpan;
using util::Errc;
using util::SecretBytes;

constexpr KdfParams kFast{.t_cost = 1, .m_cost_kib = 1024, .parallelism = 1};
constexpr size_t kVersionOffset = 6;
constexpr size_t kTCostOffset = 8;
constexpr size_t kMCostOffset = 12;
constexpr size_t kParallelismOffset = 16;
constexpr size_t kSaltOffset = 20;
constexpr size_t kCtLengthOffset = 48;
constexpr size_t kHeaderSize = 52;

const char* kMnemonic =
    "legal winner thank year wave sausage worth useful legal winner thank year wave sausage "
    "worth useful legal winner thank year wave sausage worth title";
const char* kName = "/home/u/.config/shardfs/test.key";

SecretBytes Secret() { return SecretBytes::CopyOf(std::string_view(kMnemonic)); }
SecretBytes Password() { return SecretBytes::CopyOf("hunter2 but longer"); }

Bytes Wrap() {
  auto k = WrapSecret(Secret(), Password(), kFast);
  EXPECT_TRUE(k.ok()) << k.error().message;
  return k.ok() ? *k : Bytes{};
}

// Rewrites the trailing SHA-256 so a crafted change gets past the damage check.
void FixChecksum(Bytes& file) {
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(file.data(), file.size() - 32, file.data() + file.size() - 32, &len,
                       EVP_sha256(), nullptr),
            1);
}

void SetU32(Bytes& file, size_t offset, uint32_t v) { util::StoreU32Le(file.data() + offset, v); }

TEST(KeyfileTest, RoundTrip) {
  const Bytes file = Wrap();
  EXPECT_EQ(file.size(), kHeaderSize + std::string_view(kMnemonic).size() + 16 + 32);
  auto secret = UnwrapSecret(file, Password(), kName);
  ASSERT_TRUE(secret.ok()) << secret.error().message;
  EXPECT_EQ(secret->view(), kMnemonic);
  auto params = ReadKdfParams(file, kName);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->t_cost, kFast.t_cost);
  EXPECT_EQ(params->m_cost_kib, kFast.m_cost_kib);
  EXPECT_EQ(params->parallelism, kFast.parallelism);
}

TEST(KeyfileTest, RoundTripWithDefaultParams) {
  auto file = WrapSecret(Secret(), Password(), KdfParams{});
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto params = ReadKdfParams(*file, kName);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->m_cost_kib, 65536u);
  auto secret = UnwrapSecret(*file, Password(), kName);
  ASSERT_TRUE(secret.ok()) << secret.error().message;
  EXPECT_EQ(secret->view(), kMnemonic);
}

TEST(KeyfileTest, SaltAndNonceAreFresh) { EXPECT_NE(Wrap(), Wrap()); }

TEST(KeyfileTest, WrongPasswordIsPermissionAndNamesTheFile) {
  auto r = UnwrapSecret(Wrap(), SecretBytes::CopyOf("hunter3 but longer"), kName);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::kPermission);
  EXPECT_EQ(r.error().message, std::string("the password does not open keyfile ") + kName);
  EXPECT_EQ(UnwrapSecret(Wrap(), SecretBytes(), kName).code(), Errc::kPermission);
}

TEST(KeyfileTest, EveryTruncationIsCorrupt) {
  const Bytes file = Wrap();
  for (size_t len = 0; len < file.size(); ++len) {
    auto r = UnwrapSecret(ByteSpan(file).first(len), Password(), kName);
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.code(), Errc::kCorrupt) << len;
    EXPECT_EQ(ReadKdfParams(ByteSpan(file).first(len), kName).code(), Errc::kCorrupt) << len;
  }
}

TEST(KeyfileTest, EveryFlippedByteIsDetected) {
  const Bytes file = Wrap();
  for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
    for (size_t i = 0; i < file.size(); ++i) {
      Bytes bad = file;
      bad[i] ^= mask;
      Errc want = Errc::kCorrupt;
      if (i == kVersionOffset && bad[i] > kKeyfileVersion) want = Errc::kUnsupported;
      auto r = UnwrapSecret(bad, Password(), kName);
      ASSERT_FALSE(r.ok()) << "byte " << i << " mask " << int{mask};
      EXPECT_EQ(r.code(), want) << "byte " << i << " mask " << int{mask};
    }
  }
}

TEST(KeyfileTest, DamageMessageNamesFileAndRecovery) {
  Bytes bad = Wrap();
  bad[30] ^= 1;
  auto r = UnwrapSecret(bad, Password(), kName);
  ASSERT_EQ(r.code(), Errc::kCorrupt);
  EXPECT_NE(r.error().message.find(kName), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("damaged"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("shardfs init DRIVE --restore"), std::string::npos);
}

TEST(KeyfileTest, NewerVersionIsUnsupported) {
  Bytes newer = Wrap();
  newer[kVersionOffset] = 2;
  FixChecksum(newer);
  auto r = UnwrapSecret(newer, Password(), kName);
  ASSERT_EQ(r.code(), Errc::kUnsupported);
  EXPECT_NE(r.error().message.find("newer shardfs"), std::string::npos) << r.error().message;
  // A newer format may be laid out differently; its size alone must not make it "damaged".
  newer.resize(kVersionOffset + 1);
  EXPECT_EQ(UnwrapSecret(newer, Password(), kName).code(), Errc::kUnsupported);
}

TEST(KeyfileTest, OutOfBoundsParamsAreCorruptEvenWithValidChecksum) {
  struct Case {
    size_t offset;
    uint32_t value;
  };
  const Case cases[] = {
      {kMCostOffset, 0xffffffff},
      {kMCostOffset, kMaxKdfMCostKib + 1},
      {kMCostOffset, 0},
      {kMCostOffset, 7},
      {kTCostOffset, 0},
      {kTCostOffset, kMaxKdfTCost + 1},
      {kTCostOffset, 0xffffffff},
      {kParallelismOffset, 0},
      {kParallelismOffset, 0xffffffff},
      {kParallelismOffset, kMaxKdfParallelism + 1},
  };
  for (const Case& c : cases) {
    Bytes crafted = Wrap();
    SetU32(crafted, c.offset, c.value);
    FixChecksum(crafted);
    // Returns at once: were Argon2 run with m = 4 TiB, this would fail or hang instead.
    auto r = UnwrapSecret(crafted, Password(), kName);
    EXPECT_EQ(r.code(), Errc::kCorrupt) << c.offset << "=" << c.value;
    EXPECT_EQ(ReadKdfParams(crafted, kName).code(), Errc::kCorrupt);
  }
  Bytes other_kdf = Wrap();
  other_kdf[7] = 2;
  FixChecksum(other_kdf);
  EXPECT_EQ(UnwrapSecret(other_kdf, Password(), kName).code(), Errc::kCorrupt);
}

TEST(KeyfileTest, AbsurdCiphertextLengthIsCorrupt) {
  for (uint32_t len : {0u, 15u, 4097u, 0xffffffffu}) {
    Bytes crafted = Wrap();
    SetU32(crafted, kCtLengthOffset, len);
    EXPECT_EQ(UnwrapSecret(crafted, Password(), kName).code(), Errc::kCorrupt) << len;
  }
}

TEST(KeyfileTest, TrailingGarbageIsCorrupt) {
  Bytes longer = Wrap();
  longer.push_back(0);
  EXPECT_EQ(UnwrapSecret(longer, Password(), kName).code(), Errc::kCorrupt);
}

TEST(KeyfileTest, CraftedChangeWithValidChecksumNeverOpens) {
  // The checksum is not a MAC: a changed salt, nonce, header or ciphertext with a recomputed
  // checksum reaches AES-GCM, whose tag (over the header as AAD) refuses it.
  for (size_t i :
       {size_t{kSaltOffset}, size_t{40}, size_t{kHeaderSize}, size_t{kHeaderSize + 50}}) {
    Bytes crafted = Wrap();
    crafted[i] ^= 1;
    FixChecksum(crafted);
    EXPECT_EQ(UnwrapSecret(crafted, Password(), kName).code(), Errc::kPermission) << i;
  }
  Bytes more_passes = Wrap();
  SetU32(more_passes, kTCostOffset, 2);
  FixChecksum(more_passes);
  EXPECT_EQ(UnwrapSecret(more_passes, Password(), kName).code(), Errc::kPermission);
}

TEST(KeyfileTest, GarbageIsCorrupt) {
  std::mt19937 rng(1234);
  for (size_t n : {0, 1, 6, 52, 100, 116, 200, 4096}) {
    Bytes junk(n);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    EXPECT_EQ(UnwrapSecret(junk, Password(), kName).code(), Errc::kCorrupt) << n;
    // Even with a valid magic and version, random contents are damage.
    if (n >= 7) {
      std::copy_n("SFKEYF\x01", 7, junk.begin());
      EXPECT_EQ(UnwrapSecret(junk, Password(), kName).code(), Errc::kCorrupt) << n;
    }
  }
  const std::string_view words = "legal winner thank year wave sausage worth useful\n";
  const Bytes text(words.begin(), words.end());
  EXPECT_EQ(UnwrapSecret(text, Password(), kName).code(), Errc::kCorrupt);
}

TEST(KeyfileTest, WrapRejectsBadInput) {
  EXPECT_EQ(WrapSecret(Secret(), Password(), {.t_cost = 0}).code(), Errc::kInvalid);
  EXPECT_EQ(
      WrapSecret(Secret(), Password(), {.t_cost = 1, .m_cost_kib = kMaxKdfMCostKib + 1}).code(),
      Errc::kInvalid);
  EXPECT_EQ(
      WrapSecret(Secret(), Password(), {.t_cost = 1, .m_cost_kib = 1024, .parallelism = 0}).code(),
      Errc::kInvalid);
  EXPECT_EQ(WrapSecret(SecretBytes(5000), Password(), kFast).code(), Errc::kInvalid);
  EXPECT_EQ(WrapSecretWith(Secret(), Password(), kFast, Bytes(15), Bytes(12)).code(),
            Errc::kInvalid);
  EXPECT_EQ(WrapSecretWith(Secret(), Password(), kFast, Bytes(16), Bytes(16)).code(),
            Errc::kInvalid);
}

class KeyfileFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shardfs-keyfile-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(util::RemoveTree(dir_).ok()); }
  std::string dir_;
};

TEST_F(KeyfileFileTest, WriteCreates0600AndReadsBack) {
  const std::string path = dir_ + "/drive.key";
  ASSERT_TRUE(WriteKeyfile(path, Wrap(), /*replace=*/false).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto secret = ReadKeyfile(path, Password());
  ASSERT_TRUE(secret.ok()) << secret.error().message;
  EXPECT_EQ(secret->view(), kMnemonic);
  auto wrong = ReadKeyfile(path, SecretBytes::CopyOf("nope"));
  EXPECT_EQ(wrong.code(), Errc::kPermission);
  EXPECT_NE(wrong.error().message.find(path), std::string::npos);
}

TEST_F(KeyfileFileTest, RefusesToOverwriteUnlessReplace) {
  const std::string path = dir_ + "/drive.key";
  const Bytes first = Wrap();
  ASSERT_TRUE(WriteKeyfile(path, first, false).ok());
  EXPECT_EQ(WriteKeyfile(path, Wrap(), false).code(), Errc::kExists);
  auto kept = util::ReadFile(path, 1 << 16);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, first);
  const Bytes second = Wrap();
  ASSERT_TRUE(WriteKeyfile(path, second, true).ok());
  kept = util::ReadFile(path, 1 << 16);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, second);
}

TEST_F(KeyfileFileTest, MissingIsNotFoundNamingThePath) {
  const std::string path = dir_ + "/absent.key";
  auto r = ReadKeyfile(path, Password());
  ASSERT_EQ(r.code(), Errc::kNotFound);
  EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
}

TEST_F(KeyfileFileTest, GarbageFilesAreCorrupt) {
  const std::string text = dir_ + "/notes.txt";
  ASSERT_TRUE(util::WriteFileAtomic(text, util::AsBytes("my password is hunter2\n"), 0600).ok());
  auto r = ReadKeyfile(text, Password());
  ASSERT_EQ(r.code(), Errc::kCorrupt);
  EXPECT_NE(r.error().message.find(text), std::string::npos) << r.error().message;

  const std::string big = dir_ + "/big.bin";
  ASSERT_TRUE(util::WriteFileAtomic(big, Bytes(1 << 20, 'x'), 0600).ok());
  EXPECT_EQ(ReadKeyfile(big, Password()).code(), Errc::kCorrupt);

  const std::string empty = dir_ + "/empty.key";
  ASSERT_TRUE(util::WriteFileAtomic(empty, {}, 0600).ok());
  EXPECT_EQ(ReadKeyfile(empty, Password()).code(), Errc::kCorrupt);
}

}  // namespace
}  // namespace shardfs::crypto
