#include <string>

#include "absl/container/flat_hash_set.h"
#include "base/check.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/logging.h"
#include "base/status.h"
#include "gtest/gtest.h"

namespace surge::base {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  SURGE_ASSIGN_OR_RETURN(int h, Half(x));
  SURGE_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusTest, AssignOrReturnPropagatesErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IdsTest, StrongIdsCompareAndHash) {
  RequestId a(1), b(2);
  EXPECT_LT(a, b);
  absl::flat_hash_set<RequestId> set = {a, b, RequestId(1)};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(RequestId().value(), -1);
}

TEST(ClockTest, FakeClockAdvances) {
  FakeClock clock;
  TimePoint t0 = clock.Now();
  clock.Advance(std::chrono::milliseconds(5));
  EXPECT_DOUBLE_EQ(ToMillis(clock.Now() - t0), 5.0);
}

TEST(LoggingTest, JsonEscape) { EXPECT_EQ(JsonEscape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\n\\u0001"); }

TEST(CheckDeathTest, CheckAborts) { EXPECT_DEATH(SURGE_CHECK(1 == 2), "SURGE_CHECK failed"); }

}  // namespace
}  // namespace surge::base
