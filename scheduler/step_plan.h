// The contract of one engine step between the Scheduler and whoever executes
// it (the Engine, with the runner and sampler):
//
//   StepPlan plan = scheduler.Schedule();
//   apply plan.block_copies; compute plan.sequences; sample where needs_logits
//   scheduler.Update(plan, result);
//
// Lifetime: the spans in a StepPlan point into the scheduler's and the KV
// manager's state and stay valid until the next non-const call on the
// Scheduler (Update, Add, Cancel, Schedule).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/ids.h"
#include "engine/kv/kv_cache_manager.h"

namespace surge::scheduler {

// One sequence's share of a step: compute `tokens` at positions
// start_position, start_position + 1, ... writing their K/V through
// block_table (position p -> block_table[p / block_size], slot p % block_size).
struct ScheduledSequence {
  base::SequenceId seq;
  base::RequestId request;
  int32_t sample_index = 0;  // which of the request's n sequences (seeds its sampler)
  std::span<const int32_t> tokens;
  int64_t start_position = 0;
  std::span<const int32_t> block_table;
  // The chunk ends at the last known token: the runner returns logits for its
  // last position and the Engine samples the sequence's next token.
  bool needs_logits = false;
};

struct StepPlan {
  int64_t step = 0;  // 0, 1, 2, ... one per Schedule()
  // Running decodes first, then prefill chunks, in scheduling order.
  std::vector<ScheduledSequence> sequences;
  // KV slots to copy (copy-on-write after a fork) before computing anything.
  std::vector<engine::kv::BlockCopy> block_copies;
  // Requests that waited past their queue deadline: removed, terminal.
  std::vector<base::RequestId> expired;
  // Sequences evicted from the KV cache this step; they wait again and will
  // recompute (not terminal).
  std::vector<base::SequenceId> preempted;

  int64_t num_tokens = 0;  // sum of tokens over `sequences`, <= max_batch_tokens
  int64_t num_decode_tokens = 0;
  int64_t num_prefill_tokens = 0;
  int64_t num_prefix_hit_tokens = 0;  // skipped thanks to the prefix cache this step

  bool empty() const { return sequences.empty() && block_copies.empty(); }
};

// The token sampled for a sequence whose entry had needs_logits.
struct SampledToken {
  base::SequenceId seq;
  int32_t token = 0;
  bool finished = false;  // the Engine's verdict: EOS, stop, max_tokens, ...
};

struct StepResult {
  // One per plan entry with needs_logits, in plan order.
  std::vector<SampledToken> sampled;
};

}  // namespace surge::scheduler
