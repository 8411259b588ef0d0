// What the scheduler is asked to run, and what it answers at the door.
//
// A Request is one API call: a tokenized prompt to continue, n sequences
// sampled from it, at a priority, for a tenant. Stop conditions (EOS, stop ids,
// stop strings, max_tokens) are the Engine's: it tells the scheduler which
// sequences finished (Scheduler::Update). The scheduler reads max_tokens only
// to refuse requests that could never fit the KV cache.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/ids.h"

namespace surge::scheduler {

struct Request {
  base::RequestId id;
  std::vector<int32_t> prompt;  // token ids, not empty
  int32_t max_tokens = 16;      // tokens to generate at most, per sequence
  int32_t n = 1;                // sequences sampled from the prompt
  int32_t priority = 0;         // lower runs sooner; FCFS (order of Add) within a priority
  base::TimePoint arrival;
  // Give up (Expired) if not started by then; a started request never expires.
  std::optional<base::TimePoint> queue_deadline;
  // Tenant: cached prefix blocks are shared only between equal salts
  // (engine::kv::SaltForTenant). 0 = no tenant.
  uint64_t salt = 0;
  // Fair share: within a priority, tenants are admitted by weighted fair
  // queuing on tokens served (WaitingQueue). weight > 0.
  uint64_t tenant = 0;
  double weight = 1.0;
};

// The answer of Scheduler::Add(). Every value but kAdmitted is a refusal the
// server turns into an HTTP status; none is an error of the scheduler.
enum class AdmitResult {
  kAdmitted,
  kQueueFull,        // max_queued_requests waiting already (429/503 + Retry-After)
  kQueueTokensFull,  // max_queued_tokens would be exceeded (429/503 + Retry-After)
  kTooLong,          // prompt + max_tokens exceeds the context or the whole KV cache (400)
  kInvalid,          // empty prompt, n or max_tokens < 1, weight <= 0, id already live (400)
};

constexpr std::string_view ToString(AdmitResult r) {
  switch (r) {
    case AdmitResult::kAdmitted:
      return "admitted";
    case AdmitResult::kQueueFull:
      return "queue_full";
    case AdmitResult::kQueueTokensFull:
      return "queue_tokens_full";
    case AdmitResult::kTooLong:
      return "too_long";
    case AdmitResult::kInvalid:
      return "invalid";
  }
  return "unknown";
}

}  // namespace surge::scheduler
