// How `surge serve` and `surge route` run until asked to stop. StopSignals,
// made on the main thread before it starts any other, blocks SIGTERM and
// SIGINT there, so every thread inherits the mask and only Wait() receives
// them; SIGPIPE is ignored (a peer that hangs up is an error on its socket).
#pragma once

#include <signal.h>

#include <functional>

namespace surge::cli {

class StopSignals {
 public:
  StopSignals();
  // Blocks until SIGTERM or SIGINT arrives and logs that draining starts
  // (for up to `drain_timeout_s`).
  void Wait(double drain_timeout_s) const;

 private:
  sigset_t set_;
};

// Polls `idle` every 20 ms until it holds or `timeout_s` pass; false on
// timeout (and logs that what is still in flight gets cut).
bool WaitUntilIdle(const std::function<bool()>& idle, double timeout_s);

}  // namespace surge::cli
