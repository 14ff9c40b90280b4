// shardfs-node driven by real S3 clients from Debian: s3cmd and rclone (skipped when missing;
// scripts/install-deps.sh installs them). Each writes its config into the node's temp root.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "fs/util/files.h"
#include "tests/node/node_harness.h"

namespace shardfs::node::testing {
namespace {

bool Have(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class NodeClientsTest : public ::testing::Test {
 protected:
  NodeClientsTest() : node_({{"AK1", "secret-one", 0}}) {}
  void SetUp() override {
    node_.Start();
    work_ = node_.root() + "/work";
    ASSERT_TRUE(util::MakeDirs(work_ + "/src/sub", 0755).ok());
    ASSERT_TRUE(util::MakeDirs(work_ + "/home", 0755).ok());
    std::ofstream(work_ + "/src/hello.txt") << "hello from a client\n";
    std::ofstream(work_ + "/src/sub/space name.bin") << std::string(300000, 'z') << "end";
    std::ofstream(work_ + "/src/sub/plus+amp&.txt") << "odd characters";
  }
  // Runs a shell command with HOME in the temp root; returns its exit code, output in *out.
  int Run(const std::string& cmd, std::string* out) {
    std::string log = work_ + "/cmd.log";
    std::string full = "cd " + work_ + " && env -u AWS_CA_BUNDLE HOME=" + work_ + "/home " + cmd +
                       " >" + log + " 2>&1";
    int rc = std::system(full.c_str());
    *out = ReadAll(log);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  std::string Endpoint() const { return "127.0.0.1:" + std::to_string(node_.port()); }

  NodeProcess node_;
  std::string work_;
};

TEST_F(NodeClientsTest, S3cmd) {
  if (!Have("s3cmd"))
    GTEST_FAIL() << "s3cmd is not installed (scripts/install-deps.sh installs it)";
  std::ofstream(work_ + "/s3cfg") << "[default]\naccess_key = AK1\nsecret_key = secret-one\n"
                                  << "host_base = " << Endpoint()
                                  << "\nhost_bucket = " << Endpoint()
                                  << "\nuse_https = False\nsignature_v2 = False\n"
                                  << "bucket_location = us-east-1\nenable_multipart = False\n";
  const std::string s3cmd = "s3cmd -c " + work_ + "/s3cfg ";
  std::string out;
  ASSERT_EQ(Run(s3cmd + "mb s3://sbk", &out), 0) << out << node_.Log();
  ASSERT_EQ(Run(s3cmd + "put src/hello.txt s3://sbk/dir/hello.txt", &out), 0) << out;
  ASSERT_EQ(Run(s3cmd + "put 'src/sub/space name.bin' 's3://sbk/dir/space name.bin'", &out), 0)
      << out;
  ASSERT_EQ(Run(s3cmd + "ls s3://sbk/dir/", &out), 0) << out;
  EXPECT_NE(out.find("s3://sbk/dir/hello.txt"), std::string::npos) << out;
  EXPECT_NE(out.find("s3://sbk/dir/space name.bin"), std::string::npos) << out;
  ASSERT_EQ(Run(s3cmd + "ls", &out), 0) << out;
  EXPECT_NE(out.find("s3://sbk"), std::string::npos) << out;
  ASSERT_EQ(Run(s3cmd + "get --force 's3://sbk/dir/space name.bin' got.bin", &out), 0) << out;
  EXPECT_EQ(ReadAll(work_ + "/got.bin"), ReadAll(work_ + "/src/sub/space name.bin"));
  ASSERT_EQ(Run(s3cmd + "del s3://sbk/dir/hello.txt 's3://sbk/dir/space name.bin'", &out), 0)
      << out;
  ASSERT_EQ(Run(s3cmd + "ls s3://sbk/dir/", &out), 0) << out;
  EXPECT_EQ(out.find("hello.txt"), std::string::npos) << out;
  ASSERT_EQ(Run(s3cmd + "rb s3://sbk", &out), 0) << out;
}

TEST_F(NodeClientsTest, Rclone) {
  if (!Have("rclone"))
    GTEST_FAIL() << "rclone is not installed (scripts/install-deps.sh installs it)";
  std::ofstream(work_ + "/rclone.conf")
      << "[node]\ntype = s3\nprovider = Other\naccess_key_id = AK1\n"
      << "secret_access_key = secret-one\nendpoint = http://" << Endpoint()
      << "\nregion = us-east-1\nforce_path_style = true\n";
  const std::string rclone = "rclone --config " + work_ + "/rclone.conf ";
  std::string out;
  ASSERT_EQ(Run(rclone + "mkdir node:rbk", &out), 0) << out << node_.Log();
  ASSERT_EQ(Run(rclone + "copy src node:rbk/dir", &out), 0) << out << node_.Log();
  ASSERT_EQ(Run(rclone + "check src node:rbk/dir", &out), 0) << out;
  ASSERT_EQ(Run(rclone + "lsf -R node:rbk/dir", &out), 0) << out;
  EXPECT_NE(out.find("hello.txt"), std::string::npos) << out;
  EXPECT_NE(out.find("sub/space name.bin"), std::string::npos) << out;
  EXPECT_NE(out.find("sub/plus+amp&.txt"), std::string::npos) << out;
  ASSERT_EQ(Run(rclone + "copy node:rbk/dir back", &out), 0) << out;
  EXPECT_EQ(ReadAll(work_ + "/back/sub/space name.bin"),
            ReadAll(work_ + "/src/sub/space name.bin"));
  ASSERT_EQ(Run(rclone + "deletefile node:rbk/dir/hello.txt", &out), 0) << out;
  ASSERT_EQ(Run(rclone + "lsf -R node:rbk/dir", &out), 0) << out;
  EXPECT_EQ(out.find("hello.txt"), std::string::npos) << out;
  // A changed file makes check fail: it really compares content (MD5 ETags).
  std::ofstream(work_ + "/src/sub/plus+amp&.txt") << "changed!";
  EXPECT_NE(Run(rclone + "check src/sub node:rbk/dir/sub", &out), 0) << out;
}

}  // namespace
}  // namespace shardfs::node::testing
