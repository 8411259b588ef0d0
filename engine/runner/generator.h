// Generator drives a fixed set of sequences through one Runner: chunked
// prefill of every prompt, then decode steps in which every unfinished
// sequence adds one token. It is the static-batch driver behind `surge run`
// and the engine benchmark; serving uses the continuous-batching scheduler
// instead, over the same Runner.
//
// Each sequence owns enough KV blocks for its prompt plus max_new_tokens,
// taken at Add() and returned by Finish() or the destructor.
//
// Ownership: borrows the Runner and the BlockPool.
// Thread safety: confined to the calling thread.
// Errors: Add() fails cleanly when the prompt plus output does not fit the
// context or the pool has too few free blocks.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"
#include "base/status.h"
#include "engine/kv/block_pool.h"
#include "engine/runner/runner.h"
#include "engine/runner/sampler.h"

namespace surge::engine::runner {

struct GenerateOptions {
  int32_t max_new_tokens = 128;
  SamplingParams sampling;
  bool ignore_eos = false;
  int64_t max_context = 0;  // 0: the model's training context
};

class Generator {
 public:
  Generator(Runner& runner, kv::BlockPool& blocks);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Adds a sequence; returns its index.
  absl::StatusOr<int> Add(std::span<const int32_t> prompt, const GenerateOptions& options);

  // Runs every pending prompt through the model in passes of at most
  // `max_batch_tokens` tokens and samples each sequence's first token.
  void Prefill(int64_t max_batch_tokens, absl::FunctionRef<void(int seq, int32_t token)> on_token);

  // One pass over every unfinished sequence; returns how many remain.
  int DecodeStep(absl::FunctionRef<void(int seq, int32_t token)> on_token);

  bool finished(int seq) const { return seqs_[seq].finished; }
  // True when the sequence stopped on an end-of-generation token.
  bool stopped_on_eos(int seq) const { return seqs_[seq].stopped_on_eos; }
  const std::vector<int32_t>& generated(int seq) const { return seqs_[seq].generated; }
  int num_active() const;

 private:
  struct Sequence {
    std::vector<int32_t> tokens;  // prompt then generated
    std::vector<int32_t> generated;
    int64_t n_computed = 0;  // tokens whose KV is in the cache
    std::vector<int32_t> blocks;
    Sampler sampler;
    GenerateOptions options;
    bool finished = false;
    bool stopped_on_eos = false;
  };
  void Accept(int seq, std::span<float> logits,
              absl::FunctionRef<void(int seq, int32_t token)> on_token);

  Runner& runner_;
  kv::BlockPool& blocks_;
  std::vector<Sequence> seqs_;
};

}  // namespace surge::engine::runner
