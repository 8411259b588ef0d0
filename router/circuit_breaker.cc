#include "router/circuit_breaker.h"

#include <algorithm>

namespace surge::router {

std::string_view BreakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

BreakerState CircuitBreaker::state(base::TimePoint now) const {
  if (!open_) return BreakerState::kClosed;
  return now >= open_until_ ? BreakerState::kHalfOpen : BreakerState::kOpen;
}

bool CircuitBreaker::OnSuccess(base::TimePoint now) {
  switch (state(now)) {
    case BreakerState::kClosed:
      consecutive_failures_ = 0;
      // A full max_ejection of healthy service forgives earlier trips.
      if (now - closed_since_ >= options_.max_ejection) trips_in_a_row_ = 0;
      return false;
    case BreakerState::kOpen:
      return false;  // a late answer from before the ejection proves little
    case BreakerState::kHalfOpen:
      open_ = false;
      consecutive_failures_ = 0;
      closed_since_ = now;
      return true;
  }
  return false;
}

bool CircuitBreaker::OnFailure(base::TimePoint now) {
  switch (state(now)) {
    case BreakerState::kClosed:
      if (++consecutive_failures_ < options_.failure_threshold) return false;
      Open(now);
      return true;
    case BreakerState::kOpen:
      return false;
    case BreakerState::kHalfOpen:
      Open(now);
      return false;  // still out; not a new ejection from rotation
  }
  return false;
}

bool CircuitBreaker::Trip(base::TimePoint now) {
  if (state(now) == BreakerState::kOpen) return false;
  const bool was_closed = !open_;
  Open(now);
  return was_closed;
}

void CircuitBreaker::Open(base::TimePoint now) {
  base::Duration ejection = options_.base_ejection;
  for (int i = 0; i < trips_in_a_row_ && ejection < options_.max_ejection; ++i) ejection *= 2;
  ejection = std::min(ejection, options_.max_ejection);
  ++trips_in_a_row_;
  open_ = true;
  open_until_ = now + ejection;
  consecutive_failures_ = 0;
}

}  // namespace surge::router
