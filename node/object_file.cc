#include "node/object_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "fs/remote/s3/sigv4.h"
#include "fs/util/encoding.h"
#include "fs/util/files.h"

namespace shardfs::node {
namespace {

using util::Errc;
using util::MakeError;
using util::Result;
using util::Status;

constexpr char kMagic[8] = {'S', 'H', 'N', 'O', 'D', 'E', '1', '\0'};
constexpr size_t kFixedHeader = 48;

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t j = 1; j < n; ++j) {
      auto cc = static_cast<uint8_t>(s[i + j]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // No overlong forms, no surrogates, nothing past U+10FFFF.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += n;
  }
  return true;
}

}  // namespace

Status ValidateBucketName(std::string_view name) {
  auto bad = [&name](std::string why) {
    return MakeError(Errc::kInvalid,
                     "invalid bucket name '" + std::string(name.substr(0, 80)) + "': " + why);
  };
  if (name.size() < 3 || name.size() > 63) return bad("it must be 3 to 63 characters long");
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      return bad("only lowercase letters, digits, '.' and '-' are allowed");
    }
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) {
    return bad("it must start and end with a letter or digit");
  }
  if (name.find("..") != std::string_view::npos) return bad("it may not contain \"..\"");
  int dots = 0;
  bool digits_and_dots = true;
  for (char c : name) {
    dots += c == '.';
    digits_and_dots = digits_and_dots && (c == '.' || (c >= '0' && c <= '9'));
  }
  if (digits_and_dots && dots == 3) return bad("it may not look like an IP address");
  return util::Ok();
}

Status ValidateKey(std::string_view key) {
  auto bad = [](std::string why) {
    return MakeError(Errc::kInvalid, "invalid object key: " + why);
  };
  if (key.empty()) return bad("it is empty");
  if (key.size() > kMaxKeyBytes) return bad("it is longer than 1024 bytes");
  for (char c : key) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return bad("it contains a control character");
  }
  if (!ValidUtf8(key)) return bad("it is not valid UTF-8");
  if (key.front() == '/') return bad("it starts with '/'");
  size_t pos = 0;
  while (pos <= key.size()) {
    size_t slash = key.find('/', pos);
    if (slash == std::string_view::npos) slash = key.size();
    std::string_view seg = key.substr(pos, slash - pos);
    if (seg == "." || seg == "..") return bad("it has a '.' or '..' path segment");
    pos = slash + 1;
  }
  return util::Ok();
}

std::string KeyFileName(std::string_view key) {
  std::string h = remote::s3::Sha256Hex(key);
  return h.substr(0, 2) + "/" + h.substr(2, 2) + "/" + h;
}

util::Bytes EncodeHeader(const ObjectHeader& h) {
  SHARDFS_CHECK(h.key.size() <= kMaxKeyBytes && h.owner.size() <= kMaxOwnerBytes,
                "object header fields too long");
  util::Bytes out(kMagic, kMagic + 8);
  util::AppendU32Le(out, static_cast<uint32_t>(kFixedHeader + h.key.size() + h.owner.size()));
  util::AppendU64Le(out, h.size);
  util::AppendU64Le(out, static_cast<uint64_t>(h.mtime_ms));
  out.insert(out.end(), h.md5.begin(), h.md5.end());
  util::AppendU16Le(out, static_cast<uint16_t>(h.key.size()));
  util::AppendU16Le(out, static_cast<uint16_t>(h.owner.size()));
  out.insert(out.end(), h.key.begin(), h.key.end());
  out.insert(out.end(), h.owner.begin(), h.owner.end());
  return out;
}

Result<ObjectHeader> DecodeHeader(util::ByteSpan buf, size_t* header_len) {
  if (buf.size() < kFixedHeader) return MakeError(Errc::kInvalid, "object header truncated");
  if (std::memcmp(buf.data(), kMagic, 8) != 0) {
    return MakeError(Errc::kCorrupt, "not a shardfs-node object file (bad magic)");
  }
  ObjectHeader h;
  uint32_t len = util::LoadU32Le(buf.data() + 8);
  h.size = util::LoadU64Le(buf.data() + 12);
  h.mtime_ms = static_cast<int64_t>(util::LoadU64Le(buf.data() + 20));
  std::memcpy(h.md5.data(), buf.data() + kMd5Offset, 16);
  uint16_t key_len = util::LoadU16Le(buf.data() + 44);
  uint16_t owner_len = util::LoadU16Le(buf.data() + 46);
  if (key_len == 0 || key_len > kMaxKeyBytes || owner_len > kMaxOwnerBytes ||
      len != kFixedHeader + key_len + owner_len) {
    return MakeError(Errc::kCorrupt, "object header has inconsistent lengths");
  }
  if (buf.size() < len) return MakeError(Errc::kInvalid, "object header truncated");
  h.key.assign(reinterpret_cast<const char*>(buf.data()) + kFixedHeader, key_len);
  h.owner.assign(reinterpret_cast<const char*>(buf.data()) + kFixedHeader + key_len, owner_len);
  *header_len = len;
  return h;
}

Result<ObjectHeader> ReadHeader(int fd, size_t* header_len) {
  uint8_t buf[kFixedHeader + kMaxKeyBytes + kMaxOwnerBytes];
  ssize_t n;
  do {
    n = ::pread(fd, buf, sizeof(buf), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return util::ErrnoError(errno, "reading an object header");
  Result<ObjectHeader> h = DecodeHeader({buf, static_cast<size_t>(n)}, header_len);
  if (h.code() == Errc::kInvalid) return MakeError(Errc::kCorrupt, h.error().message);
  return h;
}

Result<TempFile> TempFile::Create(const std::string& dir) {
  std::string tmpl = dir + "/put-XXXXXX";
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return util::ErrnoError(errno, "creating a temp file in " + dir);
  return TempFile(UniqueFd(fd), std::move(tmpl));
}

TempFile::~TempFile() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::string FormatIso8601(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string FormatHttpDate(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace shardfs::node
