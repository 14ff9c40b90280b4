#include "fs/fuse/mount_table.h"

#include <charconv>

#include "fs/util/files.h"

namespace shardfs::fuse {

namespace {

constexpr uint64_t kMaxMountInfo = 64 << 20;

// Splits on single spaces; mountinfo has no empty fields.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t space = line.find(' ', pos);
    if (space == std::string_view::npos) space = line.size();
    if (space > pos) out.push_back(line.substr(pos, space - pos));
    pos = space + 1;
  }
  return out;
}

// The kernel writes space, tab, newline and backslash as \ooo octal.
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool ParseU32(std::string_view s, uint32_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::optional<MountEntry> ParseLine(std::string_view line) {
  // id parent major:minor root mount-point options [optional fields...] - type source super
  std::vector<std::string_view> f = Fields(line);
  if (f.size() < 9) return std::nullopt;
  size_t dash = 6;
  while (dash < f.size() && f[dash] != "-") ++dash;
  if (dash + 2 >= f.size()) return std::nullopt;  // no "-", or no type and source after it
  MountEntry e;
  size_t colon = f[2].find(':');
  if (colon == std::string_view::npos || !ParseU32(f[2].substr(0, colon), e.major) ||
      !ParseU32(f[2].substr(colon + 1), e.minor)) {
    return std::nullopt;
  }
  e.root = Unescape(f[3]);
  e.mount_point = Unescape(f[4]);
  e.fs_type = Unescape(f[dash + 1]);
  e.source = Unescape(f[dash + 2]);
  if (dash + 3 < f.size()) e.super_options = Unescape(f[dash + 3]);
  return e;
}

}  // namespace

std::vector<MountEntry> ParseMountInfo(std::string_view text) {
  std::vector<MountEntry> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    if (auto entry = ParseLine(text.substr(pos, nl - pos))) out.push_back(std::move(*entry));
    pos = nl + 1;
  }
  return out;
}

util::Result<std::vector<MountEntry>> ReadMountTable() {
  SHARDFS_ASSIGN_OR_RETURN(util::Bytes text, util::ReadFile("/proc/self/mountinfo", kMaxMountInfo));
  return ParseMountInfo(util::AsStringView(text));
}

const MountEntry* FindMountAt(const std::vector<MountEntry>& mounts, std::string_view path) {
  const MountEntry* found = nullptr;
  for (const MountEntry& m : mounts) {
    if (m.mount_point == path) found = &m;
  }
  return found;
}

std::optional<uint32_t> MountOwner(const MountEntry& entry) {
  std::string_view opts = entry.super_options;
  size_t pos = 0;
  while (pos <= opts.size()) {
    size_t comma = opts.find(',', pos);
    if (comma == std::string_view::npos) comma = opts.size();
    std::string_view item = opts.substr(pos, comma - pos);
    uint32_t uid = 0;
    if (item.starts_with("user_id=") && ParseU32(item.substr(8), uid)) return uid;
    pos = comma + 1;
  }
  return std::nullopt;
}

std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = slash + 1;
  }
  if (parts.empty()) return "/";
  std::string out;
  for (std::string_view part : parts) {
    out += '/';
    out += part;
  }
  return out;
}

}  // namespace shardfs::fuse
