// The shardfs program as a new user meets it: real processes, a temporary config directory, no
// terminal. Checks exit codes and that every error names the cause and the fix.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fs/util/files.h"
#include "tests/cli/run_program.h"

namespace shardfs {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testutil::RunOutcome;
using testutil::RunProgram;

const std::string kShardfs = std::string(SHARDFS_BINARY_DIR) + "/cli/shardfs";
constexpr const char* kZeroWords =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
    "abandon art";

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shardfs-cli-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ASSERT_EQ(chmod(root_.c_str(), 0755), 0);
    Write("pw", "correct horse\n", 0600);
  }
  void TearDown() override { ASSERT_TRUE(util::RemoveTree(root_).ok()); }

  void Write(const std::string& name, const std::string& text, mode_t mode) {
    ASSERT_TRUE(util::WriteFileAtomic(root_ + "/" + name, util::AsBytes(text), mode).ok());
  }
  std::string Read(const std::string& name) {
    auto r = util::ReadFile(root_ + "/" + name, 1 << 20);
    return r.ok() ? std::string(util::AsStringView(*r)) : "";
  }

  // Runs shardfs with a clean environment pointing at this test's directories.
  RunOutcome Run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    std::map<std::string, std::string> base = {{"SHARDFS_CONFIG_DIR", root_ + "/cfg"},
                                               {"SHARDFS_PASSWORD", ""},
                                               {"SHARDFS_PASSWORD_FILE", ""},
                                               {"HOME", root_ + "/home"},
                                               {"XDG_CONFIG_HOME", ""},
                                               {"XDG_CACHE_HOME", ""}};
    for (auto& [k, v] : env) base[k] = v;
    args.insert(args.begin(), kShardfs);
    return RunProgram(args, base);
  }
  RunOutcome Init(const std::string& drive, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "init", drive, "--store", "dir:" + root_ + "/store", "--password-file", root_ + "/pw"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }
  static std::vector<std::string> WordsShown(const std::string& out) {
    std::vector<std::pair<int, std::string>> numbered;
    std::regex re(R"((\d+)\. ([a-z]+))");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator();
         ++it) {
      numbered.emplace_back(std::stoi((*it)[1]), (*it)[2]);
    }
    std::sort(numbered.begin(), numbered.end());
    std::vector<std::string> words;
    for (auto& [n, w] : numbered) words.push_back(w);
    return words;
  }
  static std::string Join(const std::vector<std::string>& words) {
    std::string s;
    for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
    return s;
  }
  static std::string DriveId(const std::string& out) {
    std::smatch m;
    std::regex re(R"(id\s+([0-9a-f]{32}))");
    return std::regex_search(out, m, re) ? m[1].str() : "";
  }

  std::string root_;
};

TEST_F(CliTest, HelpDescribesEveryCommandAndOption) {
  RunOutcome top = Run({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (const char* cmd : {"init", "info", "list", "show-mnemonic", "passwd"}) {
    EXPECT_THAT(top.out, HasSubstr(cmd));
  }
  RunOutcome init = Run({"init", "--help"});
  EXPECT_EQ(init.exit_code, 0);
  for (const char* opt :
       {"--store", "--block-size", "--ec", "--cache-dir", "--cache-size", "--restore",
        "--mnemonic-file", "--mnemonic-out", "--password-file", "--config-dir", "--system",
        "--kdf-memory", "--kdf-passes", "SHARDFS_PASSWORD_FILE", "SHARDFS_CONFIG_DIR"}) {
    EXPECT_THAT(init.out, HasSubstr(opt));
  }
  EXPECT_THAT(Run({"--version"}).out, HasSubstr("shardfs 0."));
  EXPECT_EQ(Run({"frobnicate"}).exit_code, 2);
}

TEST_F(CliTest, InitShowsTwentyFourWordsThatRestoreTheSameDrive) {
  RunOutcome r = Init("photos");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Write the\nwords down"));
  std::vector<std::string> words = WordsShown(r.out);
  ASSERT_EQ(words.size(), 24u) << r.out;
  std::string id = DriveId(r.out);
  ASSERT_EQ(id.size(), 32u);
  struct stat st {};
  ASSERT_EQ(stat((root_ + "/cfg/drives/photos/keyfile").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The words are not stored in the clear anywhere in the config directory.
  EXPECT_THAT(Read("cfg/drives/photos/keyfile"), Not(HasSubstr(words[0] + " " + words[1])));
  EXPECT_THAT(Read("cfg/drives/photos/config.json"), Not(HasSubstr(words[0] + " " + words[1])));

  Write("words", Join(words) + "\n", 0600);
  RunOutcome restored = Init("again", {"--restore", "--mnemonic-file", root_ + "/words"});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_EQ(DriveId(restored.out), id);
  EXPECT_THAT(restored.out, Not(HasSubstr(words[0] + " ")));  // a restore does not echo them
  RunOutcome info = Run({"info", "again"});
  EXPECT_EQ(DriveId(info.out), id);
}

TEST_F(CliTest, MnemonicOutWritesAPrivateFileAndShowsNoWords) {
  RunOutcome r = Init("d", {"--mnemonic-out", root_ + "/words.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string words = Read("words.txt");
  ASSERT_FALSE(words.empty());
  EXPECT_TRUE(WordsShown(r.out).empty());
  EXPECT_THAT(r.out, Not(HasSubstr(words.substr(0, words.find(' ', words.find(' ') + 1)))));
  struct stat st {};
  ASSERT_EQ(stat((root_ + "/words.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  RunOutcome again = Init("e", {"--mnemonic-out", root_ + "/words.txt"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("already exists"));
  EXPECT_EQ(Read("words.txt"), words);
}

TEST_F(CliTest, RestoreWithAnUnknownWordNamesItAndItsPosition) {
  std::string words = kZeroWords;
  words.replace(words.find("abandon", 30), 7, "abandn");  // the 5th word
  Write("words", words, 0600);
  RunOutcome r = Init("d", {"--restore", "--mnemonic-file", root_ + "/words"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("word 5"));
  EXPECT_THAT(r.err, HasSubstr("\"abandn\""));
  EXPECT_THAT(r.err, HasSubstr("abandon"));  // the suggestion
  EXPECT_FALSE(util::PathExists(root_ + "/cfg/drives/d"));
}

TEST_F(CliTest, RestoreWithABadChecksumSaysTheWordsAreMistyped) {
  std::string words = kZeroWords;
  words.replace(words.rfind("art"), 3, "zoo");
  Write("words", words, 0600);
  RunOutcome r = Init("d", {"--restore", "--mnemonic-file", root_ + "/words"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("mistyped"));
  EXPECT_THAT(r.err, Not(HasSubstr("abandon abandon")));  // never echoes the words
  Write("words", "abandon abandon about", 0600);
  RunOutcome count = Init("d", {"--restore", "--mnemonic-file", root_ + "/words"});
  EXPECT_EQ(count.exit_code, 1);
  EXPECT_THAT(count.err, HasSubstr("expected 24"));
}

TEST_F(CliTest, AnExistingDriveIsNeverOverwritten) {
  ASSERT_EQ(Init("d").exit_code, 0);
  std::string config = Read("cfg/drives/d/config.json");
  std::string keyfile = Read("cfg/drives/d/keyfile");
  Write("pw", "another password", 0600);
  RunOutcome r = Init("d", {"--block-size", "1M"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("already exists"));
  EXPECT_THAT(r.err, HasSubstr("choose another name"));
  EXPECT_EQ(Read("cfg/drives/d/config.json"), config);
  EXPECT_EQ(Read("cfg/drives/d/keyfile"), keyfile);
  Write("words", kZeroWords, 0600);
  EXPECT_EQ(Init("d", {"--restore", "--mnemonic-file", root_ + "/words"}).exit_code, 1);
  EXPECT_EQ(Read("cfg/drives/d/keyfile"), keyfile);
}

TEST_F(CliTest, AWrongPasswordIsRefusedClearly) {
  ASSERT_EQ(Init("d").exit_code, 0);
  Write("bad", "wrong", 0600);
  RunOutcome r = Run({"show-mnemonic", "d", "--password-file", root_ + "/bad"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the password does not open keyfile"));
  EXPECT_TRUE(WordsShown(r.out).empty());
  RunOutcome ok = Run({"show-mnemonic", "d", "--password-file", root_ + "/pw"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(WordsShown(ok.out).size(), 24u);
}

TEST_F(CliTest, PasswordSourcesInOrder) {
  ASSERT_EQ(Run({"init", "d", "--store", "dir:" + root_ + "/s"}, {{"SHARDFS_PASSWORD", "from env"}})
                .exit_code,
            0);
  Write("envpw", "from env\n", 0600);
  // $SHARDFS_PASSWORD_FILE wins over $SHARDFS_PASSWORD...
  EXPECT_EQ(Run({"show-mnemonic", "d"},
                {{"SHARDFS_PASSWORD_FILE", root_ + "/envpw"}, {"SHARDFS_PASSWORD", "wrong"}})
                .exit_code,
            0);
  // ...and --password-file over both.
  EXPECT_EQ(Run({"show-mnemonic", "d", "--password-file", root_ + "/pw"},
                {{"SHARDFS_PASSWORD", "from env"}})
                .exit_code,
            1);
  RunOutcome none = Run({"show-mnemonic", "d"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("--password-file"));
  EXPECT_THAT(none.err, HasSubstr("SHARDFS_PASSWORD"));
}

TEST_F(CliTest, AnUnwritableConfigDirectoryGivesTheFix) {
  std::filesystem::create_directory(root_ + "/locked");
  ASSERT_EQ(chmod((root_ + "/locked").c_str(), 0555), 0);
  std::vector<std::string> args = {
      kShardfs, "init", "d", "--store", "dir:/tmp/x", "--config-dir", root_ + "/locked/cfg"};
  // The password from the environment, and none from a file the caller's shell may name.
  std::map<std::string, std::string> env = {{"SHARDFS_PASSWORD", "pw"},
                                            {"SHARDFS_PASSWORD_FILE", ""}};
  if (geteuid() == 0) {  // root ignores mode bits: run as nobody, as a user would be
    args.insert(args.begin(),
                {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  }
  RunOutcome r = RunProgram(args, env);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(root_ + "/locked/cfg"));
  EXPECT_THAT(r.err, HasSubstr("Permission denied"));
  EXPECT_THAT(r.err, HasSubstr("--config-dir"));
}

TEST_F(CliTest, BadOptionsNameTheOption) {
  struct Case {
    std::vector<std::string> extra;
    std::string expected;
  };
  for (const auto& c : std::vector<Case>{{{"--ec", "4"}, "--ec"},
                                         {{"--ec", "0+2"}, "K must be at least 1"},
                                         {{"--block-size", "3M"}, "power of two"},
                                         {{"--cache-size", "12Q"}, "--cache-size"},
                                         {{"--cache-size", "1M"}, "at least four blocks"},
                                         {{"--kdf-memory", "1K"}, "--kdf-memory"}}) {
    RunOutcome r = Init("d", c.extra);
    EXPECT_EQ(r.exit_code, 1) << c.extra[0];
    EXPECT_THAT(r.err, HasSubstr(c.expected));
  }
  RunOutcome store = Run({"init", "d", "--store", "s3://x", "--password-file", root_ + "/pw"});
  EXPECT_EQ(store.exit_code, 1);
  EXPECT_THAT(store.err, HasSubstr("dir:PATH"));
  RunOutcome name = Init("../evil");
  EXPECT_EQ(name.exit_code, 1);
  EXPECT_THAT(name.err, HasSubstr("drive name"));
  RunOutcome neither = Run({"init", "d", "--password-file", root_ + "/pw"});
  EXPECT_EQ(neither.exit_code, 1);
  EXPECT_THAT(neither.err, HasSubstr("give either --nodes FILE"));
  RunOutcome both = Run({"init", "d", "--store", "dir:" + root_ + "/s", "--nodes",
                         root_ + "/nodes.conf", "--password-file", root_ + "/pw"});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_THAT(both.err, HasSubstr("give either --nodes FILE"));
  EXPECT_FALSE(util::PathExists(root_ + "/cfg/drives/d"));
}

TEST_F(CliTest, DamagedKeyfileOrConfigGiveClearErrorsNotCrashes) {
  ASSERT_EQ(Init("d").exit_code, 0);
  std::string keyfile = Read("cfg/drives/d/keyfile");
  for (size_t cut : {size_t{0}, size_t{5}, keyfile.size() / 2, keyfile.size() - 1}) {
    Write("cfg/drives/d/keyfile", keyfile.substr(0, cut), 0600);
    RunOutcome r = Run({"show-mnemonic", "d", "--password-file", root_ + "/pw"});
    EXPECT_EQ(r.exit_code, 1) << cut;
    EXPECT_THAT(r.err, HasSubstr("damaged")) << cut;
    EXPECT_THAT(r.err, HasSubstr("--restore")) << cut;
  }
  std::string garbled = keyfile;
  garbled[garbled.size() / 2] ^= 0x40;
  Write("cfg/drives/d/keyfile", garbled, 0600);
  EXPECT_THAT(Run({"show-mnemonic", "d", "--password-file", root_ + "/pw"}).err,
              HasSubstr("damaged"));
  std::filesystem::remove(root_ + "/cfg/drives/d/keyfile");
  EXPECT_THAT(Run({"show-mnemonic", "d", "--password-file", root_ + "/pw"}).err,
              HasSubstr("does not exist"));

  Write("cfg/drives/d/config.json", "{ not json", 0600);
  RunOutcome info = Run({"info", "d"});
  EXPECT_EQ(info.exit_code, 1);
  EXPECT_THAT(info.err, HasSubstr("not a valid drive configuration"));
  RunOutcome missing = Run({"info", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("shardfs init nope"));
}

TEST_F(CliTest, PasswdChangesThePassword) {
  ASSERT_EQ(Init("d").exit_code, 0);
  Write("new", "battery staple", 0600);
  RunOutcome r =
      Run({"passwd", "d", "--password-file", root_ + "/pw", "--new-password-file", root_ + "/new"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Run({"show-mnemonic", "d", "--password-file", root_ + "/pw"}).exit_code, 1);
  EXPECT_EQ(Run({"show-mnemonic", "d", "--password-file", root_ + "/new"}).exit_code, 0);
}

TEST_F(CliTest, ListShowsDrives) {
  EXPECT_THAT(Run({"list"}).err, HasSubstr("no drives"));
  ASSERT_EQ(Init("b").exit_code, 0);
  ASSERT_EQ(Init("a").exit_code, 0);
  RunOutcome r = Run({"list"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_LT(r.out.find("a "), r.out.find("b "));
}

TEST_F(CliTest, WorldReadablePasswordFileWarns) {
  Write("pw", "correct horse\n", 0644);
  RunOutcome r = Init("d");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("chmod 600"));
}

}  // namespace
}  // namespace shardfs
