#include "cli/password.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "fs/util/files.h"

namespace shardfs::cli {

using util::Errc;
using util::MakeError;
using util::Result;
using util::SecretBytes;

namespace {
constexpr uint64_t kMaxSecretFile = 64 * 1024;
constexpr size_t kMaxPromptLine = 4096;
}  // namespace

Result<SecretBytes> ReadSecretFile(const std::string& path, std::string_view what) {
  auto data = util::ReadFile(path, kMaxSecretFile);
  if (!data.ok()) return data.error().WithContext(fmt::format("cannot read the {} file", what));
  SecretBytes secret = SecretBytes::CopyOf(util::ByteSpan(*data));
  util::SecureZero(data->data(), data->size());
  size_t n = secret.size();
  if (n > 0 && secret.data()[n - 1] == '\n') --n;
  if (n > 0 && secret.data()[n - 1] == '\r') --n;
  if (n == 0) return MakeError(Errc::kInvalid, fmt::format("the {} file {} is empty", what, path));
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    std::fprintf(stderr,
                 "shardfs: warning: %s is readable by other users (mode %03o); "
                 "`chmod 600 %s` to keep the %s private\n",
                 path.c_str(), st.st_mode & 0777, path.c_str(), std::string(what).c_str());
  }
  return secret.Prefix(n);
}

Result<SecretBytes> PromptHidden(std::string_view prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return MakeError(Errc::kInvalid, "no terminal to ask on");
  }
  struct termios old_mode {};
  bool restore = ::tcgetattr(fd, &old_mode) == 0;
  if (restore) {
    struct termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  (void)!::write(fd, prompt.data(), prompt.size());
  SecretBytes line(kMaxPromptLine);
  size_t n = 0;
  char c = 0;
  while (n < kMaxPromptLine && ::read(fd, &c, 1) == 1 && c != '\n') line.data()[n++] = c;
  if (restore) ::tcsetattr(fd, TCSAFLUSH, &old_mode);
  ::close(fd);
  if (n > 0 && line.data()[n - 1] == '\r') --n;
  return line.Prefix(n);
}

bool PasswordInEnvironment() {
  const char* env_file = std::getenv("SHARDFS_PASSWORD_FILE");
  return (env_file != nullptr && *env_file != '\0') || std::getenv("SHARDFS_PASSWORD") != nullptr;
}

Result<SecretBytes> GetPassword(const std::optional<std::string>& password_file, PasswordUse use,
                                std::string_view what) {
  if (password_file) return ReadSecretFile(*password_file, "password");
  if (const char* env_file = std::getenv("SHARDFS_PASSWORD_FILE"); env_file && *env_file) {
    return ReadSecretFile(env_file, "password");
  }
  if (const char* env = std::getenv("SHARDFS_PASSWORD"); env != nullptr) {
    if (*env == '\0') return MakeError(Errc::kInvalid, "SHARDFS_PASSWORD is set but empty");
    return SecretBytes::CopyOf(std::string_view(env));
  }
  auto first = PromptHidden(use == PasswordUse::kNew ? fmt::format("New {}: ", what)
                                                     : fmt::format("{}: ", what));
  if (!first.ok()) {
    return MakeError(Errc::kInvalid,
                     fmt::format("no {} given and no terminal to ask on: use --password-file "
                                 "FILE, or set SHARDFS_PASSWORD_FILE or SHARDFS_PASSWORD",
                                 what));
  }
  if (first->empty()) return MakeError(Errc::kInvalid, "the password is empty");
  if (use == PasswordUse::kNew) {
    SHARDFS_ASSIGN_OR_RETURN(SecretBytes again, PromptHidden(fmt::format("Repeat {}: ", what)));
    if (!(again == *first)) {
      return MakeError(Errc::kInvalid, "the two passwords differ; nothing was changed, try again");
    }
  }
  return first;
}

}  // namespace shardfs::cli
