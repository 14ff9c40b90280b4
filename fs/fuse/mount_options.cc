#include "fs/fuse/mount_options.h"

#include <charconv>
#include <cmath>
#include <functional>
#include <span>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "fs/util/files.h"
#include "fs/util/units.h"

namespace shardfs::fuse {

using util::Errc;
using util::MakeError;
using util::Status;

namespace {

// How an option is written: a bare word (ro), name=value (attr_timeout=2), or any option whose
// name starts with the spec's name, with or without a value (x-systemd.automount).
enum class Form { kFlag, kValue, kPrefix };

struct OptionSpec {
  std::string_view name;
  Form form;
  std::string_view help;  // for kValue, starts with the value's name: "SECONDS: ..."
  // Applies the option; nullptr passes it to libfuse as written.
  Status (*apply)(MountOptions& options, std::string_view value);
};

Status ParseSeconds(std::string_view name, std::string_view value, double& out) {
  double seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(seconds) ||
      seconds < 0 || seconds > 86400) {
    return MakeError(Errc::kInvalid,
                     fmt::format("mount option '{}={}': give seconds between 0 and 86400, e.g. "
                                 "{}=1.5",
                                 name, value, name));
  }
  out = seconds;
  return util::Ok();
}

// Names go into the kernel's mount table, where a comma would split them.
Status ParseName(std::string_view name, std::string_view value, std::string& out) {
  if (value.empty() || value.find_first_of(", \t\n\\") != std::string_view::npos) {
    return MakeError(Errc::kInvalid, fmt::format("mount option '{}' needs a value without spaces, "
                                                 "commas or backslashes, e.g. {}=shardfs:photos",
                                                 name, name));
  }
  out = value;
  return util::Ok();
}

// A file or directory; made absolute, since the daemon runs in /.
Status ParsePath(std::string_view name, std::string_view value, std::optional<std::string>& out) {
  if (value.empty() || value.find(',') != std::string_view::npos) {
    return MakeError(
        Errc::kInvalid,
        fmt::format("mount option '{}' needs a path, e.g. {}=/etc/shardfs/...", name, name));
  }
  out = util::AbsolutePath(std::string(value));
  return util::Ok();
}

// A decimal uid or gid (names would need the user database, which may not be up at boot).
Status ParseId(std::string_view name, std::string_view value, std::optional<uint32_t>& out) {
  uint32_t id = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty() ||
      id == UINT32_MAX) {
    return MakeError(Errc::kInvalid, fmt::format("mount option '{}={}': give a number, e.g. "
                                                 "{}=1000 (`id -u NAME` shows a user's)",
                                                 name, value, name));
  }
  out = id;
  return util::Ok();
}

Status ParseUmask(std::string_view value, uint32_t& out) {
  uint32_t mask = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), mask, 8);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty() || mask > 0777) {
    return MakeError(Errc::kInvalid,
                     fmt::format("mount option 'umask={}': give octal permission bits to hide, "
                                 "e.g. umask=022 or umask=077",
                                 value));
  }
  out = mask;
  return util::Ok();
}

Status ParseCacheSize(std::string_view value, std::optional<uint64_t>& out) {
  auto size = util::ParseSize(value);
  if (!size.ok() || *size == 0) {
    return MakeError(Errc::kInvalid, fmt::format("mount option 'cache_size={}': give a size such "
                                                 "as 512M or 2G",
                                                 value));
  }
  out = *size;
  return util::Ok();
}

Status Ignore(MountOptions&, std::string_view) { return util::Ok(); }

// clang-format off
constexpr OptionSpec kOptions[] = {
    {"ro", Form::kFlag, "mount read-only",
     [](MountOptions& o, std::string_view) { o.read_only = true; return util::Ok(); }},
    {"rw", Form::kFlag, "mount read-write (the default)",
     [](MountOptions& o, std::string_view) { o.read_only = false; return util::Ok(); }},
    {"remount", Form::kFlag,
     "with ro or rw: make a mounted drive read-only or read-write again (root, like `mount -o "
     "remount,ro DIR`); the kernel's nosuid, nodev, noexec, noatime... may change with it",
     [](MountOptions& o, std::string_view) { o.remount = true; return util::Ok(); }},
    {"allow_other", Form::kFlag,
     "let other users see the files (their mode bits still apply); non-root users need "
     "user_allow_other in /etc/fuse.conf",
     [](MountOptions& o, std::string_view) { o.allow_other = true; return util::Ok(); }},
    {"debug", Form::kFlag, "log every request at debug level (with -f: on stderr)",
     [](MountOptions& o, std::string_view) { o.debug = true; return util::Ok(); }},
    {"writeback_cache", Form::kFlag, "let the kernel gather small writes in its page cache (default)",
     [](MountOptions& o, std::string_view) { o.writeback_cache = true; return util::Ok(); }},
    {"no_writeback_cache", Form::kFlag, "send every write to shardfs as it is made",
     [](MountOptions& o, std::string_view) { o.writeback_cache = false; return util::Ok(); }},
    {"io_uring", Form::kFlag,
     "take requests through io_uring, on the caller's CPU, when the kernel offers it (default)",
     [](MountOptions& o, std::string_view) { o.io_uring = true; return util::Ok(); }},
    {"no_io_uring", Form::kFlag, "take every request through /dev/fuse",
     [](MountOptions& o, std::string_view) { o.io_uring = false; return util::Ok(); }},
    {"attr_timeout", Form::kValue, "SECONDS: how long the kernel caches attributes (default 1)",
     [](MountOptions& o, std::string_view v) { return ParseSeconds("attr_timeout", v, o.attr_timeout); }},
    {"entry_timeout", Form::kValue,
     "SECONDS: how long the kernel caches names, and that a name does not exist (default 1)",
     [](MountOptions& o, std::string_view v) { return ParseSeconds("entry_timeout", v, o.entry_timeout); }},
    {"fsname", Form::kValue, "NAME: the source shown by df and findmnt (default shardfs:DRIVE)",
     [](MountOptions& o, std::string_view v) -> Status { std::string name;
       SHARDFS_TRY(ParseName("fsname", v, name));
       o.fsname = std::move(name);
       return util::Ok(); }},
    {"subtype", Form::kValue,
     "NAME: the type shown as fuse.NAME (default shardfs; `shardfs unmount` finds any)",
     [](MountOptions& o, std::string_view v) { return ParseName("subtype", v, o.subtype); }},
    {"default_permissions", Form::kFlag, "the kernel checks mode bits (always on)",
     [](MountOptions&, std::string_view) { return util::Ok(); }},
    {"password_file", Form::kValue,
     "FILE: read the drive's password from FILE (first line; mode 0600), as --password-file",
     [](MountOptions& o, std::string_view v) { return ParsePath("password_file", v, o.password_file); }},
    {"config", Form::kValue, "PATH: the drive's config.json, or the directory holding it and its "
     "keyfile (instead of looking the drive up in the config directory)",
     [](MountOptions& o, std::string_view v) { return ParsePath("config", v, o.config); }},
    {"config_dir", Form::kValue, "DIR: the config directory to find the drive in, as --config-dir",
     [](MountOptions& o, std::string_view v) { return ParsePath("config_dir", v, o.config_dir); }},
    {"cache_dir", Form::kValue, "DIR: keep the drive's cache here instead of where its config says",
     [](MountOptions& o, std::string_view v) { return ParsePath("cache_dir", v, o.cache_dir); }},
    {"cache_size", Form::kValue, "SIZE: most disk space the block cache uses, e.g. 512M or 2G",
     [](MountOptions& o, std::string_view v) { return ParseCacheSize(v, o.cache_size); }},
    {"uid", Form::kValue, "N: show every file as owned by user id N",
     [](MountOptions& o, std::string_view v) { return ParseId("uid", v, o.uid); }},
    {"gid", Form::kValue, "N: show every file as owned by group id N",
     [](MountOptions& o, std::string_view v) { return ParseId("gid", v, o.gid); }},
    {"umask", Form::kValue, "OCTAL: hide these permission bits of every file, e.g. 077 (the "
     "kernel checks access against what is shown)",
     [](MountOptions& o, std::string_view v) { return ParseUmask(v, o.umask); }},
    // For mount(8), /etc/fstab and systemd; ignored when they reach shardfs.
    {"_netdev", Form::kFlag, "", Ignore},
    {"nofail", Form::kFlag, "", Ignore},
    {"auto", Form::kFlag, "", Ignore},
    {"noauto", Form::kFlag, "", Ignore},
    {"defaults", Form::kFlag, "", Ignore},
    {"user", Form::kFlag, "", Ignore},
    {"users", Form::kFlag, "", Ignore},
    {"nouser", Form::kFlag, "", Ignore},
    {"comment", Form::kValue, "", Ignore},
    {"x-", Form::kPrefix, "", Ignore},
    // Passed to libfuse 3.14 and the kernel: exactly those fuse_session_new accepts.
    {"suid", Form::kFlag, "", nullptr},
    {"nosuid", Form::kFlag, "", nullptr},
    {"dev", Form::kFlag, "", nullptr},
    {"nodev", Form::kFlag, "", nullptr},
    {"exec", Form::kFlag, "", nullptr},
    {"noexec", Form::kFlag, "", nullptr},
    {"async", Form::kFlag, "", nullptr},
    {"sync", Form::kFlag, "", nullptr},
    {"dirsync", Form::kFlag, "", nullptr},
    {"noatime", Form::kFlag, "", nullptr},
    {"allow_root", Form::kFlag, "", nullptr},
    {"auto_unmount", Form::kFlag, "", nullptr},
    {"blksize", Form::kValue, "", nullptr},
    {"max_read", Form::kValue, "", nullptr},
    {"context", Form::kValue, "", nullptr},
    {"fscontext", Form::kValue, "", nullptr},
    {"defcontext", Form::kValue, "", nullptr},
    {"rootcontext", Form::kValue, "", nullptr},
};
// clang-format on

const OptionSpec* FindOption(std::string_view name) {
  for (const OptionSpec& spec : kOptions) {
    if (spec.form == Form::kPrefix ? name.starts_with(spec.name) : spec.name == name) return &spec;
  }
  return nullptr;
}

Status ApplyOne(std::string_view item, MountOptions& options) {
  size_t eq = item.find('=');
  std::string_view name = item.substr(0, eq);
  const OptionSpec* spec = FindOption(name);
  if (spec == nullptr) {
    return MakeError(Errc::kInvalid, fmt::format("unknown mount option '{}'", name));
  }
  if (spec->form == Form::kFlag && eq != std::string_view::npos) {
    return MakeError(Errc::kInvalid, fmt::format("mount option '{}' takes no value", name));
  }
  if (spec->form == Form::kValue && eq == std::string_view::npos) {
    return MakeError(Errc::kInvalid,
                     fmt::format("mount option '{}' needs a value: {}=...", name, name));
  }
  std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
  if (spec->apply == nullptr) {
    if (spec->form == Form::kValue && (value.empty() || value.find('\\') != value.npos)) {
      return MakeError(Errc::kInvalid, fmt::format("mount option '{}' needs a plain value", name));
    }
    options.passthrough.emplace_back(item);
    return util::Ok();
  }
  return spec->apply(options, value);
}

}  // namespace

namespace {

// Calls fn for each non-empty comma-separated item of text, until one fails.
Status ForEachItem(std::string_view text, const std::function<Status(std::string_view)>& fn) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    if (!item.empty()) SHARDFS_TRY(fn(item));
    pos = comma + 1;
  }
  return util::Ok();
}

}  // namespace

Status ParseMountOptions(std::string_view text, MountOptions& options) {
  return ForEachItem(text, [&](std::string_view item) { return ApplyOne(item, options); });
}

namespace {

// What mount(8) adds to a remount's options from the mount table: the kernel's own names for
// what the mount has (`relatime`, `user_id=0`, ...), not options of `shardfs mount`. The atime
// ones go to passthrough (a remount keeps them); the FUSE ones were fixed at mount time.
bool IsMountTableOption(std::string_view item, MountOptions& options) {
  constexpr std::string_view kAtime[] = {"relatime", "strictatime", "nodiratime", "diratime",
                                         "atime",    "lazytime",    "nolazytime"};
  constexpr std::string_view kFuse[] = {"user_id=", "group_id=", "rootmode=", "symfollow",
                                        "nosymfollow"};
  for (std::string_view name : kAtime) {
    if (item == name) {
      options.passthrough.emplace_back(item);
      return true;
    }
  }
  for (std::string_view name : kFuse) {
    if (item.starts_with(name)) return true;
  }
  return false;
}

}  // namespace

bool HasRemount(std::string_view text) {
  bool found = false;
  (void)ForEachItem(text, [&](std::string_view item) {
    found = found || item == "remount";
    return util::Ok();
  });
  return found;
}

Status ParseRemountOptions(std::string_view text, MountOptions& options) {
  options.remount = true;
  return ForEachItem(text, [&](std::string_view item) {
    return IsMountTableOption(item, options) ? util::Ok() : ApplyOne(item, options);
  });
}

std::vector<std::string> LibfuseArguments(const MountOptions& options,
                                          std::string_view default_fsname) {
  // The kernel checks permissions from the mode bits; the core relies on it (fs/core/filesystem.h).
  std::string list = "default_permissions";
  list += fmt::format(",fsname={},subtype={}", options.fsname.value_or(std::string(default_fsname)),
                      options.subtype);
  if (options.read_only) list += ",ro";
  if (options.allow_other) list += ",allow_other";
  if (options.debug) list += ",debug";
  for (const std::string& item : options.passthrough) list += "," + item;
  return {"-o", list};
}

std::string MountOptionsHelp() {
  constexpr size_t kIndent = 24;
  constexpr size_t kWidth = 96;
  // "  name                  help that wraps\n" + continuation lines under the help column.
  auto entry = [&](std::string name, std::string_view help) {
    std::string out = fmt::format("  {:<{}}", name, kIndent - 2);
    if (out.size() > kIndent) out += "\n" + std::string(kIndent, ' ');
    size_t column = kIndent;
    size_t pos = 0;
    while (pos < help.size()) {
      size_t space = help.find(' ', pos);
      if (space == std::string_view::npos) space = help.size();
      std::string_view word = help.substr(pos, space - pos);
      if (column > kIndent && column + 1 + word.size() > kWidth) {
        out += "\n" + std::string(kIndent, ' ');
        column = kIndent;
      } else if (column > kIndent) {
        out += ' ';
        ++column;
      }
      out += word;
      column += word.size();
      pos = space + 1;
    }
    return out + "\n";
  };
  std::string out;
  std::vector<std::string_view> passthrough;
  std::vector<std::string> ignored;
  for (const OptionSpec& spec : kOptions) {
    if (spec.apply == nullptr) {
      passthrough.push_back(spec.name);
      continue;
    }
    if (spec.apply == Ignore) {
      ignored.push_back(spec.form == Form::kPrefix ? std::string(spec.name) + "*"
                                                   : std::string(spec.name));
      continue;
    }
    std::string name(spec.name);
    std::string_view help = spec.help;
    if (spec.form == Form::kValue) {
      size_t colon = help.find(": ");
      name += "=" + std::string(help.substr(0, colon));
      help = help.substr(colon + 2);
    }
    out += entry(name, help);
  }
  out += entry("(kernel options)",
               fmt::format("passed on as given: {}", fmt::join(passthrough, ", ")));
  out += entry("(fstab options)", fmt::format("for mount(8) and systemd, accepted and ignored: {}",
                                              fmt::join(ignored, ", ")));
  return out;
}

}  // namespace shardfs::fuse
