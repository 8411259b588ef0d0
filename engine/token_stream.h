// TokenStream carries one request's output from the engine loop to whoever
// submitted it (an HTTP connection, `surge run`, a test): text deltas, token
// ids and log-probabilities per sequence, then exactly one terminal event per
// sequence, then the request's summary (usage and timings).
//
// Model: a single-producer (engine loop), single-consumer queue. The
// consumer either blocks in Next() or registers a notifier that the
// producer calls after each Push (the HTTP layer posts to its executor).
// Thread safety: thread-safe; Push and Next may run on different threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"

namespace surge::engine {

enum class FinishReason {
  kStop,       // end-of-generation token, stop token or stop string
  kLength,     // max_tokens reached
  kCancelled,  // Cancel() or the client went away
  kExpired,    // waited in the queue past its deadline
  kError,      // could not run (message in the event)
};
const char* ToString(FinishReason r);

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
};

struct TokenEvent {
  int32_t index = 0;            // which of the request's n sequences
  std::string text;             // new text (whole UTF-8 characters)
  std::vector<int32_t> tokens;  // tokens behind `text` (may be more than one)
  std::vector<float> logprobs;  // per token, when asked for
  std::vector<std::vector<TokenLogprob>> top_logprobs;
  std::optional<FinishReason> finish;  // set on the sequence's last event
  std::string error;                   // with kError
  base::TimePoint time{};              // when the engine produced it
};

struct RequestSummary {
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // served from the prefix cache
  int32_t completion_tokens = 0;     // over all sequences
  base::Duration queue_time{};       // submit → first scheduled
  base::Duration time_to_first_token{};
  base::Duration total_time{};
};

class TokenStream {
 public:
  // Producer side (engine loop).
  void Push(TokenEvent event);
  void Finish(RequestSummary summary);  // after every sequence's terminal event

  // Consumer side. Next() blocks until an event, the summary, or `timeout`.
  struct Item {
    std::optional<TokenEvent> event;
    std::optional<RequestSummary> summary;  // the last item
  };
  std::optional<Item> Next(absl::Duration timeout = absl::InfiniteDuration());
  std::optional<Item> TryNext() { return Next(absl::ZeroDuration()); }
  // Called (on the producer's thread, without locks held) after each Push or
  // Finish. Set it before submitting, or expect to poll once after setting it.
  void SetNotifier(std::function<void()> notify);

 private:
  absl::Mutex mu_;
  std::deque<TokenEvent> events_ ABSL_GUARDED_BY(mu_);
  std::optional<RequestSummary> summary_ ABSL_GUARDED_BY(mu_);
  bool summary_taken_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> notify_ ABSL_GUARDED_BY(mu_);
};

}  // namespace surge::engine
