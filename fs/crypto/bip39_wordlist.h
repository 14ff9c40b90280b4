// The BIP39 English word list (2048 words, sorted), compiled in from bip39_english.txt.
#pragma once

#include <array>
#include <string_view>

namespace shardfs::crypto {

const std::array<std::string_view, 2048>& Bip39EnglishWords();

}  // namespace shardfs::crypto
