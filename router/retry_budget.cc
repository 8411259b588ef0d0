#include "router/retry_budget.h"

#include <algorithm>

namespace surge::router {

RetryBudget::RetryBudget(const base::Clock& clock, RetryBudgetOptions options)
    : clock_(clock),
      options_(options),
      slice_(std::max<base::Duration>(options.window / kSlices, base::Duration(1))) {}

RetryBudget::Slice& RetryBudget::Current() {
  const int64_t index = clock_.Now().time_since_epoch() / slice_;
  Slice& s = slices_[static_cast<size_t>(index) % kSlices];
  if (s.index != index) s = Slice{index, 0, 0};
  return s;
}

void RetryBudget::RecordRequest() {
  absl::MutexLock lock(&mu_);
  ++Current().requests;
}

bool RetryBudget::TryRetry() {
  absl::MutexLock lock(&mu_);
  Slice& now = Current();
  int64_t requests = 0, retries = 0;
  for (const Slice& s : slices_) {
    if (s.index > now.index - static_cast<int64_t>(kSlices)) {
      requests += s.requests;
      retries += s.retries;
    }
  }
  const double allowed = options_.ratio * static_cast<double>(requests) +
                         options_.min_per_second * base::ToSeconds(options_.window);
  if (static_cast<double>(retries) + 1 > allowed) return false;
  ++now.retries;
  return true;
}

}  // namespace surge::router
