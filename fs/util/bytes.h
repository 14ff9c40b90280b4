// Byte buffers. Bytes is a plain growable buffer for data that is not secret (ciphertext, file
// contents in flight). SecretBytes holds keys, seeds, passwords and mnemonics: move-only, a
// fixed size, zeroed on destruction, and formatted only as "<redacted N bytes>" so a secret can
// never reach a log by accident. Neither type is synchronized.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shardfs::util {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using MutableByteSpan = std::span<uint8_t>;

inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsStringView(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Overwrites memory in a way the compiler may not elide.
void SecureZero(void* p, size_t n);

// Compares in time that depends only on the lengths, for MACs and tags.
bool ConstantTimeEqual(ByteSpan a, ByteSpan b);

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size);  // zero-filled
  static SecretBytes CopyOf(ByteSpan data);
  static SecretBytes CopyOf(std::string_view text) { return CopyOf(AsBytes(text)); }

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  // An explicit copy, so every duplication of a secret is visible in the code.
  SecretBytes Clone() const { return CopyOf(span()); }

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  ByteSpan span() const { return {data_.get(), size_}; }
  MutableByteSpan mutable_span() { return {data_.get(), size_}; }
  std::string_view view() const { return AsStringView(span()); }

  // A copy of the first n bytes (n <= size()).
  SecretBytes Prefix(size_t n) const;

 private:
  void Wipe();

  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
};

bool operator==(const SecretBytes& a, const SecretBytes& b);  // constant time

}  // namespace shardfs::util

// The only way a secret is ever formatted.
#include <fmt/format.h>
template <>
struct fmt::formatter<shardfs::util::SecretBytes> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const shardfs::util::SecretBytes& s, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "<redacted {} bytes>", s.size());
  }
};
