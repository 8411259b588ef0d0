// WaitingQueue holds the sequences that have no KV blocks: new requests and
// preempted sequences, and decides which of them is admitted next.
//
// Order: priority first (lower first). Within a priority, tenants share by
// weighted fair queuing on tokens served: each tenant has a virtual time,
// the tokens computed for it (Charge(), prefill and decode, running or not)
// divided by its weight, and the tenant with the smallest virtual time goes
// next (start-time fair queuing). Within a tenant, a rank: PushBack() queues
// behind the tenant's other sequences of that priority (FCFS), PushFront()
// ahead of them (a preempted sequence resumes first). Ties between tenants
// go to the smaller rank, so with one tenant the order is plain FCFS.
//
// A tenant that was idle does not bank credit: its virtual time is raised to
// the queue's virtual time (the smallest virtual time among the tenants last
// chosen), so a newcomer competes from "now", not from zero, and a tenant
// sending ten times the load of another gets no more than its weight's share
// of admissions while both wait.
//
// Ownership: borrows the Sequences (the Scheduler owns them).
// Thread safety: confined to the engine loop.
#pragma once

#include <cstdint>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

  // The sequence to admit next (the queue must not be empty): best priority,
  // then the tenant with the smallest virtual time, then rank. Advances the
  // queue's virtual time to that tenant's. O(tenants waiting at that
  // priority * log n).
  Sequence* Next();

  // Counts `tokens` computed for `tenant` (weight > 0) against its share.
  void Charge(uint64_t tenant, double weight, int64_t tokens);
  // The tenant's virtual time (tokens served / weight, never below the
  // queue's virtual time). For tests and diagnostics.
  double virtual_time(uint64_t tenant) const;
  size_t num_tracked_tenants() const { return vtime_.size(); }

  // Removes and returns the never-started sequences whose queue deadline is
  // at or before `now`, earliest deadline first. O(expired * log n).
  std::vector<Sequence*> TakeExpired(base::TimePoint now);

  // Calls fn(const Sequence&) for every waiting sequence, by priority, then
  // tenant id, then rank (not admission order).
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [key, seq] : queue_) fn(*seq);
  }

 private:
  using Key = std::tuple<int32_t, uint64_t, int64_t>;  // (priority, tenant, rank)
  using DeadlineKey = std::pair<base::TimePoint, Key>;
  static Key KeyOf(const Sequence& seq) { return Key(seq.priority, seq.tenant, seq.wait_rank); }
  void Insert(Sequence* seq, int64_t rank);
  void Prune();
  static bool CanExpire(const Sequence& seq) {
    return !seq.started && seq.queue_deadline.has_value();
  }

  std::map<Key, Sequence*> queue_;
  std::map<DeadlineKey, Sequence*> deadlines_;  // the sequences that CanExpire()
  int64_t next_back_rank_ = 0;
  int64_t next_front_rank_ = -1;
  int64_t num_tokens_ = 0;

  // Fair share. A tenant missing from vtime_ (or below vtime_now_) is at
  // vtime_now_; entries at or below it carry no information and are pruned.
  absl::flat_hash_map<uint64_t, double> vtime_;
  double vtime_now_ = 0;
  size_t prune_at_ = 64;
};

}  // namespace surge::scheduler
