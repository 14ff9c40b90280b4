#include "fs/util/bytes.h"

#include <strings.h>
#include <cstring>

#include "fs/util/check.h"

namespace shardfs::util {

void SecureZero(void* p, size_t n) {
  if (p != nullptr && n > 0) explicit_bzero(p, n);
}

bool ConstantTimeEqual(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

SecretBytes::SecretBytes(size_t size) : data_(new uint8_t[size]()), size_(size) {}

SecretBytes SecretBytes::CopyOf(ByteSpan data) {
  SecretBytes s(data.size());
  if (!data.empty()) std::memcpy(s.data(), data.data(), data.size());
  return s;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::move(other.data_)), size_(other.size_) {
  other.size_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    size_ = other.size_;
    other.size_ = 0;
  }
  return *this;
}

SecretBytes::~SecretBytes() { Wipe(); }

void SecretBytes::Wipe() {
  SecureZero(data_.get(), size_);
  data_.reset();
  size_ = 0;
}

SecretBytes SecretBytes::Prefix(size_t n) const {
  SHARDFS_CHECK(n <= size_, "prefix longer than the secret");
  return CopyOf(span().first(n));
}

bool operator==(const SecretBytes& a, const SecretBytes& b) {
  return ConstantTimeEqual(a.span(), b.span());
}

}  // namespace shardfs::util
