// A real `surge route` process for end-to-end tests, beside ServeProcess.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace surge::e2e {

// Thread safety: not thread-safe; owned by one test.
class RouteProcess {
 public:
  // Starts `surge route --port 0 <args>` and waits until it listens.
  explicit RouteProcess(std::vector<std::string> args);
  ~RouteProcess();  // SIGKILLs if still running

  int port() const { return port_; }
  std::string url(const std::string& path) const;
  // Sends `sig` and waits for the exit status (or -1 on timeout).
  int SignalAndWait(int sig, int timeout_s = 60);
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

}  // namespace surge::e2e
