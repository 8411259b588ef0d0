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
inline CliOutput RunSurge(const std::string& args, bool merge_stderr = true) {
  const char* binary = std::getenv("SURGE_BINARY");
  CliOutput out;
  if (binary == nullptr) return out;
  const std::string cmd =
      std::string(binary) + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buf;
  for (size_t n; (n = fread(buf.data(), 1, buf.size(), pipe)) > 0;) out.text.append(buf.data(), n);
  const int status = pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace surge::e2e
