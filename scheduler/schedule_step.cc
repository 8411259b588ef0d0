// Scheduler::Schedule() and its policies: one token budget per step, spent on
// running decodes first, then prefill chunks, then newly admitted sequences.
#include <algorithm>

#include "base/check.h"
#include "scheduler/scheduler.h"

namespace surge::scheduler {

StepPlan Scheduler::Schedule() {
  SURGE_CHECK_MSG(awaiting_update_ < 0, "Schedule() before Update() of the previous plan");
  StepPlan plan;
  plan.step = next_step_++;
  budget_ = config_.max_batch_tokens;
  step_start_ = clock_.Now();
  ExpireWaiting(plan);
  ScheduleDecodes(plan);
  ScheduleRunningPrefills(plan);
  if (plan.preempted.empty()) AdmitWaiting(plan);
  BuildPlan(plan);
  return plan;
}

void Scheduler::ExpireWaiting(StepPlan& plan) {
  for (Sequence* seq : waiting_.TakeExpired(step_start_)) {
    plan.expired.push_back(seq->request);
    ++totals_.num_expired;
    Forget(seq);
  }
}

void Scheduler::ScheduleDecodes(StepPlan& plan) {
  // Preemption only removes running_.back(), which is at or after index i.
  for (size_t i = 0; i < running_.size() && budget_ > 0; ++i) {
    Sequence* seq = running_[i];
    if (seq->num_remaining() != 1) continue;
    if (!Reserve(seq, 1, plan)) break;  // seq was the last one and preempted itself
    Take(seq, 1);
  }
}

void Scheduler::ScheduleRunningPrefills(StepPlan& plan) {
  for (size_t i = 0; i < running_.size() && budget_ > 0; ++i) {
    Sequence* seq = running_[i];
    if (seq->scheduled_tokens > 0 || seq->num_remaining() <= 1) continue;
    // Take as much of the chunk as free blocks allow; preempt only if not even
    // one more token fits.
    if (kv_.TokenCapacity(seq->id) <= seq->num_computed && !Reserve(seq, 1, plan)) break;
    const int64_t n =
        std::min({seq->num_remaining(), budget_, kv_.TokenCapacity(seq->id) - seq->num_computed});
    SURGE_CHECK(kv_.Extend(seq->id, seq->num_computed + n));
    Take(seq, n);
  }
}

void Scheduler::AdmitWaiting(StepPlan& plan) {
  while (budget_ > 0 && num_running() < config_.max_running_seqs && !waiting_.empty()) {
    Sequence* seq = waiting_.front();
    const engine::kv::ComputedPrefix prefix = kv_.FindCachedPrefix(seq->tokens, seq->salt);
    const int64_t n = std::min(seq->num_tokens() - prefix.num_tokens, budget_);
    if (!kv_.Allocate(seq->id, prefix.num_tokens + n, prefix)) return;
    waiting_.Remove(seq);
    seq->num_computed = prefix.num_tokens;
    seq->started = true;
    InsertRunning(seq);
    plan.num_prefix_hit_tokens += prefix.num_tokens;
    Take(seq, n);
  }
}

bool Scheduler::Reserve(Sequence* seq, int64_t n, StepPlan& plan) {
  while (!kv_.Extend(seq->id, seq->num_computed + n)) {
    Sequence* victim = running_.back();
    Preempt(victim, plan);
    if (victim == seq) return false;
  }
  return true;
}

void Scheduler::Preempt(Sequence* seq, StepPlan& plan) {
  kv_.Free(seq->id);
  if (seq->scheduled_tokens > 0) {
    budget_ += seq->scheduled_tokens;
    seq->scheduled_tokens = 0;
    scheduled_.erase(std::find(scheduled_.begin(), scheduled_.end(), seq));
  }
  EraseRunning(seq);
  seq->num_computed = 0;
  waiting_.PushFront(seq);
  plan.preempted.push_back(seq->id);
  ++totals_.num_preemptions;
}

void Scheduler::Take(Sequence* seq, int64_t n) {
  SURGE_CHECK(n >= 1 && n <= budget_ && seq->scheduled_tokens == 0);
  seq->scheduled_tokens = n;
  scheduled_.push_back(seq);
  budget_ -= n;
}

void Scheduler::BuildPlan(StepPlan& plan) {
  for (const auto& [id, copy] : pending_copies_) {
    const Sequence* seq = Find(id);
    if (seq != nullptr && seq->running) plan.block_copies.push_back(copy);
  }
  pending_copies_.clear();
  plan.sequences.reserve(scheduled_.size());
  for (Sequence* seq : scheduled_) {
    plan.sequences.push_back(PlanEntry(*seq));
    const int64_t n = seq->scheduled_tokens;
    const bool decode = n == 1 && seq->num_computed >= seq->prompt_len;
    (decode ? plan.num_decode_tokens : plan.num_prefill_tokens) += n;
    plan.num_tokens += n;
    seq->scheduled_tokens = 0;
  }
  scheduled_.clear();
  if (!plan.sequences.empty()) {
    awaiting_update_ = plan.step;
    ++totals_.num_steps;
  }
  totals_.num_tokens += plan.num_tokens;
  totals_.num_decode_tokens += plan.num_decode_tokens;
  totals_.num_prefill_tokens += plan.num_prefill_tokens;
  totals_.last_step_tokens = plan.num_tokens;
  SURGE_CHECK(plan.num_tokens <= config_.max_batch_tokens);
}

ScheduledSequence Scheduler::PlanEntry(const Sequence& seq) const {
  ScheduledSequence e;
  e.seq = seq.id;
  e.request = seq.request;
  e.sample_index = seq.sample_index;
  e.tokens = std::span<const int32_t>(seq.tokens)
                 .subspan(static_cast<size_t>(seq.num_computed),
                          static_cast<size_t>(seq.scheduled_tokens));
  e.start_position = seq.num_computed;
  e.block_table = kv_.BlockTable(seq.id);
  e.needs_logits = seq.num_computed + seq.scheduled_tokens == seq.num_tokens();
  return e;
}

}  // namespace surge::scheduler
