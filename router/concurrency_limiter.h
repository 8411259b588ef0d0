// ConcurrencyLimiter: a global cap on requests in flight through the router,
// with a bounded FIFO queue and a queue timeout.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"

namespace surge::router {

struct ConcurrencyOptions {
  int64_t max_in_flight = 0;  // 0: no cap (and no queue)
  size_t max_queue = 256;     // waiting requests at most; beyond: refused
  base::Duration queue_timeout = std::chrono::seconds(10);
};

// Model: Acquire() grants a slot at once, queues the request (its callback
// runs later with kGranted when Release() frees a slot for it, or kTimedOut
// from ExpireWaiters()), or refuses it (queue full). Each granted slot is
// given back by exactly one Release(). Cancel() withdraws a waiter whose
// client left; its callback then never runs.
// Callbacks run outside the lock, on the thread that calls Release(),
// ExpireWaiters() (the router's timer) — they must be short and post work.
//
// Thread safety: thread-safe.
class ConcurrencyLimiter {
 public:
  enum class Outcome { kGranted, kQueued, kRefused, kTimedOut };
  using WaitFn = std::function<void(Outcome)>;  // kGranted or kTimedOut

  explicit ConcurrencyLimiter(ConcurrencyOptions options) : options_(options) {}

  // kGranted, kQueued (then `ticket` names the waiter) or kRefused.
  Outcome Acquire(base::TimePoint now, WaitFn on_ready, uint64_t* ticket);
  void Release();
  // False if the waiter was already granted or timed out.
  bool Cancel(uint64_t ticket);
  void ExpireWaiters(base::TimePoint now);

  int64_t in_flight() const;
  size_t queue_depth() const;

 private:
  struct Waiter {
    uint64_t ticket;
    base::TimePoint deadline;
    WaitFn on_ready;
  };

  const ConcurrencyOptions options_;
  mutable absl::Mutex mu_;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Waiter> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace surge::router
