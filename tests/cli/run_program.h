// Runs a program as a user would from a shell, without a terminal (setsid, stdin from
// /dev/null), capturing its exit code, stdout and stderr. Test-only.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace shardfs::testutil {

struct RunOutcome {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

// env: variables to set on top of the test's environment; a value of "" unsets the variable.
RunOutcome RunProgram(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env);

}  // namespace shardfs::testutil
