// Sealed blocks and raw AES-256-GCM: round trips, size hiding, tampering with every byte,
// truncation, wrong key/AAD, moved blocks, and a published known-answer vector.
#include "fs/crypto/aead.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fs/util/encoding.h"

namespace shardfs::crypto {
namespace {

using util::Bytes;
using util::ByteSpan;
using util::Errc;
using util::SecretBytes;

SecretBytes TestKey(uint8_t seed) {
  SecretBytes key(kAeadKeySize);
  for (size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<uint8_t>(seed + i * 7);
  return key;
}

Bytes Pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i * 131) ^ (i >> 8));
  return b;
}

Bytes Hex(std::string_view hex) {
  auto b = util::FromHex(hex);
  EXPECT_TRUE(b.has_value()) << hex;
  return b.value_or(Bytes{});
}

const Bytes kDriveId = {0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8};

TEST(AeadTest, RoundTripsManySizes) {
  const SecretBytes key = TestKey(1);
  const Bytes aad = BlockAad(kDriveId, 42, 7, 3);
  for (size_t n : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{4097}, size_t{1} << 20,
                   size_t{4} << 20}) {
    SCOPED_TRACE(n);
    const Bytes plain = Pattern(n);
    auto sealed = SealBlock(key, aad, plain);
    ASSERT_TRUE(sealed.ok()) << sealed.error().message;
    EXPECT_EQ(sealed->size(), SealedBlockSize(n));
    auto opened = OpenBlock(key, aad, *sealed);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(*opened, plain);
    auto in_place = OpenBlockInPlace(key, aad, *sealed);
    ASSERT_TRUE(in_place.ok()) << in_place.error().message;
    EXPECT_EQ(*in_place, plain);
  }
}

TEST(AeadTest, PaddingFollowsPadmeWithFloor) {
  // Everything up to 256 bytes pads to the floor (4 length bytes + 256).
  EXPECT_EQ(PaddedPayloadSize(0), 260u);
  EXPECT_EQ(PaddedPayloadSize(256), 260u);
  EXPECT_EQ(PaddedPayloadSize(257), 276u);  // 4 + Padmé(257) = 4 + 272
  EXPECT_EQ(SealedBlockSize(0), kSealedBlockHeaderSize + 260 + kAeadTagSize);
  // A full power-of-two block costs only its 4 length bytes.
  EXPECT_EQ(PaddedPayloadSize(size_t{4} << 20), (size_t{4} << 20) + 4);
  EXPECT_EQ(PaddedPayloadSize(size_t{64} << 10), (size_t{64} << 10) + 4);
  // Monotone, never smaller than the payload, overhead under 12% of the payload.
  size_t prev = 0;
  for (size_t n = 0; n < 300000; n += (n < 5000 ? 1 : 97)) {
    const size_t padded = PaddedPayloadSize(n);
    ASSERT_GE(padded, n + 4) << n;
    ASSERT_GE(padded, prev) << n;
    if (n + 4 > 256) {
      ASSERT_LT((padded - (n + 4)) * 100, (n + 4) * 12) << n;
    }
    prev = padded;
  }
}

TEST(AeadTest, SealedSizeHidesExactSize) {
  const SecretBytes key = TestKey(2);
  const size_t expected = SealedBlockSize(1000);
  for (size_t n = 1000; n <= 1010; ++n) {
    auto sealed = SealBlock(key, {}, Pattern(n));
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(sealed->size(), expected) << n;
  }
}

TEST(AeadTest, EveryFlippedByteIsCorrupt) {
  const SecretBytes key = TestKey(3);
  const Bytes aad = BlockAad(kDriveId, 1, 0, 1);
  auto sealed = SealBlock(key, aad, Pattern(300));
  ASSERT_TRUE(sealed.ok());
  for (size_t i = 0; i < sealed->size(); ++i) {
    Bytes bad = *sealed;
    bad[i] ^= 0x01;
    auto opened = OpenBlock(key, aad, bad);
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_EQ(opened.code(), Errc::kCorrupt) << "byte " << i;
    EXPECT_EQ(OpenBlockInPlace(key, aad, bad).code(), Errc::kCorrupt) << "byte " << i;
  }
}

TEST(AeadTest, EveryTruncationIsCorrupt) {
  const SecretBytes key = TestKey(4);
  auto sealed = SealBlock(key, {}, Pattern(100));
  ASSERT_TRUE(sealed.ok());
  for (size_t len = 0; len < sealed->size(); ++len) {
    auto opened = OpenBlock(key, {}, ByteSpan(*sealed).first(len));
    ASSERT_FALSE(opened.ok()) << len;
    EXPECT_EQ(opened.code(), Errc::kCorrupt) << len;
  }
  // Appended bytes too.
  Bytes longer = *sealed;
  longer.push_back(0);
  EXPECT_EQ(OpenBlock(key, {}, longer).code(), Errc::kCorrupt);
}

TEST(AeadTest, WrongKeyOrAadIsCorrupt) {
  const SecretBytes key = TestKey(5);
  const Bytes aad = BlockAad(kDriveId, 9, 9, 9);
  auto sealed = SealBlock(key, aad, Pattern(5000));
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(OpenBlock(TestKey(6), aad, *sealed).code(), Errc::kCorrupt);
  EXPECT_EQ(OpenBlock(key, BlockAad(kDriveId, 9, 9, 10), *sealed).code(), Errc::kCorrupt);
  EXPECT_EQ(OpenBlock(key, {}, *sealed).code(), Errc::kCorrupt);
  const Bytes other_drive = {0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd9};
  EXPECT_EQ(OpenBlock(key, BlockAad(other_drive, 9, 9, 9), *sealed).code(), Errc::kCorrupt);
}

TEST(AeadTest, SwappedBlocksFail) {
  const SecretBytes key = TestKey(7);
  const Bytes aad0 = BlockAad(kDriveId, 5, 0, 1);
  const Bytes aad1 = BlockAad(kDriveId, 5, 1, 1);
  auto b0 = SealBlock(key, aad0, Pattern(4096));
  auto b1 = SealBlock(key, aad1, Pattern(4096));
  ASSERT_TRUE(b0.ok() && b1.ok());
  EXPECT_TRUE(OpenBlock(key, aad0, *b0).ok());
  EXPECT_EQ(OpenBlock(key, aad0, *b1).code(), Errc::kCorrupt);
  EXPECT_EQ(OpenBlock(key, aad1, *b0).code(), Errc::kCorrupt);
  // Replaying an older generation of the same block fails as well.
  EXPECT_EQ(OpenBlock(key, BlockAad(kDriveId, 5, 0, 2), *b0).code(), Errc::kCorrupt);
}

TEST(AeadTest, NoncesAreFresh) {
  const SecretBytes key = TestKey(8);
  const Bytes plain = Pattern(64);
  auto a = SealBlock(key, {}, plain);
  auto b = SealBlock(key, {}, plain);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(Bytes(a->begin() + 8, a->begin() + 20), Bytes(b->begin() + 8, b->begin() + 20));
}

TEST(AeadTest, HeaderLayout) {
  const Bytes nonce = Hex("000102030405060708090a0b");
  auto sealed = SealBlockWithNonce(TestKey(9), nonce, {}, Pattern(10));
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(Bytes(sealed->begin(), sealed->begin() + 20), Hex("5346424b"
                                                              "01"
                                                              "01"
                                                              "0000"
                                                              "000102030405060708090a0b"));
}

TEST(AeadTest, BlockAadLayout) {
  EXPECT_EQ(BlockAad(Hex("aabb"), 1, 2, 0x0102030405060708), Hex("53464241"
                                                                 "01"
                                                                 "02"
                                                                 "aabb"
                                                                 "0100000000000000"
                                                                 "0200000000000000"
                                                                 "0807060504030201"));
}

TEST(AeadTest, BadKeyOrNonceSizeIsInvalid) {
  SecretBytes short_key(16);
  const Bytes nonce(12, 0);
  EXPECT_EQ(SealBlock(short_key, {}, Pattern(1)).code(), Errc::kInvalid);
  EXPECT_EQ(SealBlockWithNonce(TestKey(1), Bytes(8, 0), {}, Pattern(1)).code(), Errc::kInvalid);
  EXPECT_EQ(OpenBlock(short_key, {}, Bytes(400, 0)).code(), Errc::kInvalid);
  EXPECT_EQ(AesGcmEncrypt(short_key, nonce, {}, Pattern(1)).code(), Errc::kInvalid);
  EXPECT_EQ(AesGcmEncrypt(TestKey(1), Bytes(16, 0), {}, Pattern(1)).code(), Errc::kInvalid);
  EXPECT_EQ(AesGcmDecrypt(short_key, nonce, {}, Bytes(32, 0)).code(), Errc::kInvalid);
  EXPECT_EQ(AesGcmDecrypt(TestKey(1), Bytes(11, 0), {}, Bytes(32, 0)).code(), Errc::kInvalid);
}

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B, test cases 14 and 16
// (AES-256, 96-bit IV). Cross-checked against Python's `cryptography` AESGCM.
struct Kat {
  const char* key;
  const char* iv;
  const char* aad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

constexpr Kat kKats[] = {
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(AeadTest, KnownAnswerVectors) {
  for (const Kat& kat : kKats) {
    SCOPED_TRACE(kat.tag);
    const SecretBytes key = SecretBytes::CopyOf(ByteSpan(Hex(kat.key)));
    const Bytes iv = Hex(kat.iv), aad = Hex(kat.aad), plain = Hex(kat.plaintext);
    Bytes expected = Hex(kat.ciphertext);
    const Bytes tag = Hex(kat.tag);
    expected.insert(expected.end(), tag.begin(), tag.end());

    auto ct = AesGcmEncrypt(key, iv, aad, plain);
    ASSERT_TRUE(ct.ok()) << ct.error().message;
    EXPECT_EQ(util::ToHex(*ct), util::ToHex(expected));
    auto pt = AesGcmDecrypt(key, iv, aad, expected);
    ASSERT_TRUE(pt.ok()) << pt.error().message;
    EXPECT_EQ(Bytes(pt->span().begin(), pt->span().end()), plain);

    Bytes bad_tag = expected;
    bad_tag.back() ^= 0x80;
    EXPECT_EQ(AesGcmDecrypt(key, iv, aad, bad_tag).code(), Errc::kCorrupt);
  }
}

TEST(AeadTest, RawDecryptRejectsShortInput) {
  const Bytes nonce(12, 0);
  for (size_t n = 0; n < kAeadTagSize; ++n) {
    EXPECT_EQ(AesGcmDecrypt(TestKey(1), nonce, {}, Bytes(n, 0)).code(), Errc::kCorrupt) << n;
  }
}

}  // namespace
}  // namespace shardfs::crypto
