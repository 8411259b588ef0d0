#include "scheduler/waiting_queue.h"

#include "base/check.h"

namespace surge::scheduler {

void WaitingQueue::PushBack(Sequence* seq) { Insert(seq, next_back_rank_++); }

void WaitingQueue::PushFront(Sequence* seq) { Insert(seq, next_front_rank_--); }

void WaitingQueue::Insert(Sequence* seq, int64_t rank) {
  SURGE_CHECK(!seq->running);
  seq->wait_rank = rank;
  const Key key(seq->priority, rank);
  const bool inserted = queue_.emplace(key, seq).second;
  SURGE_CHECK(inserted);
  if (CanExpire(*seq)) deadlines_.emplace(DeadlineKey(*seq->queue_deadline, key), seq);
  num_tokens_ += seq->num_tokens();
}

void WaitingQueue::Remove(Sequence* seq) {
  const Key key(seq->priority, seq->wait_rank);
  auto it = queue_.find(key);
  SURGE_CHECK_MSG(it != queue_.end() && it->second == seq, "not waiting");
  queue_.erase(it);
  if (CanExpire(*seq)) deadlines_.erase(DeadlineKey(*seq->queue_deadline, key));
  num_tokens_ -= seq->num_tokens();
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
