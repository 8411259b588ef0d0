// Scheduler::Schedule() and its policies: one token budget per step, spent on
// running decodes first, then prefill chunks, then newly admitted sequences.
#include <algorithm>
#include <optional>
#include <vector>

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
  SchedulePrefills(plan);
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

void Scheduler::SchedulePrefills(StepPlan& plan) {
  const std::vector<Sequence*> order = RunningPrefillOrder();
  size_t next = 0;
  bool admitting = true;
  // Once a step holds prompt tokens, it takes more only from the first
  // tenant served and from tenants no further ahead of their fair share than
  // it was: a light tenant's prompt runs in a short step, not in one filled
  // with a heavy tenant's prompts, while tenants at par share steps.
  std::optional<uint64_t> first_tenant;
  double first_time = 0;
  auto eligible = [&](const Sequence* seq) {
    return !first_tenant || seq->tenant == *first_tenant ||
           waiting_.virtual_time(seq->tenant) <= first_time;
  };
  while (budget_ > 0) {
    while (next < order.size() &&
           (!order[next]->running || order[next]->scheduled_tokens > 0 || !eligible(order[next]))) {
      ++next;  // preempted, already given tokens this step, or too far ahead
    }
    Sequence* run = next < order.size() ? order[next] : nullptr;
    Sequence* wait = nullptr;
    if (admitting && plan.preempted.empty() && num_running() < config_.max_running_seqs &&
        !waiting_.empty()) {
      wait = waiting_.Next();
      if (!eligible(wait)) wait = nullptr;
    }
    if (run == nullptr && wait == nullptr) return;
    const bool wait_first =
        wait != nullptr && (run == nullptr || (wait->priority == run->priority &&
                                               waiting_.virtual_time(wait->tenant) <
                                                   waiting_.virtual_time(run->tenant)));
    Sequence* chosen = wait_first ? wait : run;
    const double chosen_time = waiting_.virtual_time(chosen->tenant);  // before its charge
    if (wait_first) {
      admitting = Admit(wait, plan);
    } else if (!PrefillChunk(run, plan)) {
      next = order.size();  // no KV room left for more chunks
    }
    if (!first_tenant && chosen->scheduled_tokens > 0) {
      first_tenant = chosen->tenant;
      first_time = chosen_time;
    }
  }
}

// Running sequences with prompt left, by priority, then their tenant's
// virtual time, then running order.
std::vector<Sequence*> Scheduler::RunningPrefillOrder() const {
  std::vector<Sequence*> order;
  for (Sequence* seq : running_) {
    if (seq->scheduled_tokens == 0 && seq->num_remaining() > 1) order.push_back(seq);
  }
  std::stable_sort(order.begin(), order.end(), [this](const Sequence* a, const Sequence* b) {
    if (a->priority != b->priority) return a->priority < b->priority;
    return waiting_.virtual_time(a->tenant) < waiting_.virtual_time(b->tenant);
  });
  return order;
}

bool Scheduler::PrefillChunk(Sequence* seq, StepPlan& plan) {
  // Take as much of the chunk as free blocks allow; preempt only if not even
  // one more token fits.
  if (kv_.TokenCapacity(seq->id) <= seq->num_computed && !Reserve(seq, 1, plan)) return false;
  const int64_t n =
      std::min({seq->num_remaining(), budget_, kv_.TokenCapacity(seq->id) - seq->num_computed});
  SURGE_CHECK(kv_.Extend(seq->id, seq->num_computed + n));
  Take(seq, n);
  return true;
}

bool Scheduler::Admit(Sequence* seq, StepPlan& plan) {
  const engine::kv::ComputedPrefix prefix = kv_.FindCachedPrefix(seq->tokens, seq->salt);
  const int64_t n = std::min(seq->num_tokens() - prefix.num_tokens, budget_);
  if (!kv_.Allocate(seq->id, prefix.num_tokens + n, prefix)) return false;
  waiting_.Remove(seq);
  seq->num_computed = prefix.num_tokens;
  seq->started = true;
  InsertRunning(seq);
  plan.num_prefix_hit_tokens += prefix.num_tokens;
  Take(seq, n);
  return true;
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
  waiting_.Charge(seq->tenant, seq->weight, n);
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
