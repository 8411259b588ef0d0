#include "engine/compute_arbiter.h"

namespace surge::engine {

ComputeArbiter::Turn ComputeArbiter::Acquire() {
  absl::MutexLock lock(&mu_);
  const uint64_t ticket = next_ticket_++;
  ++stats_.num_turns;
  if (serving_ != ticket) {
    const base::TimePoint start = base::Clock::System().Now();
    ++stats_.num_waited;
    // Only the waiter whose ticket comes up proceeds; absl::Mutex re-checks
    // the condition of every waiter on each release.
    auto my_turn = [this, ticket]() { return serving_ == ticket; };
    mu_.Await(absl::Condition(&my_turn));
    stats_.total_wait += base::Clock::System().Now() - start;
  }
  return Turn(this);
}

void ComputeArbiter::Release() {
  absl::MutexLock lock(&mu_);
  ++serving_;
}

ComputeArbiter::Stats ComputeArbiter::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace surge::engine
