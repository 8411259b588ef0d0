// WaitingQueue holds the sequences that have no KV blocks: new requests and
// preempted sequences. Order: priority (lower first), then a rank within the
// priority: PushBack() queues behind everyone of the same priority (FCFS),
// PushFront() ahead of them (a preempted sequence resumes first).
//
// Ownership: borrows the Sequences (the Scheduler owns them).
// Thread safety: confined to the engine loop.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "scheduler/sequence.h"

namespace surge::scheduler {

class WaitingQueue {
 public:
  void PushBack(Sequence* seq);
  void PushFront(Sequence* seq);
  void Remove(Sequence* seq);

  bool empty() const { return queue_.empty(); }
  int32_t size() const { return static_cast<int32_t>(queue_.size()); }
  // Tokens the waiting sequences must compute (before prefix-cache hits).
  int64_t num_tokens() const { return num_tokens_; }
  Sequence* front() const { return queue_.begin()->second; }

  // Removes and returns the never-started sequences whose queue deadline is
  // at or before `now`, earliest deadline first. O(expired * log n).
  std::vector<Sequence*> TakeExpired(base::TimePoint now);

  // Calls fn(const Sequence&) in queue order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [key, seq] : queue_) fn(*seq);
  }

 private:
  using Key = std::pair<int32_t, int64_t>;  // (priority, rank)
  using DeadlineKey = std::pair<base::TimePoint, Key>;
  void Insert(Sequence* seq, int64_t rank);
  static bool CanExpire(const Sequence& seq) {
    return !seq.started && seq.queue_deadline.has_value();
  }

  std::map<Key, Sequence*> queue_;
  std::map<DeadlineKey, Sequence*> deadlines_;  // the sequences that CanExpire()
  int64_t next_back_rank_ = 0;
  int64_t next_front_rank_ = -1;
  int64_t num_tokens_ = 0;
};

}  // namespace surge::scheduler
