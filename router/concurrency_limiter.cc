#include "router/concurrency_limiter.h"

#include <vector>

namespace surge::router {

ConcurrencyLimiter::Outcome ConcurrencyLimiter::Acquire(base::TimePoint now, WaitFn on_ready,
                                                        uint64_t* ticket) {
  absl::MutexLock lock(&mu_);
  if (options_.max_in_flight <= 0 || (in_flight_ < options_.max_in_flight && queue_.empty())) {
    ++in_flight_;
    return Outcome::kGranted;
  }
  if (queue_.size() >= options_.max_queue) return Outcome::kRefused;
  *ticket = next_ticket_++;
  queue_.push_back({*ticket, now + options_.queue_timeout, std::move(on_ready)});
  return Outcome::kQueued;
}

void ConcurrencyLimiter::Release() {
  WaitFn grant;
  {
    absl::MutexLock lock(&mu_);
    if (!queue_.empty()) {
      grant = std::move(queue_.front().on_ready);  // the slot passes straight to it
      queue_.pop_front();
    } else {
      --in_flight_;
    }
  }
  if (grant) grant(Outcome::kGranted);
}

bool ConcurrencyLimiter::Cancel(uint64_t ticket) {
  absl::MutexLock lock(&mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->ticket == ticket) {
      queue_.erase(it);
      return true;
    }
  }
  return false;
}

void ConcurrencyLimiter::ExpireWaiters(base::TimePoint now) {
  std::vector<WaitFn> expired;
  {
    absl::MutexLock lock(&mu_);
    // FIFO with one timeout: the oldest waiters expire first.
    while (!queue_.empty() && queue_.front().deadline <= now) {
      expired.push_back(std::move(queue_.front().on_ready));
      queue_.pop_front();
    }
  }
  for (WaitFn& fn : expired) fn(Outcome::kTimedOut);
}

int64_t ConcurrencyLimiter::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

size_t ConcurrencyLimiter::queue_depth() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

}  // namespace surge::router
