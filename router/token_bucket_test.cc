#include "router/token_bucket.h"

#include "gtest/gtest.h"

namespace surge::router {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(TokenBucketTest, RefillsAtItsRateUpToTheBurst) {
  base::FakeClock clock;
  TokenBucket b(/*rate=*/2, /*burst=*/2, clock.Now());
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(b.WaitFor(1, clock.Now()), base::Duration::zero());
    b.Take(1);
  }
  EXPECT_EQ(b.WaitFor(1, clock.Now()), milliseconds(500));
  clock.Advance(milliseconds(500));
  EXPECT_EQ(b.WaitFor(1, clock.Now()), base::Duration::zero());
  clock.Advance(seconds(100));
  EXPECT_TRUE(b.full(clock.Now()));
  b.Take(2);
  EXPECT_GT(b.WaitFor(1, clock.Now()), base::Duration::zero());  // capped at the burst
}

TEST(TokenBucketTest, OversizedCostPassesWhenFullAndLeavesDebt) {
  base::FakeClock clock;
  TokenBucket b(/*rate=*/10, /*burst=*/10, clock.Now());
  ASSERT_EQ(b.WaitFor(100, clock.Now()), base::Duration::zero());
  b.Take(100);
  // 90 of debt plus 1 token: 9.1 s at 10/s.
  EXPECT_EQ(b.WaitFor(1, clock.Now()), milliseconds(9100));
}

TEST(KeyRateLimiterTest, DisabledLetsEverythingThrough) {
  base::FakeClock clock;
  KeyRateLimiter l({});
  EXPECT_FALSE(l.enabled());
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(l.Admit("k", 1 << 20, clock.Now()).allowed);
  EXPECT_EQ(l.num_keys(), 0u);
}

TEST(KeyRateLimiterTest, RequestLimitPerKey) {
  base::FakeClock clock;
  KeyRateLimiter l({.requests_per_second = 1, .request_burst = 2});
  EXPECT_TRUE(l.Admit("a", 10, clock.Now()).allowed);
  EXPECT_TRUE(l.Admit("a", 10, clock.Now()).allowed);
  KeyRateLimiter::Verdict v = l.Admit("a", 10, clock.Now());
  EXPECT_FALSE(v.allowed);
  EXPECT_STREQ(v.limit, "requests");
  EXPECT_EQ(v.retry_after, seconds(1));
  EXPECT_TRUE(l.Admit("b", 10, clock.Now()).allowed);  // another tenant is unaffected
  clock.Advance(seconds(1));
  EXPECT_TRUE(l.Admit("a", 10, clock.Now()).allowed);
}

TEST(KeyRateLimiterTest, TokenLimitRefusesWithoutChargingTheRequest) {
  base::FakeClock clock;
  KeyRateLimiter l({.requests_per_second = 100, .tokens_per_second = 100, .token_burst = 100});
  EXPECT_TRUE(l.Admit("a", 80, clock.Now()).allowed);
  KeyRateLimiter::Verdict v = l.Admit("a", 50, clock.Now());
  EXPECT_FALSE(v.allowed);
  EXPECT_STREQ(v.limit, "tokens");
  EXPECT_EQ(v.retry_after, milliseconds(300));
  EXPECT_TRUE(l.Admit("a", 20, clock.Now()).allowed);
}

TEST(KeyRateLimiterTest, KeyCountStaysBounded) {
  base::FakeClock clock;
  KeyRateLimiter l({.requests_per_second = 1, .max_keys = 50});
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(l.Admit("key" + std::to_string(i), 1, clock.Now()).allowed);
    clock.Advance(milliseconds(1));
  }
  EXPECT_LE(l.num_keys(), 50u);
}

}  // namespace
}  // namespace surge::router
