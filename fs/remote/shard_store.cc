#include "fs/remote/shard_store.h"

#include <fmt/format.h>

namespace shardfs::remote {
namespace {

constexpr size_t kMaxNameLength = 200;
constexpr size_t kMaxQuoted = 64;

bool IsNameChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == '-';
}

// The name as it may appear in a message: at most kMaxQuoted characters, control and non-ASCII
// bytes escaped, so a hostile name can neither flood a log nor forge a line in it.
std::string Quote(std::string_view name) {
  std::string out = "\"";
  for (char c : name.substr(0, kMaxQuoted)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  if (name.size() > kMaxQuoted) out += fmt::format("... ({} characters)", name.size());
  return out;
}

util::Error Invalid(std::string_view name, std::string_view why) {
  return util::MakeError(util::Errc::kInvalid,
                         fmt::format("invalid object name {}: {}", Quote(name), why));
}

}  // namespace

util::Status ValidateObjectName(std::string_view name) {
  if (name.empty()) return Invalid(name, "names are 1-200 characters");
  if (name.size() > kMaxNameLength) {
    return Invalid(name, fmt::format("names are at most {} characters", kMaxNameLength));
  }
  if (name[0] == '.') return Invalid(name, "names may not start with '.'");
  for (char c : name) {
    if (!IsNameChar(c)) {
      return Invalid(name, "names use only the characters 0-9, a-z, '.', '_' and '-'");
    }
  }
  return util::Ok();
}

util::Result<util::Bytes> ShardStore::GetRangeCancellable(std::string_view name, uint64_t offset,
                                                          uint64_t length,
                                                          const util::CancelToken& cancel) {
  if (cancel.cancelled()) return util::CancelledError();
  auto data = GetRange(name, offset, length);
  // Data no one waits for any more is dropped; a failure stands (callers keep health by it).
  if (data.ok() && cancel.cancelled()) return util::CancelledError();
  return data;
}

util::Status ShardStore::PutFile(std::string_view, const std::string&, uint64_t) {
  return util::MakeError(util::Errc::kUnsupported, Describe() + " keeps no files of others");
}

}  // namespace shardfs::remote
