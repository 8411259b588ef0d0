// Runs the `surge` binary named by $SURGE_BINARY as a user would from a shell,
// for the end-to-end tests of its one-shot commands (run, train, model).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace surge::e2e {

struct CliOutput {
  int exit_code = -1;  // -1: not run (no $SURGE_BINARY) or killed by a signal
  std::string text;    // stdout, plus stderr when merged
};

// `surge ARGS` through the shell; stderr joins stdout when `merge_stderr`,
// else it is dropped (so `text` is exactly what the command printed to stdout).
// A `timeout_s` > 0 kills a command that should have ended but did not (it
// then reports timeout's exit code, 124 or 137).
inline CliOutput RunSurge(const std::string& args, bool merge_stderr = true, int timeout_s = 0) {
  const char* binary = std::getenv("SURGE_BINARY");
  CliOutput out;
  if (binary == nullptr) return out;
  const std::string limit =
      timeout_s > 0 ? "timeout -k 5 " + std::to_string(timeout_s) + " " : std::string();
  const std::string cmd = limit + binary + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buf;
  for (size_t n; (n = fread(buf.data(), 1, buf.size(), pipe)) > 0;) out.text.append(buf.data(), n);
  const int status = pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace surge::e2e
