#include "fs/crypto/bip39.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "fs/crypto/bip39_wordlist.h"
#include "fs/crypto/random.h"

namespace shardfs::crypto {
namespace {

constexpr size_t kBitsPerWord = 11;
constexpr size_t kMaxWords = 24;
constexpr size_t kMaxEntropyBytes = 32;
constexpr size_t kPbkdf2Iterations = 2048;
constexpr size_t kSeedBytes = 64;
constexpr size_t kMaxSuggestions = 3;
// Longer than any list word (8 letters) plus a few typos: a token this long is most likely
// several words run together, and echoing it could put much of the mnemonic into a log.
constexpr size_t kMaxEchoedWordLength = 12;

// Entropy, then the checksum byte, then two zero bytes so that every 11-bit word can be read
// through a 3-byte window without bounds checks.
using BitBuffer = std::array<uint8_t, kMaxEntropyBytes + 3>;

// Zeroes its buffer on every path out, since it holds entropy or word indexes.
template <typename T>
class Wiped {
 public:
  Wiped() : value_{} {}
  ~Wiped() { util::SecureZero(&value_, sizeof value_); }
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;
  T& get() { return value_; }

 private:
  T value_;
};

bool ValidWordCount(size_t n) { return n >= 12 && n <= kMaxWords && n % 3 == 0; }

std::optional<uint16_t> WordIndex(std::string_view word) {
  const auto& words = Bip39EnglishWords();
  auto it = std::lower_bound(words.begin(), words.end(), word);
  if (it == words.end() || *it != word) return std::nullopt;
  return static_cast<uint16_t>(it - words.begin());
}

uint8_t Sha256FirstByte(util::ByteSpan data) {
  std::array<uint8_t, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  // One-shot SHA-256 of at most 32 bytes cannot fail short of memory exhaustion.
  SHARDFS_CHECK(
      EVP_Digest(data.data(), data.size(), md.data(), &md_len, EVP_sha256(), nullptr) == 1,
      "SHA-256 failed");
  uint8_t first = md[0];
  util::SecureZero(md.data(), md.size());
  return first;
}

// Optimal string alignment distance (Levenshtein plus adjacent swaps), the usual typing errors.
size_t EditDistance(std::string_view a, std::string_view b) {
  constexpr size_t kMax = kMaxEchoedWordLength + 1;
  size_t d[kMax + 1][kMax + 1];
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// List words a person probably meant. The list is designed so that the first four letters
// identify a word, so a shared 4-letter prefix always qualifies; otherwise only the nearest
// words by edit distance do, since a tier of farther ones is mostly noise. Ties go to words
// that start like the typo (first letters are rarely the mistyped ones), then alphabetically.
std::vector<std::string_view> Suggest(std::string_view typed) {
  SHARDFS_CHECK(typed.size() <= kMaxEchoedWordLength, "suggestions for an over-long word");
  struct Candidate {
    bool prefix;
    size_t distance;
    size_t common;  // length of the common prefix with the typo
    std::string_view word;
  };
  std::vector<Candidate> found;
  size_t max_distance = typed.size() <= 3 ? 1 : 2;
  size_t best = max_distance;
  std::string_view typed_prefix = typed.substr(0, 4);
  for (std::string_view word : Bip39EnglishWords()) {
    bool prefix = typed.size() >= 4 && word.starts_with(typed_prefix);
    size_t distance = EditDistance(typed, word);
    if (!prefix && distance > max_distance) continue;
    size_t common =
        std::mismatch(typed.begin(), typed.end(), word.begin(), word.end()).first - typed.begin();
    found.push_back({prefix, distance, common, word});
    best = std::min(best, distance);
  }
  std::erase_if(found, [&](const Candidate& c) { return !c.prefix && c.distance > best; });
  std::sort(found.begin(), found.end(), [](const Candidate& x, const Candidate& y) {
    return std::tie(y.prefix, x.distance, y.common, x.word) <
           std::tie(x.prefix, y.distance, x.common, y.word);
  });
  std::vector<std::string_view> out;
  for (size_t i = 0; i < found.size() && i < kMaxSuggestions; ++i) out.push_back(found[i].word);
  return out;
}

util::Error UnknownWordError(std::string_view typed, size_t position) {
  if (typed.size() > kMaxEchoedWordLength) {
    return util::MakeError(
        util::Errc::kInvalid,
        fmt::format("word {} is {} characters long, longer than any word in the BIP39 English "
                    "word list; separate the words with spaces",
                    position, typed.size()));
  }
  std::string message =
      fmt::format("word {}, \"{}\", is not in the BIP39 English word list", position, typed);
  std::vector<std::string_view> suggestions = Suggest(typed);
  if (!suggestions.empty()) {
    message += "; did you mean ";
    for (size_t i = 0; i < suggestions.size(); ++i) {
      if (i > 0) message += i + 1 == suggestions.size() ? " or " : ", ";
      message += fmt::format("\"{}\"", suggestions[i]);
    }
    message += "?";
  } else if (std::any_of(typed.begin(), typed.end(), [](char c) { return c < 'a' || c > 'z'; })) {
    message += " (list words contain only the letters a-z)";
  }
  return util::MakeError(util::Errc::kInvalid, std::move(message));
}

util::Error WordCountError(size_t given, size_t expected) {
  std::string want = expected != 0 ? std::to_string(expected) : "12, 15, 18, 21 or 24";
  return util::MakeError(util::Errc::kInvalid, fmt::format("got {} word{}, expected {}", given,
                                                           given == 1 ? "" : "s", want));
}

// Bytes of whitespace starting at text[i]: ASCII whitespace and the Unicode spaces that
// copying from web pages and documents tends to bring along (UTF-8 encoded); 0 if none.
size_t WhitespaceAt(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  uint8_t c = byte(i);
  if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
  size_t left = text.size() - i;
  if (c == 0xC2 && left >= 2 && (byte(i + 1) == 0x85 || byte(i + 1) == 0xA0)) return 2;
  if (left < 3) return 0;
  uint8_t c1 = byte(i + 1), c2 = byte(i + 2);
  if (c == 0xE1 && c1 == 0x9A && c2 == 0x80) return 3;  // U+1680
  if (c == 0xE2 && c1 == 0x80 && (c2 <= 0x8B || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF)) {
    return 3;  // U+2000..200B, 2028/9, 202F
  }
  if (c == 0xE2 && c1 == 0x81 && c2 == 0x9F) return 3;  // U+205F
  if (c == 0xE3 && c1 == 0x80 && c2 == 0x80) return 3;  // U+3000
  if (c == 0xEF && c1 == 0xBB && c2 == 0xBF) return 3;  // U+FEFF
  return 0;
}

// Splits text into words, lower-cased (ASCII) into a secret buffer joined by single spaces.
struct Tokens {
  util::SecretBytes joined;  // capacity text.size(); only the first `length` bytes are used
  size_t length = 0;
  std::vector<std::pair<size_t, size_t>> words;  // offset, size into joined
};

Tokens Tokenize(std::string_view text) {
  Tokens t;
  t.joined = util::SecretBytes(text.size());
  uint8_t* out = t.joined.data();
  size_t i = 0;
  while (i < text.size()) {
    if (size_t ws = WhitespaceAt(text, i); ws > 0) {
      i += ws;
      continue;
    }
    if (!t.words.empty()) out[t.length++] = ' ';
    size_t start = t.length;
    while (i < text.size() && WhitespaceAt(text, i) == 0) {
      char c = text[i++];
      out[t.length++] = static_cast<uint8_t>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    t.words.emplace_back(start, t.length - start);
  }
  return t;
}

// The entropy the word indexes encode, after checking the checksum bits in the last word.
util::Result<util::SecretBytes> EntropyFromIndexes(const uint16_t* indexes, size_t n) {
  Wiped<BitBuffer> bits;
  for (size_t w = 0; w < n; ++w) {
    for (size_t b = 0; b < kBitsPerWord; ++b) {
      if ((indexes[w] >> (kBitsPerWord - 1 - b)) & 1) {
        size_t pos = w * kBitsPerWord + b;
        bits.get()[pos / 8] |= static_cast<uint8_t>(0x80 >> (pos % 8));
      }
    }
  }
  size_t entropy_bytes = n * kBitsPerWord * 32 / 33 / 8;
  size_t checksum_bits = entropy_bytes / 4;
  util::ByteSpan entropy(bits.get().data(), entropy_bytes);
  uint8_t want = Sha256FirstByte(entropy) >> (8 - checksum_bits);
  uint8_t got = bits.get()[entropy_bytes] >> (8 - checksum_bits);
  if (want != got) {
    return util::MakeError(util::Errc::kInvalid,
                           "the words are mistyped: the checksum in the last word does not match; "
                           "check each word against what you wrote down");
  }
  return util::SecretBytes::CopyOf(entropy);
}

// Words, count and checksum checked; returns the tokens with their entropy.
util::Result<std::pair<Tokens, util::SecretBytes>> Parse(std::string_view text,
                                                         size_t expected_words) {
  if (expected_words != 0 && !ValidWordCount(expected_words)) {
    return util::MakeError(
        util::Errc::kInvalid,
        fmt::format("{} is not a BIP39 word count (12, 15, 18, 21 or 24)", expected_words));
  }
  Tokens t = Tokenize(text);
  Wiped<std::array<uint16_t, kMaxWords>> indexes;
  // Unknown words first: their positions are what a person needs to fix a miscount too
  // (two words run together, a word split in two).
  for (size_t w = 0; w < t.words.size(); ++w) {
    std::string_view word = t.joined.view().substr(t.words[w].first, t.words[w].second);
    std::optional<uint16_t> index = WordIndex(word);
    if (!index) return UnknownWordError(word, w + 1);
    if (w < kMaxWords) indexes.get()[w] = *index;
  }
  size_t n = t.words.size();
  if (expected_words != 0 ? n != expected_words : !ValidWordCount(n)) {
    return WordCountError(n, expected_words);
  }
  SHARDFS_ASSIGN_OR_RETURN(util::SecretBytes entropy, EntropyFromIndexes(indexes.get().data(), n));
  return std::make_pair(std::move(t), std::move(entropy));
}

// BIP39 NFKD normalization is the identity on what NormalizeMnemonic returns; anything else
// would silently derive a different seed, so it is refused rather than guessed at.
bool IsNormalized(std::string_view m) {
  if (m.empty() || m.front() == ' ' || m.back() == ' ') return false;
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] == ' ') {
      if (m[i - 1] == ' ') return false;
    } else if (m[i] < 'a' || m[i] > 'z') {
      return false;
    }
  }
  return true;
}

}  // namespace

util::Result<util::SecretBytes> GenerateMnemonic() {
  SHARDFS_ASSIGN_OR_RETURN(util::SecretBytes entropy, RandomSecret(kMaxEntropyBytes));
  return MnemonicFromEntropy(entropy.span());
}

util::Result<util::SecretBytes> MnemonicFromEntropy(util::ByteSpan entropy) {
  size_t size = entropy.size();
  if (size < 16 || size > kMaxEntropyBytes || size % 4 != 0) {
    return util::MakeError(
        util::Errc::kInvalid,
        fmt::format("BIP39 entropy must be 16, 20, 24, 28 or 32 bytes, got {}", size));
  }
  Wiped<BitBuffer> bits;
  std::copy(entropy.begin(), entropy.end(), bits.get().begin());
  // The checksum is the first size/4 bits of SHA-256; keeping the whole first byte is harmless
  // because bits past the last word are never read.
  bits.get()[size] = Sha256FirstByte(entropy);
  size_t n = (size * 8 + size / 4) / kBitsPerWord;

  const auto& list = Bip39EnglishWords();
  Wiped<std::array<uint16_t, kMaxWords>> indexes;
  size_t length = n - 1;
  for (size_t w = 0; w < n; ++w) {
    size_t pos = w * kBitsPerWord;
    const uint8_t* p = bits.get().data() + pos / 8;
    uint32_t window = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
    indexes.get()[w] = static_cast<uint16_t>((window >> (24 - kBitsPerWord - pos % 8)) & 0x7FF);
    length += list[indexes.get()[w]].size();
  }
  util::SecretBytes out(length);
  uint8_t* o = out.data();
  for (size_t w = 0; w < n; ++w) {
    if (w > 0) *o++ = ' ';
    std::string_view word = list[indexes.get()[w]];
    o = std::copy(word.begin(), word.end(), o);
  }
  return out;
}

util::Result<util::SecretBytes> NormalizeMnemonic(std::string_view text, size_t expected_words) {
  SHARDFS_ASSIGN_OR_RETURN(auto parsed, Parse(text, expected_words));
  return parsed.first.joined.Prefix(parsed.first.length);
}

util::Result<util::SecretBytes> MnemonicToEntropy(std::string_view mnemonic) {
  SHARDFS_ASSIGN_OR_RETURN(auto parsed, Parse(mnemonic, 0));
  return std::move(parsed.second);
}

util::Result<util::SecretBytes> MnemonicToSeed(std::string_view mnemonic,
                                               std::string_view passphrase) {
  if (!IsNormalized(mnemonic)) {
    return util::MakeError(util::Errc::kInvalid,
                           "the mnemonic is not normalized (lower case a-z words separated by "
                           "single spaces); pass it through NormalizeMnemonic first");
  }
  // PKCS5_PBKDF2_HMAC takes int lengths; nothing a person types comes near the limit.
  constexpr size_t kMaxInput = 1 << 20;
  if (mnemonic.size() > kMaxInput || passphrase.size() > kMaxInput) {
    return util::MakeError(util::Errc::kInvalid, "the mnemonic or passphrase is too long");
  }
  constexpr std::string_view kSaltPrefix = "mnemonic";
  util::SecretBytes salt(kSaltPrefix.size() + passphrase.size());
  std::copy(passphrase.begin(), passphrase.end(),
            std::copy(kSaltPrefix.begin(), kSaltPrefix.end(), salt.data()));
  util::SecretBytes seed(kSeedBytes);
  if (PKCS5_PBKDF2_HMAC(mnemonic.data(), static_cast<int>(mnemonic.size()), salt.data(),
                        static_cast<int>(salt.size()), static_cast<int>(kPbkdf2Iterations),
                        EVP_sha512(), static_cast<int>(seed.size()), seed.data()) != 1) {
    return util::MakeError(util::Errc::kInternal, "PBKDF2-HMAC-SHA512 failed in OpenSSL");
  }
  return seed;
}

}  // namespace shardfs::crypto
