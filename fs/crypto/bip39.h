// BIP39 mnemonics (English word list): a drive's root secret is 24 words = 256 bits of entropy
// plus an 8-bit checksum. Parsing is forgiving of case and whitespace and strict about words
// and checksum, with errors a person can act on. Pure functions except GenerateMnemonic (OS
// randomness); all thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::crypto {

inline constexpr size_t kDriveMnemonicWords = 24;

// 24 words from 32 bytes of OS randomness, separated by single spaces.
util::Result<util::SecretBytes> GenerateMnemonic();

// The words for entropy of 16, 20, 24, 28 or 32 bytes (12..24 words); kInvalid otherwise.
util::Result<util::SecretBytes> MnemonicFromEntropy(util::ByteSpan entropy);

// Checks words typed or pasted by a person and returns the normalized mnemonic (lower case,
// single spaces). Errors, all kInvalid:
//  - a word not in the list: names the word and its 1-based position, and suggests the
//    closest list words;
//  - a word count other than expected_words (or, when expected_words is 0, other than
//    12/15/18/21/24);
//  - a checksum mismatch: "the words are mistyped" (a wrong but valid word, or swapped words).
util::Result<util::SecretBytes> NormalizeMnemonic(std::string_view text, size_t expected_words);

// The entropy a valid normalized mnemonic encodes.
util::Result<util::SecretBytes> MnemonicToEntropy(std::string_view mnemonic);

// BIP39 seed: PBKDF2-HMAC-SHA512(password = mnemonic, salt = "mnemonic" + passphrase,
// 2048 iterations) -> 64 bytes. The mnemonic must already be normalized.
util::Result<util::SecretBytes> MnemonicToSeed(std::string_view mnemonic,
                                               std::string_view passphrase);

}  // namespace shardfs::crypto
