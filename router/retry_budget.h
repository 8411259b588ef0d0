// RetryBudget: caps retries at a fraction of recent traffic, so that a
// failing cluster is not buried under a retry storm.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"

namespace surge::router {

struct RetryBudgetOptions {
  double ratio = 0.2;         // retries per first attempt, over the window
  double min_per_second = 5;  // a floor, so a quiet router can still retry
  base::Duration window = std::chrono::seconds(10);
};

// Model: over a sliding window (ten slices), retries may number at most
// ratio * first_attempts + min_per_second * window_seconds. Every first
// attempt is recorded; every retry must be granted by TryRetry() first.
// Time comes from the injected clock.
//
// Thread safety: thread-safe. The clock must outlive the budget.
class RetryBudget {
 public:
  RetryBudget(const base::Clock& clock, RetryBudgetOptions options);

  void RecordRequest();
  // Spends one retry if the budget allows; false means "do not retry".
  bool TryRetry();

 private:
  static constexpr size_t kSlices = 10;
  struct Slice {
    int64_t index = -1;  // which slice of time it counts
    int64_t requests = 0;
    int64_t retries = 0;
  };

  Slice& Current() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const base::Clock& clock_;
  const RetryBudgetOptions options_;
  const base::Duration slice_;
  absl::Mutex mu_;
  std::array<Slice, kSlices> slices_ ABSL_GUARDED_BY(mu_){};
};

}  // namespace surge::router
