// Logging on spdlog. The program's main calls InitLogging once before starting threads;
// afterwards everyone logs through spdlog's functions (spdlog::info(...)), which are thread-safe.
// Secrets are SecretBytes and format only as "<redacted N bytes>".
#pragma once

#include <string>

#include <spdlog/spdlog.h>

namespace shardfs::util {

enum class LogSink { kStderr, kSyslog };

// level: "debug", "info", "warn", "error". Stderr lines are short ("shardfs: message") for
// humans; syslog lines carry the ident given.
void InitLogging(LogSink sink, const std::string& level, const std::string& ident = "shardfs");

}  // namespace shardfs::util
