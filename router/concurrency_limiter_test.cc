#include "router/concurrency_limiter.h"

#include <vector>

#include "gtest/gtest.h"

namespace surge::router {
namespace {

using Outcome = ConcurrencyLimiter::Outcome;
using std::chrono::milliseconds;

TEST(ConcurrencyLimiterTest, UnlimitedGrantsEverything) {
  base::FakeClock clock;
  ConcurrencyLimiter l({});
  uint64_t ticket = 0;
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(l.Acquire(clock.Now(), nullptr, &ticket), Outcome::kGranted);
  EXPECT_EQ(l.in_flight(), 100);
}

TEST(ConcurrencyLimiterTest, QueuesInOrderThenRefuses) {
  base::FakeClock clock;
  ConcurrencyLimiter l({.max_in_flight = 2, .max_queue = 2, .queue_timeout = milliseconds(100)});
  std::vector<int> granted;
  uint64_t ticket = 0;
  EXPECT_EQ(l.Acquire(clock.Now(), nullptr, &ticket), Outcome::kGranted);
  EXPECT_EQ(l.Acquire(clock.Now(), nullptr, &ticket), Outcome::kGranted);
  for (int i = 0; i < 2; ++i) {
    auto fn = [&granted, i](Outcome o) {
      EXPECT_EQ(o, Outcome::kGranted);
      granted.push_back(i);
    };
    EXPECT_EQ(l.Acquire(clock.Now(), fn, &ticket), Outcome::kQueued);
  }
  EXPECT_EQ(l.Acquire(clock.Now(), nullptr, &ticket), Outcome::kRefused);
  EXPECT_EQ(l.queue_depth(), 2u);
  l.Release();
  EXPECT_EQ(granted, std::vector<int>({0}));
  EXPECT_EQ(l.in_flight(), 2);  // the slot passed to the waiter
  l.Release();
  l.Release();
  EXPECT_EQ(granted, std::vector<int>({0, 1}));
  EXPECT_EQ(l.in_flight(), 1);
}

TEST(ConcurrencyLimiterTest, CancelledWaiterIsNeverCalled) {
  base::FakeClock clock;
  ConcurrencyLimiter l({.max_in_flight = 1, .max_queue = 4});
  uint64_t ticket = 0;
  ASSERT_EQ(l.Acquire(clock.Now(), nullptr, &ticket), Outcome::kGranted);
  bool called = false;
  ASSERT_EQ(l.Acquire(
                clock.Now(), [&](Outcome) { called = true; }, &ticket),
            Outcome::kQueued);
  EXPECT_TRUE(l.Cancel(ticket));
  EXPECT_FALSE(l.Cancel(ticket));
  l.Release();
  EXPECT_FALSE(called);
  EXPECT_EQ(l.in_flight(), 0);
}

TEST(ConcurrencyLimiterTest, WaitersTimeOut) {
  base::FakeClock clock;
  ConcurrencyLimiter l({.max_in_flight = 1, .max_queue = 4, .queue_timeout = milliseconds(100)});
  uint64_t ticket = 0;
  ASSERT_EQ(l.Acquire(clock.Now(), nullptr, &ticket), Outcome::kGranted);
  std::vector<Outcome> outcomes;
  auto record = [&](Outcome o) { outcomes.push_back(o); };
  ASSERT_EQ(l.Acquire(clock.Now(), record, &ticket), Outcome::kQueued);
  clock.Advance(milliseconds(50));
  ASSERT_EQ(l.Acquire(clock.Now(), record, &ticket), Outcome::kQueued);
  clock.Advance(milliseconds(60));
  l.ExpireWaiters(clock.Now());
  EXPECT_EQ(outcomes, std::vector<Outcome>({Outcome::kTimedOut}));
  l.Release();
  EXPECT_EQ(outcomes, std::vector<Outcome>({Outcome::kTimedOut, Outcome::kGranted}));
  EXPECT_EQ(l.queue_depth(), 0u);
}

}  // namespace
}  // namespace surge::router
