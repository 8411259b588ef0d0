// ComputePerplexity measures how well a model predicts a text: the mean
// negative log-likelihood (NLL, in nats) of each token given the ones
// before it, and its exponential, the perplexity.
//
// Windows: a model sees at most its context, so the text is read in windows
// of `window` tokens (default: the model's training context), each started
// afresh at position 0, advancing by stride = window / 2. The first window
// scores every token it predicts; each later window scores only the tokens
// past the previous window's end (its second half), so every token from the
// second on is scored exactly once, and after the first window each scored
// token sees at least window / 2 tokens of context. The first token has no
// prediction and is not scored.
//
// How: each window runs on the Runner over a private KV cache, in passes of
// up to 64 positions (so a job reports progress and yields often), and in a
// pass every token is its own one-token chunk of the same sequence at its
// own position. The runner writes the whole pass's K and V before
// attention, so each chunk sees exactly the tokens before it (what a
// prefill computes), and every position's logits come out, which the Engine
// facade does not give. Tested against ReferenceForward
// (jobs/eval/perplexity_test.cc).
//
// Thread safety: a function of its inputs; runs on the calling thread and
// a compute pool of num_threads (the caller is one of them).
// Errors: InvalidArgument for fewer than two tokens or a window below 2;
// DataLoss when the model gives a non-finite log-likelihood; Cancelled when
// `cancel` is set (checked between windows).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/model/model.h"

namespace surge::jobs::eval {

struct PerplexityOptions {
  int num_threads = 1;
  int64_t window = 0;      // 0: the model's training context (also the cap)
  int64_t max_tokens = 0;  // score at most this many tokens (0: all)
};

struct PerplexityResult {
  double perplexity = 0;  // exp(nll)
  double nll = 0;         // mean over scored tokens, nats
  int64_t tokens = 0;     // tokens scored
  int64_t windows = 0;
  int64_t window = 0;
  int64_t stride = 0;
  double seconds = 0;
  double tokens_per_second = 0;  // tokens scored per second
};

// Called after each runner pass that scored tokens: tokens scored so far,
// tokens to score in all, and the perplexity so far.
using PerplexityProgress = std::function<void(int64_t scored, int64_t total, double perplexity)>;

[[nodiscard]] absl::StatusOr<PerplexityResult> ComputePerplexity(const engine::model::Model& model,
                                                                 std::span<const int32_t> tokens,
                                                                 const PerplexityOptions& options,
                                                                 const PerplexityProgress& progress,
                                                                 const std::atomic<bool>* cancel);

// The token ids of a held-out text as the eval job scores them: the
// tokenizer's own special tokens (BOS when the vocabulary adds one), no
// parsing of special-token text inside `text`.
std::vector<int32_t> TokenizeForEval(const engine::model::Tokenizer& tokenizer,
                                     std::string_view text);

}  // namespace surge::jobs::eval
