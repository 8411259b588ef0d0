// The trainer's data: the tokenizer learned from the corpus, the corpus as
// token ids split into training and held-out parts, and the batches drawn
// from them.
//
// Vocabulary: byte-level BPE (tokenizer.ggml.model "gpt2", pre-tokenizer
// "qwen2") learned with BpeTrainer: the 256 byte tokens, then one token per
// merge result, then <|endoftext|> as the last id (eos, also bos and
// padding, never added automatically). No chat template.
// Token stream: each document's ids followed by <|endoftext|>. The stream is
// cut into segments of 8 * (seq_len + 1) tokens; an evenly spread
// val_fraction of the whole segments is held out (at least one when
// val_fraction > 0), the rest concatenated for training.
// Batches: a training window is seq_len + 1 consecutive tokens at a start
// drawn uniformly by the trainer's Rng (inputs are the first seq_len,
// targets the last seq_len). Held-out windows are fixed: evenly spaced over
// the held-out tokens, so every evaluation sees the same text.
//
// Thread safety: immutable after Build(); const methods are reentrant.
// Errors: Build() fails when the corpus is too small for one training
// window (or one held-out window when val_fraction > 0).
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "engine/model/tokenizer.h"
#include "engine/model/vocab.h"
#include "jobs/train/corpus.h"
#include "jobs/train/rng.h"

namespace surge::jobs::train {

inline constexpr char kEndOfText[] = "<|endoftext|>";

// Learns a vocabulary of at most vocab_size tokens (fewer if the corpus runs
// out of pairs seen twice). vocab_size must be at least 258.
[[nodiscard]] absl::StatusOr<engine::model::Vocab> TrainVocab(const Corpus& corpus,
                                                              int32_t vocab_size);

class TokenData {
 public:
  [[nodiscard]] static absl::StatusOr<TokenData> Build(const Corpus& corpus,
                                                       const engine::model::Tokenizer& tokenizer,
                                                       int64_t seq_len, float val_fraction);

  // `batch` random training windows, row-major [batch, seq_len].
  void SampleBatch(Rng& rng, int64_t batch, int64_t seq_len, std::vector<int32_t>* inputs,
                   std::vector<int32_t>* targets) const;

  // Held-out windows index*batch .. index*batch + batch - 1 of
  // num_windows evenly spaced ones.
  void ValBatch(int64_t index, int64_t batch, int64_t num_windows, int64_t seq_len,
                std::vector<int32_t>* inputs, std::vector<int32_t>* targets) const;

  int64_t num_train_tokens() const { return static_cast<int64_t>(train_.size()); }
  int64_t num_val_tokens() const { return static_cast<int64_t>(val_.size()); }

 private:
  static void Window(const std::vector<int32_t>& tokens, int64_t start, int64_t seq_len,
                     int32_t* inputs, int32_t* targets);

  std::vector<int32_t> train_, val_;
};

}  // namespace surge::jobs::train
