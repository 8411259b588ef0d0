// Sequence: the scheduler's record of one generated stream (internal to
// scheduler/). A request with n > 1 has n sequences; the first (sample_index
// 0) prefills the prompt and its siblings fork from it when the prompt is
// computed.
//
// Model: tokens = prompt, then generated tokens; the first num_computed of
// them have their K/V in the cache. A sequence is either running (it holds KV
// blocks: kv.Contains(id)) or waiting (it holds none and recomputes from
// position 0, helped by the prefix cache, when admitted again).
// Thread safety: confined to the engine loop.
#pragma once

#include <cstdint>
#include <optional>
#include <tuple>
#include <vector>

#include "base/clock.h"
#include "base/ids.h"

namespace surge::scheduler {

struct Sequence {
  base::SequenceId id;
  base::RequestId request;
  int32_t sample_index = 0;
  std::vector<int32_t> tokens;
  int32_t prompt_len = 0;
  int32_t max_tokens = 0;
  int64_t num_computed = 0;

  int32_t priority = 0;
  base::TimePoint arrival;
  int64_t add_order = 0;  // Add() count of its request: FCFS and "latest arrived"
  std::optional<base::TimePoint> queue_deadline;
  uint64_t salt = 0;
  uint64_t tenant = 0;  // fair-share accounting (WaitingQueue)
  double weight = 1.0;

  int32_t num_unforked = 0;  // siblings to fork once the prompt is computed
  bool started = false;      // admitted once: the queue deadline no longer applies
  bool running = false;
  int64_t wait_rank = 0;         // position in its tenant's queue of its priority while waiting
  int64_t scheduled_tokens = 0;  // in the step being planned

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t num_remaining() const { return num_tokens() - num_computed; }
  int64_t num_generated() const { return num_tokens() - prompt_len; }
};

// Running order: the first runs first and is preempted last (higher priority,
// then earlier arrival).
inline bool RunsBefore(const Sequence* a, const Sequence* b) {
  return std::tie(a->priority, a->arrival, a->add_order, a->sample_index) <
         std::tie(b->priority, b->arrival, b->add_order, b->sample_index);
}

}  // namespace surge::scheduler
