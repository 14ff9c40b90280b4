// Golden files pin the on-disk formats (docs/sealed-block.md, docs/keyfile.md): today's code must
// produce exactly the committed bytes from fixed inputs, and must still open them. A failure here
// means a format change: bump the version and keep reading the old one rather than regenerate.
// To regenerate deliberately (after a version bump), run with SHARDFS_UPDATE_GOLDEN=1: the test
// rewrites tests/data/golden/ in the source tree instead of comparing, then commit the result.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "fs/crypto/aead.h"
#include "fs/crypto/keyfile.h"
#include "fs/util/encoding.h"
#include "fs/util/files.h"
#include "tests/golden_util.h"

namespace shardfs::crypto {
namespace {

using golden::Counting;
using golden::Updating;

using util::Bytes;
using util::ByteSpan;
using util::SecretBytes;

const std::string kGoldenDir = std::string(SHARDFS_TEST_DATA_DIR) + "/golden";

// 64 hex digits per line, so a diff of the golden file shows where the bytes moved.
std::string WrappedHex(ByteSpan data) {
  std::string hex = util::ToHex(data), out;
  for (size_t i = 0; i < hex.size(); i += 64) out += hex.substr(i, 64) + "\n";
  return out;
}

Bytes ParseHexFile(const Bytes& file) {
  std::string hex;
  for (uint8_t c : file) {
    if (c != '\n' && c != ' ' && c != '\r') hex.push_back(static_cast<char>(c));
  }
  auto b = util::FromHex(hex);
  EXPECT_TRUE(b.has_value()) << "golden hex file is not hex";
  return b.value_or(Bytes{});
}

TEST(GoldenTest, SealedBlockV1) {
  const SecretBytes key = SecretBytes::CopyOf(ByteSpan(Counting(0x00, kAeadKeySize)));
  const Bytes nonce = Counting(0xa0, kAeadNonceSize);
  const Bytes aad = BlockAad(util::AsBytes("golden-drive"), 2, 3, 1);
  const std::string_view plaintext = "shardfs sealed block format v1 golden plaintext\n";
  auto sealed = SealBlockWithNonce(key, nonce, aad, util::AsBytes(plaintext));
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;

  const std::string path = kGoldenDir + "/sealed-block-v1.hex";
  if (Updating()) {
    const std::string hex = WrappedHex(*sealed);
    ASSERT_TRUE(util::WriteFileAtomic(path, util::AsBytes(hex), 0644).ok());
  }
  auto file = util::ReadFile(path, 1 << 20);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const Bytes golden = ParseHexFile(*file);
  EXPECT_EQ(util::ToHex(golden), util::ToHex(*sealed));
  auto opened = OpenBlock(key, aad, golden);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(util::AsStringView(*opened), plaintext);
}

TEST(GoldenTest, KeyfileV1) {
  // The all-"abandon" BIP39 test mnemonic: obviously not a real drive's secret.
  std::string mnemonic;
  for (int i = 0; i < 23; ++i) mnemonic += "abandon ";
  mnemonic += "art";
  const SecretBytes secret = SecretBytes::CopyOf(mnemonic);
  const SecretBytes password = SecretBytes::CopyOf("correct horse battery staple");
  const KdfParams params{.t_cost = 1, .m_cost_kib = 1024, .parallelism = 1};
  auto keyfile = WrapSecretWith(secret, password, params, Counting(0x10, 16), Counting(0x20, 12));
  ASSERT_TRUE(keyfile.ok()) << keyfile.error().message;

  const std::string path = kGoldenDir + "/keyfile-v1.bin";
  if (Updating()) {
    ASSERT_TRUE(util::WriteFileAtomic(path, *keyfile, 0644).ok());
  }
  auto golden = util::ReadFile(path, 1 << 20);
  ASSERT_TRUE(golden.ok()) << golden.error().message;
  EXPECT_EQ(util::ToHex(*golden), util::ToHex(*keyfile));
  auto unwrapped = UnwrapSecret(*golden, password, path);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.error().message;
  EXPECT_EQ(unwrapped->view(), mnemonic);
  auto stored = ReadKdfParams(*golden, path);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->t_cost, 1u);
  EXPECT_EQ(stored->m_cost_kib, 1024u);
  EXPECT_EQ(stored->parallelism, 1u);
}

}  // namespace
}  // namespace shardfs::crypto
