// S3Store over https against `openssl s_server -www` with a throwaway self-signed certificate:
// the handshake, certificate and host name checks (the server answers any GET with a status
// page, which is all these tests need).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "fs/remote/s3_store.h"

extern char** environ;

namespace shardfs::remote {
namespace {

using util::Errc;

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "no openssl binary to run a TLS server";
    }
    char tmpl[] = "/tmp/shardfs-s3-tls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
        " -addext subjectAltName=IP:127.0.0.1 -keyout " +
        dir_ + "/key.pem -out " + dir_ + "/cert.pem >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
      port_ = 20000 + static_cast<int>(getpid() * 7 + attempt * 7919) % 30000;
      if (CanConnect(port_)) continue;
      std::vector<std::string> args = {"openssl",        "s_server",         "-quiet",
                                       "-www",           "-accept",          std::to_string(port_),
                                       "-cert",          dir_ + "/cert.pem", "-key",
                                       dir_ + "/key.pem"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      posix_spawn_file_actions_t actions;
      posix_spawn_file_actions_init(&actions);
      posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
      pid_t pid;
      if (posix_spawnp(&pid, "openssl", &actions, nullptr, argv.data(), environ) == 0) pid_ = pid;
      posix_spawn_file_actions_destroy(&actions);
    }
    ASSERT_GT(pid_, 0);
    for (int i = 0; i < 100 && !CanConnect(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(CanConnect(port_)) << "openssl s_server did not start";
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
    }
    if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
  }

  S3Options Options(const std::string& host, bool trust_cert) {
    S3Options o;
    o.endpoint = "https://" + host + ":" + std::to_string(port_);
    o.bucket = "bucket";
    o.access_key = "AK";
    o.secret_key = util::SecretBytes::CopyOf("secret");
    o.max_attempts = 1;
    if (trust_cert) o.ca_file = dir_ + "/cert.pem";
    return o;
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(TlsServerTest, TrustedCertificateWorks) {
  auto store = S3Store::Open(Options("127.0.0.1", true));
  ASSERT_TRUE(store.ok()) << store.error().message;
  for (int i = 0; i < 3; ++i) {  // s_server closes after each reply: a new session each time
    auto got = (*store)->Get("obj");
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_NE(util::AsStringView(*got).find("s_server"), std::string::npos);
  }
}

TEST_F(TlsServerTest, UntrustedCertificateIsRefused) {
  auto store = S3Store::Open(Options("127.0.0.1", false));
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto got = (*store)->Get("obj");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.code(), Errc::kPermission);
  EXPECT_NE(got.error().message.find("https://127.0.0.1"), std::string::npos)
      << got.error().message;
  EXPECT_NE(got.error().message.find("certificate"), std::string::npos) << got.error().message;
}

TEST_F(TlsServerTest, CertificateForAnotherHostIsRefused) {
  auto store = S3Store::Open(Options("localhost", true));  // the certificate names 127.0.0.1
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto got = (*store)->Get("obj");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.code(), Errc::kPermission) << got.error().message;
}

}  // namespace
}  // namespace shardfs::remote
