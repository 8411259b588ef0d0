// Scheduler decides, step by step, which tokens of which sequences the model
// computes: continuous batching over a paged KV cache with prefix caching,
// priorities, preemption and admission control. It is pure bookkeeping: no
// model, no threads, no I/O; time comes from a base::Clock.
//
// Model: a request's sequences are waiting (no KV blocks) or running (blocks
// held in the KvCacheManager). Each Schedule() spends one token budget
// (max_batch_tokens), policy by policy:
//   1. ExpireWaiting: never-started requests past their queue deadline leave
//      (StepPlan::expired, terminal).
//   2. ScheduleDecodes: every running sequence with one token to compute gets
//      it, in running order (priority, then arrival). One that cannot get a
//      KV block preempts the lowest-priority, latest-arrived running sequence
//      (possibly itself): its blocks are freed and it waits again, at the front
//      of its priority class, keeping its generated tokens.
//   3. SchedulePrefills: what is left of the budget goes to
//      - running sequences part-way through their prompt (the next chunk; a
//        long prompt spans several steps), and
//      - admissions (only in a step without preemption): waiting sequences in
//        priority, fair-share (WaitingQueue) and FCFS order, each starting
//        from its longest cached prefix, while budget, max_running_seqs and KV
//        blocks allow; the first that does not fit stops admission (no
//        overtaking).
//      Running chunks go first, except that at equal priority a waiting
//      sequence of a tenant further behind its fair share (smaller virtual
//      time) goes before a running chunk of a tenant ahead of it, and running
//      chunks are ordered by their tenant's virtual time too. Once a step
//      holds prompt tokens, it takes more only from that first tenant and
//      tenants no further ahead of their share, so a light tenant's prompt
//      runs in a short step. With one tenant this is: every running chunk,
//      then admissions.
//   4. BuildPlan: the StepPlan, decodes first.
// Update() then advances every scheduled sequence, appends sampled tokens,
// registers newly full blocks in the prefix cache, forks the siblings of an
// n > 1 request once its prompt is computed, and frees finished sequences.
//
// Invariants: tokens per step <= max_batch_tokens; running sequences <=
// max_running_seqs (a fork that would pass it waits instead); every admitted
// request ends exactly once: each of its sequences finishes (Update), or it is
// expired (StepPlan) or cancelled (Cancel) as a whole; the scheduler never
// drops a sequence silently. A preempted sequence recomputes the same tokens,
// so its output equals an unpreempted run's.
// Ownership: borrows the KvCacheManager and the Clock, which must outlive it;
// owns its requests' state; its destructor frees the blocks it holds.
// Thread safety: confined to the engine loop.
// Errors: a full queue or a request that can never fit is an AdmitResult;
// running out of KV blocks is handled by waiting or preempting. A StepResult
// that does not match its plan, or a sequence not finished at max_tokens, is
// a bug of the caller (CHECK).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/status.h"
#include "engine/kv/kv_cache_manager.h"
#include "scheduler/request.h"
#include "scheduler/sequence.h"
#include "scheduler/step_plan.h"
#include "scheduler/waiting_queue.h"

namespace surge::scheduler {

struct SchedulerConfig {
  int64_t max_batch_tokens = 512;  // tokens computed per step, all sequences
  int32_t max_running_seqs = 256;  // sequences holding KV blocks
  // Add() refuses a request when the waiting queue (new and preempted
  // sequences) holds this many sequences, or would hold more tokens.
  int32_t max_queued_requests = 1024;
  int64_t max_queued_tokens = 1 << 20;
  int64_t max_model_len = 0;  // prompt + max_tokens limit; 0: only the KV cache size
};

// Error with a message for the operator when a field is out of range.
[[nodiscard]] absl::Status ValidateSchedulerConfig(const SchedulerConfig& config);

struct SchedulerStats {
  int32_t num_running = 0;
  int32_t num_waiting = 0;
  int64_t num_waiting_tokens = 0;
  double kv_usage = 0;  // fraction of KV blocks in use
  int32_t num_cached_blocks = 0;
  int64_t prefix_query_tokens = 0;  // tokens looked up in the prefix cache
  int64_t prefix_hit_tokens = 0;    // of those, found cached
  int64_t num_evictions = 0;
  int64_t num_preemptions = 0;
  int64_t num_steps = 0;   // non-empty plans
  int64_t num_tokens = 0;  // computed over all steps
  int64_t num_prefill_tokens = 0;
  int64_t num_decode_tokens = 0;
  int64_t last_step_tokens = 0;
  double mean_tokens_per_step = 0;
  // Schedule() to Update() of the last non-empty plan, on the Clock: the
  // step's execution time as the scheduler sees it.
  base::Duration last_step_time{};
  base::Duration total_step_time{};
  int64_t num_admitted = 0;
  std::array<int64_t, 5> num_rejected{};  // indexed by AdmitResult; kAdmitted's stays 0
  int64_t num_expired = 0;                // requests
  int64_t num_cancelled = 0;              // requests
  int64_t num_cancelled_sequences = 0;
  int64_t num_finished_sequences = 0;
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, engine::kv::KvCacheManager& kv,
            const base::Clock& clock);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request, or refuses it with a reason (then nothing is kept).
  [[nodiscard]] AdmitResult Add(Request request);

  // Plans the next step; see the class comment. Each plan with sequences must
  // be given back to Update() before the next Schedule().
  StepPlan Schedule();

  // Applies the outcome of executing `plan` (the latest one): every sequence
  // of the plan still live advances by its chunk; one with needs_logits must
  // have its SampledToken in `result`.
  void Update(const StepPlan& plan, const StepResult& result);

  // Drops every sequence of the request at once, waiting or running, and
  // frees their blocks. Returns how many sequences were dropped (0: unknown or
  // already ended). Call between steps; between Schedule() and Update() only
  // once the plan has been executed (its spans point at the dropped state),
  // e.g. to end the requests of a step that failed: Update() then skips them.
  int32_t Cancel(base::RequestId request);

  bool idle() const { return running_.empty() && waiting_.empty(); }
  int32_t num_running() const { return static_cast<int32_t>(running_.size()); }
  int32_t num_waiting() const { return waiting_.size(); }
  SchedulerStats Snapshot() const;

 private:
  // Schedule() policies.
  void ExpireWaiting(StepPlan& plan);
  void ScheduleDecodes(StepPlan& plan);
  void SchedulePrefills(StepPlan& plan);
  std::vector<Sequence*> RunningPrefillOrder() const;
  bool PrefillChunk(Sequence* seq, StepPlan& plan);  // false: seq preempted itself
  bool Admit(Sequence* seq, StepPlan& plan);         // false: no KV blocks for it
  void BuildPlan(StepPlan& plan);
  ScheduledSequence PlanEntry(const Sequence& seq) const;
  // Capacity: grows seq's blocks for n more tokens, preempting from the back
  // of running_ as needed; false if seq itself was preempted.
  bool Reserve(Sequence* seq, int64_t n, StepPlan& plan);
  void Preempt(Sequence* seq, StepPlan& plan);
  void Take(Sequence* seq, int64_t n);

  // Update() steps.
  void Advance(Sequence* seq, int64_t num_computed, const SampledToken* sampled);
  void ForkSiblings(Sequence* first);

  // Bookkeeping.
  Sequence* NewSequence(base::RequestId request, int32_t sample_index);
  Sequence* Find(base::SequenceId id) const;
  void InsertRunning(Sequence* seq);
  void EraseRunning(Sequence* seq);
  void Remove(Sequence* seq);  // frees blocks or leaves the queue, then Forget()
  void Forget(Sequence* seq);  // destroys the record of a sequence in neither

  SchedulerConfig config_;
  engine::kv::KvCacheManager& kv_;
  const base::Clock& clock_;

  absl::flat_hash_map<base::SequenceId, std::unique_ptr<Sequence>> seqs_;
  absl::flat_hash_map<base::RequestId, std::vector<Sequence*>> requests_;  // live sequences
  std::vector<Sequence*> running_;                                         // sorted by RunsBefore
  WaitingQueue waiting_;

  // State of the step being planned.
  std::vector<Sequence*> scheduled_;
  int64_t budget_ = 0;
  // Copy-on-write copies for forked siblings, emitted with the next plan.
  std::vector<std::pair<base::SequenceId, engine::kv::BlockCopy>> pending_copies_;

  int64_t next_sequence_id_ = 0;
  int64_t next_add_order_ = 0;
  int64_t next_step_ = 0;
  int64_t awaiting_update_ = -1;  // step of a plan not yet given to Update()
  base::TimePoint step_start_;    // when that plan was made
  SchedulerStats totals_;         // the counters of Snapshot()
};

}  // namespace surge::scheduler
