// CreateDrive / UnlockDrive / ChangePassword against a temporary config directory.
#include "cli/drive/drive_init.h"

#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "cli/drive/drive_unlock.h"
#include "fs/crypto/bip39.h"
#include "fs/util/files.h"

namespace shardfs::drive {
namespace {

using util::Errc;
using util::SecretBytes;

// A valid 24-word mnemonic (BIP39 vector for entropy 0x00..00).
constexpr const char* kWords =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
    "abandon art";

class DriveInitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shardfs-init-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(util::RemoveTree(root_).ok()); }

  InitRequest Request(const std::string& name, const char* password = "pw") {
    InitRequest r;
    r.config_dir = root_ + "/cfg";
    r.config.name = name;
    r.config.store = {core::StoreSpec::Kind::kDir, root_ + "/store"};
    r.config.cache_dir = root_ + "/cache/" + name;
    r.config.cache_size = 64u << 20;
    r.password = SecretBytes::CopyOf(std::string_view(password));
    r.kdf = {1, 1024, 1};  // fast for tests; production defaults are checked in keyfile_test
    return r;
  }

  util::FakeClock clock_;
  std::string root_;
};

TEST_F(DriveInitTest, CreatesConfigAndKeyfileThatUnlock) {
  auto r = CreateDrive(Request("photos"), clock_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->config.drive_id.size(), 32u);
  EXPECT_TRUE(crypto::NormalizeMnemonic(r->mnemonic.view(), 24).ok());
  struct stat st {};
  ASSERT_EQ(stat(r->paths.keyfile.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(util::PathExists(root_ + "/store"));

  auto loaded = LoadDriveConfig(r->paths, "photos");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(*loaded, r->config);
  auto unlocked = UnlockDrive(r->paths, "photos", SecretBytes::CopyOf(std::string_view("pw")));
  ASSERT_TRUE(unlocked.ok()) << unlocked.error().message;
  EXPECT_TRUE(unlocked->mnemonic == r->mnemonic);

  // Nothing temporary is left in the drives directory.
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(r->paths.drives_dir)) (void)e, ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(DriveInitTest, WrongPasswordIsAPermissionError) {
  auto r = CreateDrive(Request("d"), clock_);
  ASSERT_TRUE(r.ok());
  auto u = UnlockDrive(r->paths, "d", SecretBytes::CopyOf(std::string_view("nope")));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.code(), Errc::kPermission);
  EXPECT_NE(u.error().message.find(r->paths.keyfile), std::string::npos);
}

TEST_F(DriveInitTest, RestoreGivesTheSameDriveId) {
  InitRequest a = Request("a");
  a.restore_mnemonic = SecretBytes::CopyOf(std::string_view(kWords));
  auto ra = CreateDrive(std::move(a), clock_);
  ASSERT_TRUE(ra.ok()) << ra.error().message;
  InitRequest b = Request("b", "other password");
  b.restore_mnemonic =
      SecretBytes::CopyOf(std::string_view("  ABANDON abandon\tabandon abandon "
                                           "abandon abandon abandon abandon "
                                           "abandon abandon abandon abandon "
                                           "abandon abandon abandon abandon "
                                           "abandon abandon abandon abandon "
                                           "abandon abandon abandon art\n"));
  auto rb = CreateDrive(std::move(b), clock_);
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(ra->config.drive_id, rb->config.drive_id);
  EXPECT_EQ(rb->mnemonic.view(), kWords);
}

TEST_F(DriveInitTest, NeverOverwritesAnExistingDrive) {
  auto first = CreateDrive(Request("d"), clock_);
  ASSERT_TRUE(first.ok());
  auto before_config = util::ReadFile(first->paths.config_file, 1 << 20);
  auto before_key = util::ReadFile(first->paths.keyfile, 1 << 20);
  auto second = CreateDrive(Request("d", "pw2"), clock_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.code(), Errc::kExists);
  EXPECT_NE(second.error().message.find("already exists"), std::string::npos);
  EXPECT_EQ(*util::ReadFile(first->paths.config_file, 1 << 20), *before_config);
  EXPECT_EQ(*util::ReadFile(first->paths.keyfile, 1 << 20), *before_key);
}

TEST_F(DriveInitTest, MnemonicOutIsPrivateAndNeverOverwritten) {
  InitRequest r = Request("d");
  r.mnemonic_out = root_ + "/words.txt";
  auto res = CreateDrive(std::move(r), clock_);
  ASSERT_TRUE(res.ok()) << res.error().message;
  auto text = util::ReadFile(root_ + "/words.txt", 4096);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(util::AsStringView(*text), std::string(res->mnemonic.view()) + "\n");
  struct stat st {};
  ASSERT_EQ(stat((root_ + "/words.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  InitRequest again = Request("e");
  again.mnemonic_out = root_ + "/words.txt";
  auto refused = CreateDrive(std::move(again), clock_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), Errc::kExists);
  EXPECT_FALSE(util::PathExists(root_ + "/cfg/drives/e"));  // nothing half-made
  EXPECT_EQ(*util::ReadFile(root_ + "/words.txt", 4096), *text);
}

TEST_F(DriveInitTest, BadRestoreWordsCreateNothing) {
  InitRequest r = Request("d");
  std::string words = kWords;
  words.replace(words.find("art"), 3, "arx");
  r.restore_mnemonic = SecretBytes::CopyOf(std::string_view(words));
  auto res = CreateDrive(std::move(r), clock_);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.code(), Errc::kInvalid);
  EXPECT_NE(res.error().message.find("arx"), std::string::npos);
  EXPECT_FALSE(util::PathExists(root_ + "/cfg/drives/d"));
}

TEST_F(DriveInitTest, ConfigDirThatIsAFileGivesAClearError) {
  ASSERT_TRUE(util::WriteFileAtomic(root_ + "/cfg", util::AsBytes("x"), 0600).ok());
  auto res = CreateDrive(Request("d"), clock_);
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.error().message.find("config directory"), std::string::npos);
  EXPECT_NE(res.error().message.find("--config-dir"), std::string::npos);
}

TEST_F(DriveInitTest, EmptyPasswordRefused) {
  auto res = CreateDrive(Request("d", ""), clock_);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.code(), Errc::kInvalid);
}

TEST_F(DriveInitTest, ChangePassword) {
  auto r = CreateDrive(Request("d"), clock_);
  ASSERT_TRUE(r.ok());
  auto pw = [](const char* s) { return SecretBytes::CopyOf(std::string_view(s)); };
  EXPECT_EQ(ChangePassword(r->paths, "d", pw("wrong"), pw("new"), {1, 1024, 1}).code(),
            Errc::kPermission);
  ASSERT_TRUE(ChangePassword(r->paths, "d", pw("pw"), pw("new"), {1, 1024, 1}).ok());
  EXPECT_EQ(UnlockDrive(r->paths, "d", pw("pw")).code(), Errc::kPermission);
  EXPECT_TRUE(UnlockDrive(r->paths, "d", pw("new")).ok());
}

TEST_F(DriveInitTest, KeyfileOfAnotherDriveIsDetected) {
  auto a = CreateDrive(Request("a"), clock_);
  auto b = CreateDrive(Request("b"), clock_);
  ASSERT_TRUE(a.ok() && b.ok());
  std::filesystem::copy_file(a->paths.keyfile, b->paths.keyfile,
                             std::filesystem::copy_options::overwrite_existing);
  auto u = UnlockDrive(b->paths, "b", SecretBytes::CopyOf(std::string_view("pw")));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.code(), Errc::kCorrupt);
  EXPECT_NE(u.error().message.find("another drive"), std::string::npos);
}

TEST_F(DriveInitTest, MissingDriveNamesWhereItLooked) {
  auto r = LoadDriveConfig(DrivePaths::For(root_ + "/cfg", "nope"), "nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::kNotFound);
  EXPECT_NE(r.error().message.find("shardfs init nope"), std::string::npos);
}

}  // namespace
}  // namespace shardfs::drive
