// SpmTokenizer is the SentencePiece-style tokenizer of GGUF "llama"
// vocabularies: spaces become U+2581 "▁", the text is split into UTF-8
// characters, and the adjacent pair whose concatenation is the
// highest-scoring vocabulary piece is merged until none is left (ties →
// leftmost). Characters that are not pieces fall back to byte tokens
// <0xXX>, or to unk_id when the vocabulary has none.
//
// Model: a bigram priority queue over a linked list of symbols, O(n log n)
// in the text length (per word when the vocabulary allows cutting words
// apart); invalid UTF-8 bytes are symbols of their own.
// Ownership: created through Tokenizer::Create().
// Thread safety: immutable after creation; safe for concurrent use.
// Errors: Create() rejects kByte tokens whose text is not <0xXX>.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "engine/model/tokenizer.h"

namespace surge::engine::model {

class SpmTokenizer final : public Tokenizer {
 public:
  // `vocab` has passed Tokenizer's validation.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(Vocab vocab);

 private:
  explicit SpmTokenizer(Vocab vocab);
  absl::Status Init();

  struct Symbol;
  struct Bigram;
  struct Scratch;  // per-call buffers, reused across words

  void EncodeText(std::string_view text, bool after_special,
                  std::vector<int32_t>* out) const override;
  // Merges one escaped segment (no piece crosses its ends) and appends ids.
  void EncodeSegment(std::string_view s, Scratch* scratch, std::vector<int32_t>* out) const;
  // Appends the id of one final symbol, or its byte-fallback / unk ids.
  void AppendSymbol(std::string_view symbol, std::vector<int32_t>* out) const;

  absl::flat_hash_map<std::string_view, int32_t> text_pieces_;  // escaped text → id
  std::array<int32_t, 256> byte_tokens_{};                      // -1 if absent
  size_t max_piece_bytes_ = 0;
  // Characters x (not ▁) that some piece holds as "x▁". Before any other
  // "x▁" in the text no merge can cross, so words are merged separately.
  absl::flat_hash_set<std::string_view> joins_space_;  // views into vocab_.tokens
};

}  // namespace surge::engine::model
