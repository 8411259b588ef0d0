#include "scheduler/waiting_queue.h"

#include <algorithm>
#include <limits>

#include "base/check.h"

namespace surge::scheduler {

void WaitingQueue::PushBack(Sequence* seq) { Insert(seq, next_back_rank_++); }

void WaitingQueue::PushFront(Sequence* seq) { Insert(seq, next_front_rank_--); }

void WaitingQueue::Insert(Sequence* seq, int64_t rank) {
  SURGE_CHECK(!seq->running);
  seq->wait_rank = rank;
  const Key key = KeyOf(*seq);
  const bool inserted = queue_.emplace(key, seq).second;
  SURGE_CHECK(inserted);
  if (CanExpire(*seq)) deadlines_.emplace(DeadlineKey(*seq->queue_deadline, key), seq);
  num_tokens_ += seq->num_tokens();
}

void WaitingQueue::Remove(Sequence* seq) {
  const Key key = KeyOf(*seq);
  auto it = queue_.find(key);
  SURGE_CHECK_MSG(it != queue_.end() && it->second == seq, "not waiting");
  queue_.erase(it);
  if (CanExpire(*seq)) deadlines_.erase(DeadlineKey(*seq->queue_deadline, key));
  num_tokens_ -= seq->num_tokens();
}

Sequence* WaitingQueue::Next() {
  SURGE_CHECK(!queue_.empty());
  const int32_t priority = std::get<0>(queue_.begin()->first);
  Sequence* best = nullptr;
  double best_time = 0;
  // One hop per tenant: the first entry of a tenant's range is its head.
  for (auto it = queue_.begin(); it != queue_.end() && std::get<0>(it->first) == priority;) {
    Sequence* head = it->second;
    const double t = virtual_time(head->tenant);
    if (best == nullptr || t < best_time || (t == best_time && head->wait_rank < best->wait_rank)) {
      best = head;
      best_time = t;
    }
    it = queue_.upper_bound(Key(priority, head->tenant, std::numeric_limits<int64_t>::max()));
  }
  vtime_now_ = std::max(vtime_now_, best_time);
  return best;
}

void WaitingQueue::Charge(uint64_t tenant, double weight, int64_t tokens) {
  SURGE_DCHECK(weight > 0);
  double& t = vtime_[tenant];
  t = std::max(t, vtime_now_) + static_cast<double>(tokens) / weight;
  if (vtime_.size() >= prune_at_) Prune();
}

double WaitingQueue::virtual_time(uint64_t tenant) const {
  auto it = vtime_.find(tenant);
  return it == vtime_.end() ? vtime_now_ : std::max(it->second, vtime_now_);
}

// Keeps the map as small as the set of tenants ahead of the queue's clock.
void WaitingQueue::Prune() {
  absl::erase_if(vtime_, [this](const auto& entry) { return entry.second <= vtime_now_; });
  prune_at_ = std::max<size_t>(64, 2 * vtime_.size());
}

std::vector<Sequence*> WaitingQueue::TakeExpired(base::TimePoint now) {
  std::vector<Sequence*> expired;
  while (!deadlines_.empty() && deadlines_.begin()->first.first <= now) {
    Sequence* seq = deadlines_.begin()->second;
    Remove(seq);
    expired.push_back(seq);
  }
  return expired;
}

}  // namespace surge::scheduler
