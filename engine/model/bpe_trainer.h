// BpeTrainer learns byte-level BPE merges from text, the way GPT-2-style
// vocabularies are made: the text is pre-tokenized into words, identical
// words are counted once with their frequency, and then the most frequent
// adjacent pair of symbols (inside words) is merged, again and again.
//
// Model: symbols start as the 256 bytes (ids 0..255); each merge appends
// one token unless its bytes already are a token. Pair counts are kept
// incrementally (pair → count, pair → words holding it) with a lazy
// max-heap, so each merge costs time proportional to the words it touches.
// Ties are broken by the smaller (left id, right id), so the same input
// always gives the same merges, independent of hash order.
// Ownership: owns its word counts.
// Thread safety: not thread-safe; Train() is const and may run while no
// Add*() call is in progress.
// Errors: Create() fails for an unknown pre-tokenizer name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/model/pre_tokenizer.h"

namespace surge::engine::model {

class BpeTrainer {
 public:
  // One learned merge, as raw bytes; the new token is left + right.
  struct Merge {
    std::string left;
    std::string right;
    friend bool operator==(const Merge&, const Merge&) = default;
  };

  [[nodiscard]] static absl::StatusOr<std::unique_ptr<BpeTrainer>> Create(
      std::string_view pre_tokenizer);

  // Pre-tokenizes `text` and counts its words, each `weight` times.
  void AddText(std::string_view text, int64_t weight = 1);
  // Counts one already pre-tokenized word.
  void AddWord(std::string_view word, int64_t count);

  // Learns merges until there are `max_tokens` distinct tokens (the 256
  // bytes included) or no pair occurs `min_pair_count` times or more.
  std::vector<Merge> Train(int32_t max_tokens, int64_t min_pair_count = 2) const;

  size_t num_distinct_words() const { return word_counts_.size(); }

 private:
  explicit BpeTrainer(std::unique_ptr<PreTokenizer> pre) : pre_(std::move(pre)) {}

  std::unique_ptr<PreTokenizer> pre_;
  absl::flat_hash_map<std::string, int64_t> word_counts_;
};

}  // namespace surge::engine::model
