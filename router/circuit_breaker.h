// CircuitBreaker: whether a replica may take traffic, from the outcomes of
// the requests and health checks sent to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "base/clock.h"

namespace surge::router {

struct BreakerOptions {
  int failure_threshold = 3;  // consecutive failures that open a closed breaker
  // Ejection time after the first trip; doubled for every further trip in a
  // row (no stretch of healthy traffic between them), up to max_ejection.
  base::Duration base_ejection = std::chrono::seconds(2);
  base::Duration max_ejection = std::chrono::seconds(30);
};

enum class BreakerState {
  kClosed,    // in rotation
  kOpen,      // ejected until its ejection time has passed
  kHalfOpen,  // ejection over; waits for one successful probe to close
};

std::string_view BreakerStateName(BreakerState state);

// The classic three-state breaker, driven by explicit outcomes and an
// explicit time (so tests use a FakeClock's readings):
//   closed --failure_threshold consecutive failures / Trip()--> open
//   open --ejection time passed--> half-open
//   half-open --success--> closed;  half-open --failure--> open (longer)
// Live traffic goes only to closed breakers; a half-open one is probed by the
// active health checker, never with a client's request. A new breaker starts
// half-open: a replica enters rotation after its first successful probe.
//
// Thread safety: none; the owner (Replica) serializes access.
// Errors: none; every input is a valid event in every state.
class CircuitBreaker {
 public:
  explicit CircuitBreaker(BreakerOptions options) : options_(options) {}

  BreakerState state(base::TimePoint now) const;
  bool AllowsTraffic(base::TimePoint now) const { return state(now) == BreakerState::kClosed; }

  // Returns true when this success closed the breaker (back in rotation).
  bool OnSuccess(base::TimePoint now);
  // Returns true when this failure opened the breaker (an ejection).
  bool OnFailure(base::TimePoint now);
  // Opens the breaker at once (the replica said it is draining). Returns
  // true when it was not already open.
  bool Trip(base::TimePoint now);

  // When the current ejection ends (meaningful while open).
  base::TimePoint open_until() const { return open_until_; }
  int num_consecutive_failures() const { return consecutive_failures_; }

 private:
  void Open(base::TimePoint now);

  const BreakerOptions options_;
  bool open_ = true;  // starts half-open: open with an ejection already over
  base::TimePoint open_until_{};
  base::TimePoint closed_since_{};
  int consecutive_failures_ = 0;
  int trips_in_a_row_ = 0;
};

}  // namespace surge::router
