#include "router/circuit_breaker.h"

#include "gtest/gtest.h"

namespace surge::router {
namespace {

using std::chrono::seconds;

BreakerOptions Options() {
  BreakerOptions o;
  o.failure_threshold = 3;
  o.base_ejection = seconds(2);
  o.max_ejection = seconds(10);
  return o;
}

// Closes a new breaker with one successful probe.
CircuitBreaker Closed(base::FakeClock& clock) {
  CircuitBreaker b(Options());
  EXPECT_TRUE(b.OnSuccess(clock.Now()));
  return b;
}

TEST(CircuitBreakerTest, NewBreakerWaitsForItsFirstProbe) {
  base::FakeClock clock;
  CircuitBreaker b(Options());
  EXPECT_EQ(b.state(clock.Now()), BreakerState::kHalfOpen);
  EXPECT_FALSE(b.AllowsTraffic(clock.Now()));
  EXPECT_TRUE(b.OnSuccess(clock.Now()));
  EXPECT_TRUE(b.AllowsTraffic(clock.Now()));
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresOnly) {
  base::FakeClock clock;
  CircuitBreaker b = Closed(clock);
  EXPECT_FALSE(b.OnFailure(clock.Now()));
  EXPECT_FALSE(b.OnFailure(clock.Now()));
  EXPECT_FALSE(b.OnSuccess(clock.Now()));  // resets the run
  EXPECT_FALSE(b.OnFailure(clock.Now()));
  EXPECT_FALSE(b.OnFailure(clock.Now()));
  EXPECT_EQ(b.state(clock.Now()), BreakerState::kClosed);
  EXPECT_TRUE(b.OnFailure(clock.Now()));
  EXPECT_EQ(b.state(clock.Now()), BreakerState::kOpen);
}

TEST(CircuitBreakerTest, HalfOpenAfterEjectionThenProbeDecides) {
  base::FakeClock clock;
  CircuitBreaker b = Closed(clock);
  EXPECT_TRUE(b.Trip(clock.Now()));
  clock.Advance(seconds(1));
  EXPECT_EQ(b.state(clock.Now()), BreakerState::kOpen);
  EXPECT_FALSE(b.OnSuccess(clock.Now()));  // a late answer does not close it
  clock.Advance(seconds(1));
  EXPECT_EQ(b.state(clock.Now()), BreakerState::kHalfOpen);
  // A failed probe: open again for twice as long.
  EXPECT_FALSE(b.OnFailure(clock.Now()));
  clock.Advance(seconds(3));
  EXPECT_EQ(b.state(clock.Now()), BreakerState::kOpen);
  clock.Advance(seconds(1));
  EXPECT_EQ(b.state(clock.Now()), BreakerState::kHalfOpen);
  EXPECT_TRUE(b.OnSuccess(clock.Now()));
  EXPECT_EQ(b.state(clock.Now()), BreakerState::kClosed);
}

TEST(CircuitBreakerTest, EjectionGrowsUpToTheCapAndIsForgivenAfterHealthyService) {
  base::FakeClock clock;
  CircuitBreaker b = Closed(clock);
  const base::Duration expected[] = {seconds(2), seconds(4), seconds(8), seconds(10), seconds(10)};
  for (base::Duration e : expected) {
    b.Trip(clock.Now());
    EXPECT_EQ(b.open_until() - clock.Now(), e);
    clock.Advance(e);
    EXPECT_TRUE(b.OnSuccess(clock.Now()));
  }
  clock.Advance(seconds(10));
  EXPECT_FALSE(b.OnSuccess(clock.Now()));  // healthy for max_ejection
  b.Trip(clock.Now());
  EXPECT_EQ(b.open_until() - clock.Now(), seconds(2));
}

TEST(CircuitBreakerTest, TripReportsOnlyALeaveFromRotation) {
  base::FakeClock clock;
  CircuitBreaker b = Closed(clock);
  EXPECT_TRUE(b.Trip(clock.Now()));
  EXPECT_FALSE(b.Trip(clock.Now()));  // already open
  clock.Advance(seconds(5));
  EXPECT_FALSE(b.Trip(clock.Now()));  // half-open: was out of rotation already
  EXPECT_EQ(b.state(clock.Now()), BreakerState::kOpen);
  EXPECT_EQ(BreakerStateName(BreakerState::kHalfOpen), "half_open");
}

}  // namespace
}  // namespace surge::router
