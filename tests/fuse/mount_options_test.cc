#include "fs/fuse/mount_options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <fuse_lowlevel.h>

namespace shardfs::fuse {
namespace {

MountOptions Parse(const std::vector<std::string>& texts) {
  MountOptions options;
  for (const auto& text : texts) {
    auto status = ParseMountOptions(text, options);
    EXPECT_TRUE(status.ok()) << text << ": " << status.error().message;
  }
  return options;
}

std::string ErrorOf(const std::string& text) {
  MountOptions options;
  auto status = ParseMountOptions(text, options);
  EXPECT_FALSE(status.ok()) << text;
  if (status.ok()) return "";
  EXPECT_EQ(status.code(), util::Errc::kInvalid);
  return status.error().message;
}

TEST(MountOptions, DefaultsGiveTheAlwaysOnLibfuseOptions) {
  MountOptions options;
  EXPECT_FALSE(options.read_only);
  EXPECT_FALSE(options.allow_other);
  EXPECT_FALSE(options.debug);
  EXPECT_TRUE(options.writeback_cache);
  EXPECT_EQ(options.attr_timeout, 1.0);
  EXPECT_EQ(options.entry_timeout, 1.0);
  EXPECT_EQ(LibfuseArguments(options, "shardfs:photos"),
            (std::vector<std::string>{
                "-o", "default_permissions,fsname=shardfs:photos,subtype=shardfs"}));
}

TEST(MountOptions, OurFlags) {
  MountOptions o = Parse({"ro,allow_other,debug,no_writeback_cache"});
  EXPECT_TRUE(o.read_only);
  EXPECT_TRUE(o.allow_other);
  EXPECT_TRUE(o.debug);
  EXPECT_FALSE(o.writeback_cache);
  EXPECT_TRUE(o.passthrough.empty());
  EXPECT_EQ(LibfuseArguments(o, "shardfs:d")[1],
            "default_permissions,fsname=shardfs:d,subtype=shardfs,ro,allow_other,debug");
}

TEST(MountOptions, LaterOptionsWinAcrossRepeatedO) {
  MountOptions o =
      Parse({"ro,no_writeback_cache", "rw", "writeback_cache,attr_timeout=3", "attr_timeout=0.25"});
  EXPECT_FALSE(o.read_only);
  EXPECT_TRUE(o.writeback_cache);
  EXPECT_EQ(o.attr_timeout, 0.25);
}

TEST(MountOptions, Timeouts) {
  MountOptions o = Parse({"attr_timeout=2.5,entry_timeout=0"});
  EXPECT_EQ(o.attr_timeout, 2.5);
  EXPECT_EQ(o.entry_timeout, 0.0);
  EXPECT_NE(ErrorOf("attr_timeout=abc").find("attr_timeout=abc"), std::string::npos);
  EXPECT_NE(ErrorOf("entry_timeout=-1").find("entry_timeout"), std::string::npos);
  ErrorOf("attr_timeout=1e9");
  ErrorOf("attr_timeout=nan");
  ErrorOf("attr_timeout=1s");
  EXPECT_NE(ErrorOf("attr_timeout").find("needs a value"), std::string::npos);
  ErrorOf("attr_timeout=");
}

TEST(MountOptions, UnknownOptionsAreNamed) {
  EXPECT_EQ(ErrorOf("foo"), "unknown mount option 'foo'");
  EXPECT_EQ(ErrorOf("ro,foo=bar,rw"), "unknown mount option 'foo'");
  EXPECT_EQ(ErrorOf("allow-other"), "unknown mount option 'allow-other'");
  EXPECT_EQ(ErrorOf("RO"), "unknown mount option 'RO'");
}

TEST(MountOptions, FlagsTakeNoValue) {
  EXPECT_EQ(ErrorOf("ro=1"), "mount option 'ro' takes no value");
  EXPECT_EQ(ErrorOf("nosuid=yes"), "mount option 'nosuid' takes no value");
}

TEST(MountOptions, NamesAndEmptyItems) {
  MountOptions o = Parse({",,fsname=mine,,subtype=sfs,"});
  ASSERT_TRUE(o.fsname.has_value());
  EXPECT_EQ(*o.fsname, "mine");
  EXPECT_EQ(o.subtype, "sfs");
  EXPECT_EQ(LibfuseArguments(o, "shardfs:d")[1], "default_permissions,fsname=mine,subtype=sfs");
  ErrorOf("fsname=");
  ErrorOf("subtype=a b");
  ErrorOf("fsname=a\\b");
  Parse({""});
}

TEST(MountOptions, KernelOptionsPassThroughInOrder) {
  MountOptions o = Parse({"noatime,nosuid", "max_read=131072,default_permissions"});
  EXPECT_EQ(o.passthrough, (std::vector<std::string>{"noatime", "nosuid", "max_read=131072"}));
  EXPECT_EQ(LibfuseArguments(o, "x")[1],
            "default_permissions,fsname=x,subtype=shardfs,noatime,nosuid,max_read=131072");
  ErrorOf("max_read");
}

TEST(MountOptions, HelpListsEveryOption) {
  std::string help = MountOptionsHelp();
  for (const char* name : {"ro ", "allow_other", "debug", "no_writeback_cache",
                           "attr_timeout=SECONDS", "entry_timeout=SECONDS", "fsname=NAME",
                           "subtype=NAME", "nosuid", "noatime", "auto_unmount"}) {
    EXPECT_NE(help.find(name), std::string::npos) << name;
  }
}

TEST(MountOptions, DriveLocationAndCache) {
  MountOptions o = Parse({"password_file=/etc/shardfs/p.pass,config=/srv/d/config.json",
                          "config_dir=/etc/shardfs,cache_dir=/var/cache/x,cache_size=512M"});
  EXPECT_EQ(o.password_file, "/etc/shardfs/p.pass");
  EXPECT_EQ(o.config, "/srv/d/config.json");
  EXPECT_EQ(o.config_dir, "/etc/shardfs");
  EXPECT_EQ(o.cache_dir, "/var/cache/x");
  EXPECT_EQ(o.cache_size, uint64_t{512} << 20);
  EXPECT_EQ(Parse({"cache_size=2G"}).cache_size, uint64_t{2} << 30);
  // Relative paths are made absolute: the daemon runs in /.
  std::optional<std::string> relative = Parse({"password_file=p"}).password_file;
  ASSERT_TRUE(relative.has_value());
  EXPECT_EQ(relative->front(), '/');
  EXPECT_NE(ErrorOf("cache_size=lots").find("512M"), std::string::npos);
  ErrorOf("cache_size=0");
  ErrorOf("password_file=");
  ErrorOf("config_dir");
  // None of them reaches libfuse.
  EXPECT_EQ(LibfuseArguments(o, "d")[1], "default_permissions,fsname=d,subtype=shardfs");
}

TEST(MountOptions, OwnerAndUmask) {
  MountOptions o = Parse({"uid=1000,gid=100,umask=027"});
  EXPECT_EQ(o.uid, 1000u);
  EXPECT_EQ(o.gid, 100u);
  EXPECT_EQ(o.umask, 027u);
  EXPECT_EQ(Parse({"umask=0"}).umask, 0u);
  EXPECT_FALSE(Parse({"ro"}).uid.has_value());
  EXPECT_NE(ErrorOf("uid=alice").find("id -u"), std::string::npos);
  ErrorOf("uid=-1");
  ErrorOf("gid=4294967295");
  EXPECT_NE(ErrorOf("umask=999").find("octal"), std::string::npos);
  ErrorOf("umask=1000");
  EXPECT_EQ(LibfuseArguments(o, "d")[1], "default_permissions,fsname=d,subtype=shardfs");
}

// What mount(8), /etc/fstab and systemd write for themselves is accepted and dropped.
TEST(MountOptions, FstabOptionsAreIgnored) {
  MountOptions o = Parse({"_netdev,nofail,noauto,auto,defaults,user,users,nouser,comment=x",
                          "x-systemd.automount,x-systemd.idle-timeout=10min,x-gvfs-show,ro"});
  EXPECT_TRUE(o.read_only);
  EXPECT_TRUE(o.passthrough.empty());
  EXPECT_EQ(LibfuseArguments(o, "d")[1], "default_permissions,fsname=d,subtype=shardfs,ro");
  EXPECT_EQ(ErrorOf("_netdev=1"), "mount option '_netdev' takes no value");
  EXPECT_EQ(ErrorOf("xsystemd.automount"), "unknown mount option 'xsystemd.automount'");
  std::string help = MountOptionsHelp();
  for (const char* name : {"password_file=FILE", "config=PATH", "config_dir=DIR", "cache_dir=DIR",
                           "cache_size=SIZE", "uid=N", "gid=N", "umask=OCTAL", "_netdev", "x-*"}) {
    EXPECT_NE(help.find(name), std::string::npos) << name;
  }
}

// What we pass must be what libfuse 3.14 accepts: fuse_session_new rejects unknown options
// (a session that is created but not mounted touches nothing).
TEST(MountOptions, LibfuseAcceptsEverythingWePass) {
  MountOptions o = Parse(
      {"ro,allow_other,fsname=a:b,subtype=shardfs,suid,nosuid,dev,nodev,exec,noexec,async,sync,"
       "dirsync,noatime,auto_unmount,blksize=4096,max_read=131072,context=system_u:object_r:"
       "fusefs_t:s0,fscontext=x,defcontext=x,rootcontext=x"});
  std::vector<std::string> strings = {"shardfs"};
  for (auto& a : LibfuseArguments(o, "d")) strings.push_back(a);
  std::vector<char*> argv;
  for (auto& s : strings) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_lowlevel_ops ops{};
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
  EXPECT_NE(se, nullptr) << strings.back();
  if (se != nullptr) fuse_session_destroy(se);
  fuse_opt_free_args(&args);
}

}  // namespace
}  // namespace shardfs::fuse
