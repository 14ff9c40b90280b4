// Where the CLI gets passwords and mnemonics: --password-file, then $SHARDFS_PASSWORD_FILE,
// then $SHARDFS_PASSWORD, then a prompt on the terminal (echo off; asked twice when a new
// password is being set). Nothing read here is ever printed or logged.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "fs/util/bytes.h"
#include "fs/util/result.h"

namespace shardfs::cli {

enum class PasswordUse { kUnlock, kNew };

// `what` names the password in prompts and errors, e.g. "password for drive 'photos'".
util::Result<util::SecretBytes> GetPassword(const std::optional<std::string>& password_file,
                                            PasswordUse use, std::string_view what);

// True when $SHARDFS_PASSWORD_FILE or $SHARDFS_PASSWORD gives a password (GetPassword then asks
// no terminal).
bool PasswordInEnvironment();

// A password or mnemonic file: its contents less one trailing newline; errors if it is empty.
// Warns on stderr when the file is readable by group or others.
util::Result<util::SecretBytes> ReadSecretFile(const std::string& path, std::string_view what);

// Reads a line from the terminal without echo (kInvalid when there is no terminal).
util::Result<util::SecretBytes> PromptHidden(std::string_view prompt);

}  // namespace shardfs::cli
