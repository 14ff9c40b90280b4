#include "fs/crypto/bip39.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fs/crypto/bip39_wordlist.h"
#include "fs/util/encoding.h"

namespace shardfs::crypto {
namespace {

struct Vector {
  std::string entropy_hex;
  std::string mnemonic;
  std::string seed_hex;
};

struct Vectors {
  std::string passphrase;
  std::vector<Vector> english;
};

Vectors LoadVectors() {
  std::ifstream in(std::string(SHARDFS_TEST_DATA_DIR) + "/bip39-vectors.json");
  EXPECT_TRUE(in.good()) << "cannot open bip39-vectors.json";
  nlohmann::json j = nlohmann::json::parse(in);
  Vectors v;
  v.passphrase = j.at("passphrase").get<std::string>();
  for (const auto& row : j.at("english")) {
    v.english.push_back(
        {row.at(0).get<std::string>(), row.at(1).get<std::string>(), row.at(2).get<std::string>()});
  }
  return v;
}

std::vector<std::string> Split(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// The runs of letters in a message, lower-cased: what a person (or a log scraper) would read
// as words.
std::set<std::string> LetterRuns(std::string_view message) {
  std::set<std::string> runs;
  std::string cur;
  for (char c : message) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!cur.empty()) {
      runs.insert(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) runs.insert(cur);
  return runs;
}

// A 24-word vector whose words do not collide with the English of the error messages.
constexpr std::string_view kMnemonic24 =
    "absent gorilla van acoustic humor firm title dolphin bulk barely citizen recall crane "
    "moment aspect appear track phrase actual enforce steel spoon afraid benefit";

TEST(Bip39Test, WordListIsSortedAndUnique) {
  const auto& words = Bip39EnglishWords();
  EXPECT_TRUE(std::adjacent_find(words.begin(), words.end(),
                                 [](auto a, auto b) { return a >= b; }) == words.end());
  EXPECT_EQ(words.front(), "abandon");
  EXPECT_EQ(words.back(), "zoo");
}

TEST(Bip39Test, AllVectors) {
  Vectors vectors = LoadVectors();
  ASSERT_EQ(vectors.passphrase, "TREZOR");
  ASSERT_FALSE(vectors.english.empty());
  for (const Vector& v : vectors.english) {
    SCOPED_TRACE(v.entropy_hex);
    auto entropy = util::FromHex(v.entropy_hex);
    ASSERT_TRUE(entropy.has_value());

    auto mnemonic = MnemonicFromEntropy(*entropy);
    ASSERT_TRUE(mnemonic.ok()) << mnemonic.error().message;
    EXPECT_EQ(mnemonic->view(), v.mnemonic);

    auto back = MnemonicToEntropy(v.mnemonic);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(util::ToHex(back->span()), v.entropy_hex);

    auto normalized = NormalizeMnemonic(v.mnemonic, 0);
    ASSERT_TRUE(normalized.ok()) << normalized.error().message;
    EXPECT_EQ(normalized->view(), v.mnemonic);

    auto seed = MnemonicToSeed(v.mnemonic, vectors.passphrase);
    ASSERT_TRUE(seed.ok()) << seed.error().message;
    EXPECT_EQ(util::ToHex(seed->span()), v.seed_hex);
  }
}

TEST(Bip39Test, GeneratedMnemonicsAreValidAndDiffer) {
  auto a = GenerateMnemonic();
  auto b = GenerateMnemonic();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Split(a->view()).size(), kDriveMnemonicWords);
  auto checked = NormalizeMnemonic(a->view(), kDriveMnemonicWords);
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_EQ(checked->view(), a->view());
  auto entropy = MnemonicToEntropy(a->view());
  ASSERT_TRUE(entropy.ok());
  EXPECT_EQ(entropy->size(), 32u);
  EXPECT_NE(a->view(), b->view());
}

TEST(Bip39Test, NormalizesCaseAndWhitespace) {
  std::string typed =
      "  ABSENT gorilla\tVan\n\nacoustic  Humor\r\nfirm title dolphin bulk barely citizen recall "
      "crane moment aspect appear track phrase actual enforce steel spoon afraid\xC2\xA0"
      "BeNeFiT \n";
  auto normalized = NormalizeMnemonic(typed, kDriveMnemonicWords);
  ASSERT_TRUE(normalized.ok()) << normalized.error().message;
  EXPECT_EQ(normalized->view(), kMnemonic24);
}

TEST(Bip39Test, UnknownWordNamesWordPositionAndSuggestion) {
  std::vector<std::string> words = Split(kMnemonic24);
  words[4] = "humr";  // humor
  auto r = NormalizeMnemonic(Join(words), kDriveMnemonicWords);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), util::Errc::kInvalid);
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("\"humr\""), std::string::npos) << m;
  EXPECT_NE(m.find("word 5"), std::string::npos) << m;
  EXPECT_NE(m.find("\"humor\""), std::string::npos) << m;

  words = Split(kMnemonic24);
  words[0] = "ABSNET";  // a swap of two letters, typed in capitals
  r = NormalizeMnemonic(Join(words), kDriveMnemonicWords);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("word 1, \"absnet\""), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("\"absent\""), std::string::npos) << r.error().message;
}

TEST(Bip39Test, SuggestsByFourLetterPrefix) {
  auto r = NormalizeMnemonic(
      "abandon abandon abandon abandon abandon abandon abandon abandon "
      "abandon abandon abandon aboutt",
      0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("word 12"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("\"about\""), std::string::npos) << r.error().message;
  auto s = NormalizeMnemonic("zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrongly", 12);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("did you mean \"wrong\""), std::string::npos)
      << s.error().message;
}

TEST(Bip39Test, AtMostThreeSuggestions) {
  auto r = NormalizeMnemonic("bak zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong", 12);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message;
  EXPECT_EQ(std::count(m.begin(), m.end(), '"'), 2 + 2 * 3) << m;
}

TEST(Bip39Test, ValidWordWithBadChecksumIsMistyped) {
  // "about" carries the checksum of all-zero entropy; "abandon" is a list word with the wrong one.
  auto r = NormalizeMnemonic(
      "abandon abandon abandon abandon abandon abandon abandon abandon "
      "abandon abandon abandon abandon",
      0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), util::Errc::kInvalid);
  EXPECT_NE(r.error().message.find("the words are mistyped"), std::string::npos)
      << r.error().message;

  std::vector<std::string> words = Split(kMnemonic24);
  words[10] = "zoo";
  r = NormalizeMnemonic(Join(words), kDriveMnemonicWords);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("mistyped"), std::string::npos) << r.error().message;

  words = Split(kMnemonic24);
  std::swap(words[2], words[3]);  // two words written down in the wrong order
  r = NormalizeMnemonic(Join(words), kDriveMnemonicWords);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("mistyped"), std::string::npos) << r.error().message;
  EXPECT_FALSE(MnemonicToEntropy(Join(words)).ok());
}

TEST(Bip39Test, WrongWordCount) {
  std::vector<std::string> words = Split(kMnemonic24);
  words.pop_back();
  auto r = NormalizeMnemonic(Join(words), kDriveMnemonicWords);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), util::Errc::kInvalid);
  EXPECT_NE(r.error().message.find("got 23 words"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("expected 24"), std::string::npos) << r.error().message;

  // A valid 12-word mnemonic is still the wrong count for a drive.
  auto twelve = NormalizeMnemonic(
      "legal winner thank year wave sausage worth useful legal winner thank yellow",
      kDriveMnemonicWords);
  ASSERT_FALSE(twelve.ok());
  EXPECT_NE(twelve.error().message.find("got 12 words, expected 24"), std::string::npos);

  auto thirteen = NormalizeMnemonic("zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo", 0);
  ASSERT_FALSE(thirteen.ok());
  EXPECT_NE(thirteen.error().message.find("got 13 words, expected 12, 15, 18, 21 or 24"),
            std::string::npos)
      << thirteen.error().message;

  auto empty = NormalizeMnemonic(" \n\t ", kDriveMnemonicWords);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("got 0 words"), std::string::npos);
}

TEST(Bip39Test, ErrorsNeverRevealOtherWords) {
  const std::vector<std::string> words = Split(kMnemonic24);
  auto check = [&](const std::string& message, size_t skip) {
    // Suggestions are list words chosen from the typo alone, so they may repeat a mnemonic
    // word by chance without revealing it; only the rest of the message is checked.
    std::string said = message.substr(0, message.find("did you mean"));
    std::set<std::string> runs = LetterRuns(said);
    for (size_t i = 0; i < words.size(); ++i) {
      if (i == skip) continue;
      EXPECT_EQ(runs.count(words[i]), 0u) << "message reveals word " << i + 1 << ": " << message;
    }
  };
  for (size_t i = 0; i < words.size(); ++i) {
    std::vector<std::string> typo = words;
    typo[i].pop_back();
    typo[i] += "q";
    auto r = NormalizeMnemonic(Join(typo), kDriveMnemonicWords);
    ASSERT_FALSE(r.ok());
    check(r.error().message, i);
  }
  std::vector<std::string> swapped = words;
  std::swap(swapped[0], swapped[1]);
  auto r = NormalizeMnemonic(Join(swapped), kDriveMnemonicWords);
  ASSERT_FALSE(r.ok());
  check(r.error().message, words.size());

  r = NormalizeMnemonic(Join(words), 12);
  ASSERT_FALSE(r.ok());
  check(r.error().message, words.size());

  // Words run together (commas instead of spaces) form one long token that is not echoed.
  std::string commas = Join(words);
  std::replace(commas.begin(), commas.end(), ' ', ',');
  r = NormalizeMnemonic(commas, kDriveMnemonicWords);
  ASSERT_FALSE(r.ok());
  check(r.error().message, words.size());
  EXPECT_EQ(r.error().message.find(words[0]), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("separate the words with spaces"), std::string::npos);
}

TEST(Bip39Test, RejectsBadEntropySizes) {
  for (size_t n : {0, 4, 15, 17, 30, 33, 64}) {
    util::Bytes entropy(n, 0x42);
    auto r = MnemonicFromEntropy(entropy);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.code(), util::Errc::kInvalid);
  }
}

TEST(Bip39Test, SeedRequiresNormalizedMnemonic) {
  auto upper = MnemonicToSeed(
      "Legal winner thank year wave sausage worth useful legal winner thank yellow", "");
  ASSERT_FALSE(upper.ok());
  EXPECT_EQ(upper.code(), util::Errc::kInvalid);
  EXPECT_FALSE(MnemonicToSeed("legal  winner", "").ok());
  EXPECT_FALSE(MnemonicToSeed("", "").ok());
  auto seed = MnemonicToSeed(kMnemonic24, "");
  ASSERT_TRUE(seed.ok());
  EXPECT_EQ(seed->size(), 64u);
}

}  // namespace
}  // namespace shardfs::crypto
