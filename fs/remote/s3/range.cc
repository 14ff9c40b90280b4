#include "fs/remote/s3/range.h"

#include <algorithm>
#include <charconv>

namespace shardfs::remote::s3 {
namespace {

using util::Errc;
using util::MakeError;
using util::Result;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Digits only (no sign, no spaces), no overflow.
std::optional<uint64_t> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

Result<RangeSpec> ParseRange(std::string_view header) {
  std::string_view s = Trim(header);
  if (!StartsWithNoCase(s, "bytes=")) {
    return MakeError(Errc::kInvalid, "Range header does not start with 'bytes='");
  }
  s = Trim(s.substr(6));
  if (s.find(',') != std::string_view::npos) {
    return MakeError(Errc::kUnsupported, "multiple byte ranges are not supported");
  }
  size_t dash = s.find('-');
  if (dash == std::string_view::npos) return MakeError(Errc::kInvalid, "Range has no '-'");
  std::string_view a = Trim(s.substr(0, dash)), b = Trim(s.substr(dash + 1));
  if (a.empty()) {
    std::optional<uint64_t> n = ParseNumber(b);
    if (!n) return MakeError(Errc::kInvalid, "bad suffix length in Range");
    return RangeSpec::Suffix(*n);
  }
  std::optional<uint64_t> first = ParseNumber(a);
  if (!first) return MakeError(Errc::kInvalid, "bad first byte in Range");
  if (b.empty()) return RangeSpec::From(*first);
  std::optional<uint64_t> last = ParseNumber(b);
  if (!last) return MakeError(Errc::kInvalid, "bad last byte in Range");
  if (*last < *first) return MakeError(Errc::kInvalid, "Range ends before it starts");
  return RangeSpec::Closed(*first, *last);
}

std::optional<ByteRange> Resolve(const RangeSpec& spec, uint64_t size) {
  if (size == 0) return std::nullopt;
  if (spec.suffix) {
    if (*spec.suffix == 0) return std::nullopt;
    uint64_t n = std::min(*spec.suffix, size);
    return ByteRange{size - n, size - 1};
  }
  if (!spec.first || *spec.first >= size) return std::nullopt;
  uint64_t last = spec.last ? std::min(*spec.last, size - 1) : size - 1;
  if (last < *spec.first) return std::nullopt;
  return ByteRange{*spec.first, last};
}

std::string FormatRange(const RangeSpec& spec) {
  if (spec.suffix) return "bytes=-" + std::to_string(*spec.suffix);
  std::string out = "bytes=" + std::to_string(spec.first.value_or(0)) + "-";
  if (spec.last) out += std::to_string(*spec.last);
  return out;
}

std::string FormatContentRange(ByteRange r, uint64_t size) {
  return "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
         std::to_string(size);
}

std::string FormatUnsatisfiedContentRange(uint64_t size) {
  return "bytes */" + std::to_string(size);
}

Result<ContentRange> ParseContentRange(std::string_view header) {
  std::string_view s = Trim(header);
  if (!StartsWithNoCase(s, "bytes ")) {
    return MakeError(Errc::kInvalid, "Content-Range does not start with 'bytes '");
  }
  s = Trim(s.substr(6));
  size_t dash = s.find('-'), slash = s.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return MakeError(Errc::kInvalid, "Content-Range is not 'bytes F-L/N'");
  }
  std::optional<uint64_t> first = ParseNumber(s.substr(0, dash));
  std::optional<uint64_t> last = ParseNumber(s.substr(dash + 1, slash - dash - 1));
  if (!first || !last || *last < *first) {
    return MakeError(Errc::kInvalid, "Content-Range has a bad byte range");
  }
  ContentRange cr{ByteRange{*first, *last}, std::nullopt};
  std::string_view total = s.substr(slash + 1);
  if (total != "*") {
    cr.total = ParseNumber(total);
    if (!cr.total || *cr.total <= *last) {
      return MakeError(Errc::kInvalid, "Content-Range has a bad total length");
    }
  }
  return cr;
}

}  // namespace shardfs::remote::s3
