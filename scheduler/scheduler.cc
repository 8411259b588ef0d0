// Scheduler: admission, Update(), cancellation and bookkeeping. The step
// planning policies of Schedule() live in schedule_step.cc.
#include "scheduler/scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace surge::scheduler {

absl::Status ValidateSchedulerConfig(const SchedulerConfig& config) {
  if (config.max_batch_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batch_tokens must be >= 1, got ", config.max_batch_tokens));
  }
  if (config.max_running_seqs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_running_seqs must be >= 1, got ", config.max_running_seqs));
  }
  if (config.max_queued_requests < 0 || config.max_queued_tokens < 0) {
    return absl::InvalidArgumentError("max_queued_requests and max_queued_tokens must be >= 0");
  }
  if (config.max_model_len < 0) {
    return absl::InvalidArgumentError("max_model_len must be >= 0 (0: no limit)");
  }
  return absl::OkStatus();
}

Scheduler::Scheduler(const SchedulerConfig& config, engine::kv::KvCacheManager& kv,
                     const base::Clock& clock)
    : config_(config), kv_(kv), clock_(clock) {
  SURGE_CHECK_MSG(ValidateSchedulerConfig(config).ok(), "validate the SchedulerConfig first");
}

Scheduler::~Scheduler() {
  for (Sequence* seq : running_) kv_.Free(seq->id);
}

AdmitResult Scheduler::Add(Request request) {
  const int64_t prompt_len = static_cast<int64_t>(request.prompt.size());
  const int64_t total = prompt_len + request.max_tokens;
  AdmitResult result = AdmitResult::kAdmitted;
  if (prompt_len == 0 || request.n < 1 || request.max_tokens < 1 || !(request.weight > 0) ||
      requests_.contains(request.id)) {
    result = AdmitResult::kInvalid;
  } else if ((config_.max_model_len > 0 && total > config_.max_model_len) ||
             kv_.NumBlocksFor(total) > kv_.num_blocks()) {
    result = AdmitResult::kTooLong;
  } else if (waiting_.size() >= config_.max_queued_requests) {
    result = AdmitResult::kQueueFull;
  } else if (waiting_.num_tokens() + prompt_len > config_.max_queued_tokens) {
    result = AdmitResult::kQueueTokensFull;
  }
  if (result != AdmitResult::kAdmitted) {
    ++totals_.num_rejected[static_cast<size_t>(result)];
    return result;
  }
  Sequence* seq = NewSequence(request.id, 0);
  seq->tokens = std::move(request.prompt);
  seq->tokens.reserve(static_cast<size_t>(total));
  seq->prompt_len = static_cast<int32_t>(prompt_len);
  seq->max_tokens = request.max_tokens;
  seq->priority = request.priority;
  seq->arrival = request.arrival;
  seq->add_order = next_add_order_++;
  seq->queue_deadline = request.queue_deadline;
  seq->salt = request.salt;
  seq->tenant = request.tenant;
  seq->weight = request.weight;
  seq->num_unforked = request.n - 1;
  waiting_.PushBack(seq);
  ++totals_.num_admitted;
  return result;
}

void Scheduler::Update(const StepPlan& plan, const StepResult& result) {
  SURGE_CHECK_MSG(plan.sequences.empty() || plan.step == awaiting_update_,
                  "Update() takes the latest plan, once");
  if (!plan.sequences.empty()) {
    totals_.last_step_time = clock_.Now() - step_start_;
    totals_.total_step_time += totals_.last_step_time;
  }
  awaiting_update_ = -1;
  size_t next = 0;
  for (const ScheduledSequence& entry : plan.sequences) {
    const SampledToken* sampled = nullptr;
    if (entry.needs_logits && next < result.sampled.size() &&
        result.sampled[next].seq == entry.seq) {
      sampled = &result.sampled[next++];
    }
    Sequence* seq = Find(entry.seq);
    if (seq == nullptr) continue;  // cancelled after the step ran
    SURGE_CHECK_MSG(!entry.needs_logits || sampled != nullptr,
                    "StepResult must hold one token per needs_logits entry, in plan order");
    SURGE_CHECK(seq->num_computed == entry.start_position);
    Advance(seq, static_cast<int64_t>(entry.tokens.size()), sampled);
  }
  SURGE_CHECK_MSG(next == result.sampled.size(), "StepResult has tokens the plan did not ask for");
}

void Scheduler::Advance(Sequence* seq, int64_t num_computed, const SampledToken* sampled) {
  seq->num_computed += num_computed;
  kv_.CommitFullBlocks(seq->id, std::span<const int32_t>(seq->tokens).first(seq->num_computed));
  if (sampled == nullptr) return;
  SURGE_CHECK(seq->num_computed == seq->num_tokens());
  seq->tokens.push_back(sampled->token);
  if (seq->num_unforked > 0) ForkSiblings(seq);
  if (sampled->finished) {
    ++totals_.num_finished_sequences;
    Remove(seq);
    return;
  }
  SURGE_CHECK_MSG(seq->num_generated() < seq->max_tokens,
                  "the Engine must finish a sequence at max_tokens");
}

// The siblings of an n > 1 request start from the first sequence's prompt KV:
// they share its full blocks and get a copy of the partial one, then compute
// the last prompt token themselves to get their own first token. Without a
// block (or a running slot) to spare, a sibling waits and recomputes the
// prompt, mostly from the prefix cache.
void Scheduler::ForkSiblings(Sequence* first) {
  const int64_t shared = first->prompt_len - 1;
  for (int32_t i = 1; i <= first->num_unforked; ++i) {
    Sequence* seq = NewSequence(first->request, i);
    seq->tokens.reserve(static_cast<size_t>(first->prompt_len + first->max_tokens));
    seq->tokens.assign(first->tokens.begin(), first->tokens.begin() + first->prompt_len);
    seq->prompt_len = first->prompt_len;
    seq->max_tokens = first->max_tokens;
    seq->priority = first->priority;
    seq->arrival = first->arrival;
    seq->add_order = first->add_order;
    seq->salt = first->salt;
    seq->tenant = first->tenant;
    seq->weight = first->weight;
    seq->started = true;
    std::optional<engine::kv::BlockCopy> copy;
    if (num_running() < config_.max_running_seqs) copy = kv_.Fork(first->id, seq->id, shared);
    if (!copy.has_value()) {
      waiting_.PushFront(seq);
      continue;
    }
    seq->num_computed = shared;
    InsertRunning(seq);
    if (copy->num_slots > 0) pending_copies_.emplace_back(seq->id, *copy);
  }
  first->num_unforked = 0;
}

int32_t Scheduler::Cancel(base::RequestId request) {
  auto it = requests_.find(request);
  if (it == requests_.end()) return 0;
  const std::vector<Sequence*> seqs = it->second;  // Remove() edits the original
  for (Sequence* seq : seqs) Remove(seq);
  ++totals_.num_cancelled;
  totals_.num_cancelled_sequences += static_cast<int64_t>(seqs.size());
  return static_cast<int32_t>(seqs.size());
}

SchedulerStats Scheduler::Snapshot() const {
  SchedulerStats s = totals_;
  const engine::kv::KvCacheStats kv = kv_.stats();
  s.num_running = num_running();
  s.num_waiting = num_waiting();
  s.num_waiting_tokens = waiting_.num_tokens();
  s.kv_usage = kv.usage;
  s.num_cached_blocks = kv.num_cached_blocks;
  s.prefix_query_tokens = kv.prefix_query_tokens;
  s.prefix_hit_tokens = kv.prefix_hit_tokens;
  s.num_evictions = kv.num_evictions;
  s.mean_tokens_per_step =
      s.num_steps == 0 ? 0.0 : static_cast<double>(s.num_tokens) / static_cast<double>(s.num_steps);
  return s;
}

Sequence* Scheduler::NewSequence(base::RequestId request, int32_t sample_index) {
  auto seq = std::make_unique<Sequence>();
  seq->id = base::SequenceId(next_sequence_id_++);
  seq->request = request;
  seq->sample_index = sample_index;
  Sequence* raw = seq.get();
  seqs_.emplace(raw->id, std::move(seq));
  requests_[request].push_back(raw);
  return raw;
}

Sequence* Scheduler::Find(base::SequenceId id) const {
  auto it = seqs_.find(id);
  return it == seqs_.end() ? nullptr : it->second.get();
}

void Scheduler::InsertRunning(Sequence* seq) {
  SURGE_CHECK(!seq->running && kv_.Contains(seq->id));
  seq->running = true;
  running_.insert(std::upper_bound(running_.begin(), running_.end(), seq, RunsBefore), seq);
}

void Scheduler::EraseRunning(Sequence* seq) {
  auto it = std::find(running_.begin(), running_.end(), seq);
  SURGE_CHECK(it != running_.end());
  running_.erase(it);
  seq->running = false;
}

void Scheduler::Remove(Sequence* seq) {
  if (seq->running) {
    kv_.Free(seq->id);
    EraseRunning(seq);
  } else {
    waiting_.Remove(seq);
  }
  Forget(seq);
}

void Scheduler::Forget(Sequence* seq) {
  auto req = requests_.find(seq->request);
  std::vector<Sequence*>& live = req->second;
  live.erase(std::find(live.begin(), live.end(), seq));
  if (live.empty()) requests_.erase(req);
  seqs_.erase(seq->id);  // destroys seq
}

}  // namespace surge::scheduler
