// BpeTokenizer is the byte-level BPE tokenizer of GGUF "gpt2" vocabularies
// (GPT-2, Llama 3, Qwen2, ...): the text is split into words by the
// pre-tokenizer named in tokenizer.ggml.pre, each word's bytes are written
// in the GPT-2 byte↔unicode alphabet, and ranked merges (lowest rank first,
// ties → leftmost) are applied within the word. A merged symbol that is not
// a token falls back to the tokens of its single bytes.
//
// Model: merges are indexed by (left id, right id) → rank; each word is
// merged with a priority queue over a linked list of symbols.
// Ownership: created through Tokenizer::Create().
// Thread safety: immutable after creation; safe for concurrent use (no
// cache; all scratch state is per call).
// Errors: Create() rejects an unknown pre-tokenizer and merges that are not
// "left right" with both sides in the vocabulary.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/model/pre_tokenizer.h"
#include "engine/model/tokenizer.h"

namespace surge::engine::model {

class BpeTokenizer final : public Tokenizer {
 public:
  // `vocab` has passed Tokenizer's validation.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(Vocab vocab);

 private:
  BpeTokenizer(Vocab vocab, std::unique_ptr<PreTokenizer> pre);
  absl::Status Init();

  struct Symbol;
  struct Bigram;
  struct Scratch;  // per-call buffers, reused across words

  void EncodeText(std::string_view text, bool after_special,
                  std::vector<int32_t>* out) const override;
  // Appends the ids of one pre-tokenized word.
  void EncodeWord(std::string_view word, Scratch* scratch, std::vector<int32_t>* out) const;
  int32_t TextToken(std::string_view text) const;  // -1 if not a text token

  std::unique_ptr<PreTokenizer> pre_;
  absl::flat_hash_map<std::string_view, int32_t> text_tokens_;  // byte-level text → id
  absl::flat_hash_map<uint64_t, int32_t> merge_rank_;           // (left << 32 | right) → rank
  std::array<int32_t, 256> byte_tokens_{};                      // byte → id, -1 if absent
};

}  // namespace surge::engine::model
