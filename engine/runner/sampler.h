// Sampler turns one row of logits into the next token of one sequence:
// penalties, greedy or seeded random choice with top-k / top-p / min-p, and
// the logprobs the API reports.
//
// Model: a Sampler holds its SamplingParams, a PRNG (xoshiro256**, seeded
// with splitmix64 from `seed`) and the penalty history (the last
// `penalty_last_n` tokens given to Accept() or chosen by Sample()). Sample()
// applies, in this fixed order:
//   penalties -> greedy shortcut (temperature < 1e-5) -> top-k ->
//   softmax at temperature -> top-p -> min-p -> renormalise -> draw.
// Determinism: the same params, the same Accept() calls and the same logits
// give the same tokens on any IEEE-754 machine. The choice depends on no std
// distribution, libm or standard-library sort order: the library is built
// with -ffp-contract=off, exp() is our own polynomial, sums run in a fixed
// order, candidates are ordered by (logit descending, token id ascending).
// (Logprobs take one libm log(), so their last bit may differ across libms.)
// A non-greedy Sample() consumes exactly one PRNG output whatever the
// candidate count; a greedy one consumes none.
// Cost: one pass over the row (clean, max, softmax normaliser), plus one exp
// pass when temperature != 1 or min-p is on, plus a compare pass for top-k,
// top-p or top_logprobs. Top-p whose nucleus exceeds 64 tokens adds two
// passes (a histogram of log-weights). No full sort of the vocabulary, and
// no allocation once the scratch buffers have grown (but for the returned
// `top` when top_logprobs > 0).
// Logprobs: `logprob` and `top` are log-softmax values of the logits after
// penalties, before temperature and truncation, i.e. what the model (with the
// penalties the request asked for) thinks, not the sampling distribution.
// Bad values: NaN logits count as -inf, +inf as the largest float. A row with
// no finite logit is treated as uniform.
// Ownership: a Sampler owns its scratch buffers; copying one copies its PRNG
// state and history, so a copy taken mid-stream (or a sequence resumed after
// preemption) continues exactly like the original.
// Thread safety: one Sampler per sequence, confined to the engine loop.
// Errors: params come from users, so callers run ValidateSamplingParams()
// first; building a Sampler from params that fail it is a bug (DCHECK; release
// builds do not crash but sample something unspecified). An empty logits row
// is a bug (CHECK). Token ids in the history outside the row are ignored.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"

namespace surge::engine::runner {

struct SamplingParams {
  float temperature = 1.0f;         // [0, 2]; below 1e-5 -> greedy (argmax; ties -> lowest id)
  int32_t top_k = 0;                // >= 0; 0 (or >= vocab size) -> off
  float top_p = 1.0f;               // (0, 1]; 1 -> off
  float min_p = 0.0f;               // [0, 1]; keep tokens with p >= min_p * p_max; 0 -> off
  float repetition_penalty = 1.0f;  // > 0; seen tokens: logit > 0 divided, < 0 multiplied
  float frequency_penalty = 0.0f;   // [-2, 2]; logit -= count * frequency_penalty
  float presence_penalty = 0.0f;    // [-2, 2]; logit -= (count > 0) * presence_penalty
  int32_t penalty_last_n = 64;      // >= -1; tokens of history the penalties see; -1 = all
  uint64_t seed = 0;
  int32_t top_logprobs = 0;  // [0, 20]; alternatives to report
};

inline constexpr int32_t kMaxTopLogprobs = 20;

// Checks the ranges above (OpenAI's where OpenAI documents one); NaN and
// infinities are rejected. The InvalidArgument message names the field.
[[nodiscard]] absl::Status ValidateSamplingParams(const SamplingParams& params);

struct TokenLogprob {
  int32_t token;
  float logprob;
};

struct SampleResult {
  int32_t token;
  float logprob;                  // of `token`; see "Logprobs" above
  std::vector<TokenLogprob> top;  // top_logprobs most likely; descending, ties by id
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Adds `token` to the penalty history without sampling, e.g. prompt tokens
  // when the caller wants them penalised (the engine passes none by default).
  void Accept(int32_t token);

  // Picks the next token from `logits` (one float per vocabulary entry) and
  // adds it to the history. `logits` is scratch: on return it holds the
  // logits after penalties and NaN/inf cleanup, the values `logprob` refers to.
  SampleResult Sample(std::span<float> logits);

  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    float logit;
    int32_t token;
    float weight;  // exp((logit - max) / temperature): 1 for the most likely token
  };

  void ApplyPenalties(std::span<float> logits) const;
  float NextUniform();
  int32_t Draw(std::span<const float> logits, float max, float u);
  double ChunkWeights(std::span<const float> logits, float max, float scale, float min_weight);
  int32_t DrawAll(std::span<const float> logits, float max, float scale, float u);
  int32_t DrawTopK(std::span<const float> logits, float max, size_t k, float scale, float u);
  int32_t DrawTopP(std::span<const float> logits, float max, float scale, float u);
  void NucleusByHistogram(std::span<const float> logits, float max, float scale, double target);
  void CollectBuckets(std::span<const float> logits, float max, float scale, int32_t crossing);
  int32_t DrawFromList(std::span<const Candidate> list, float u) const;

  SamplingParams params_;
  bool greedy_;
  float min_weight_;  // min-p as a weight threshold: the most likely token weighs 1
  bool penalties_on_;
  std::array<uint64_t, 4> rng_;
  std::vector<int32_t> window_;                   // ring buffer of the last penalty_last_n tokens
  size_t window_head_ = 0;                        // oldest entry once the window is full
  absl::flat_hash_map<int32_t, int32_t> counts_;  // token -> occurrences in the window

  // Scratch, reused across calls so the steady state allocates nothing.
  std::vector<Candidate> candidates_;
  std::vector<Candidate> crossing_;  // top-p: the bucket where the cut falls
  std::vector<Candidate> top_;       // top_logprobs selection
  std::vector<float> chunk_max_;     // ScanRow(): per chunk of the row, max logit
  std::vector<double> chunk_sum_;    // ... and sum of exp(logit - chunk max)
  std::vector<double> sums_;         // per-chunk or per-bucket weight sums
};

}  // namespace surge::engine::runner
