#include "tools/surge/stop_signals.h"

#include <chrono>
#include <cstdint>
#include <thread>

#include "base/logging.h"

namespace surge::cli {

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void StopSignals::Wait(double drain_timeout_s) const {
  int sig = 0;
  sigwait(&set_, &sig);
  SURGE_LOG_INFO("received {}: draining (up to {} s)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                 drain_timeout_s);
}

bool WaitUntilIdle(const std::function<bool()>& idle, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (!idle() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (idle()) return true;
  SURGE_LOG_WARN("drain timeout: cutting what is still in flight");
  return false;
}

}  // namespace surge::cli
