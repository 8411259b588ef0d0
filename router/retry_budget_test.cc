#include "router/retry_budget.h"

#include "gtest/gtest.h"

namespace surge::router {
namespace {

using std::chrono::seconds;

int RetriesGranted(RetryBudget& budget, int tries) {
  int granted = 0;
  for (int i = 0; i < tries; ++i) granted += budget.TryRetry() ? 1 : 0;
  return granted;
}

TEST(RetryBudgetTest, RetriesAreAFractionOfRequests) {
  base::FakeClock clock;
  RetryBudget budget(clock, {.ratio = 0.2, .min_per_second = 0, .window = seconds(10)});
  EXPECT_FALSE(budget.TryRetry());
  for (int i = 0; i < 100; ++i) budget.RecordRequest();
  EXPECT_EQ(RetriesGranted(budget, 50), 20);
  for (int i = 0; i < 10; ++i) budget.RecordRequest();
  EXPECT_EQ(RetriesGranted(budget, 50), 2);
}

TEST(RetryBudgetTest, FloorLetsAQuietRouterRetry) {
  base::FakeClock clock;
  RetryBudget budget(clock, {.ratio = 0.2, .min_per_second = 1, .window = seconds(10)});
  EXPECT_EQ(RetriesGranted(budget, 50), 10);
}

TEST(RetryBudgetTest, OldTrafficLeavesTheWindow) {
  base::FakeClock clock;
  RetryBudget budget(clock, {.ratio = 0.5, .min_per_second = 0, .window = seconds(10)});
  for (int i = 0; i < 20; ++i) budget.RecordRequest();
  EXPECT_EQ(RetriesGranted(budget, 5), 5);
  clock.Advance(seconds(5));
  EXPECT_EQ(RetriesGranted(budget, 50), 5);  // 10 allowed, 5 spent
  clock.Advance(seconds(6));                 // the requests have left the window
  EXPECT_EQ(RetriesGranted(budget, 50), 0);
  for (int i = 0; i < 4; ++i) budget.RecordRequest();
  EXPECT_EQ(RetriesGranted(budget, 50), 0);  // the 5 retries at t=5 still count
  clock.Advance(seconds(5));
  EXPECT_EQ(RetriesGranted(budget, 50), 2);
}

}  // namespace
}  // namespace surge::router
