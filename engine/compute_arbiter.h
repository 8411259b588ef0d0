// ComputeArbiter lets several Engines (one per loaded model) share the
// machine's cores fairly: each engine's loop takes a Turn around the compute
// of a step (forward pass and sampling), and turns are granted strictly in
// the order they were asked for (a ticket lock). While every engine is busy
// they therefore alternate step by step, and no engine's compute pool runs
// on top of another's (two 2-thread pools on 2 cores would oversubscribe and
// slow both).
//
// Model: tickets are handed out in order; the holder of the lowest
// outstanding ticket computes, the others sleep. An engine that steps while
// the others are idle gets its turn at once.
// Ownership: shared (std::shared_ptr) by the engines that use it.
// Thread safety: thread-safe. A Turn must be released on the thread that
// took it (it is a scope guard) and must not be held across a blocking wait
// for another engine.
#pragma once

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"

namespace surge::engine {

class ComputeArbiter {
 public:
  class Turn {
   public:
    Turn(Turn&& other) noexcept : arbiter_(other.arbiter_) { other.arbiter_ = nullptr; }
    Turn& operator=(Turn&&) = delete;
    Turn(const Turn&) = delete;
    // A turn of no arbiter: releases nothing (an engine that shares nothing).
    static Turn None() { return Turn(nullptr); }
    ~Turn() {
      if (arbiter_ != nullptr) arbiter_->Release();
    }

   private:
    friend class ComputeArbiter;
    explicit Turn(ComputeArbiter* arbiter) : arbiter_(arbiter) {}
    ComputeArbiter* arbiter_;
  };

  ComputeArbiter() = default;
  ComputeArbiter(const ComputeArbiter&) = delete;
  ComputeArbiter& operator=(const ComputeArbiter&) = delete;

  // Blocks until every earlier caller has had and released its turn.
  [[nodiscard]] Turn Acquire();

  struct Stats {
    int64_t num_turns = 0;
    int64_t num_waited = 0;       // turns that had to wait for another holder
    base::Duration total_wait{};  // summed over all turns
  };
  Stats stats() const;

 private:
  void Release();

  mutable absl::Mutex mu_;
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t serving_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace surge::engine
