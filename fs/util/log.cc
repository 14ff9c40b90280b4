#include "fs/util/log.h"

#include <syslog.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>

namespace shardfs::util {

void InitLogging(LogSink sink, const std::string& level, const std::string& ident) {
  std::shared_ptr<spdlog::logger> logger;
  if (sink == LogSink::kSyslog) {
    logger = spdlog::syslog_logger_mt(ident + "-syslog", ident, LOG_PID, LOG_DAEMON);
    logger->set_pattern("%v");
  } else {
    logger = spdlog::stderr_color_mt(ident + "-stderr");
    logger->set_pattern(level == "debug" ? "%H:%M:%S.%e %^%l%$ [%t] %v" : ident + ": %^%l%$: %v");
  }
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace shardfs::util
