// Tokenizer turns text into token ids and back, for the two tokenizer
// families GGUF files carry: SentencePiece-style ("llama": score-ordered
// merges over characters with byte fallback) and byte-level BPE ("gpt2":
// regex pre-tokenizer named by tokenizer.ggml.pre, then ranked merges).
// Token ids match what other GGUF tools produce for the same file.
//
// Model: built once from a Vocab by Create(), which validates it.
// Ownership: owns its copy of the Vocab and the lookup tables built from it.
// Thread safety: immutable after Create(); every method is const and safe to
// call from many threads at once (no mutable caches).
// Errors: Create() rejects inconsistent vocabularies with InvalidArgument.
// Encode/Decode accept any input: invalid UTF-8 never crashes (it is
// byte-tokenized, and decodes as U+FFFD); out-of-range ids decode to "".
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/model/vocab.h"

namespace surge::engine::model {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Validates the vocab (sizes agree, ids in range, merges refer to tokens,
  // unknown pre-tokenizer name → error naming it and the supported ones).
  // Empty `scores` / `types` are filled with 0 / kNormal, as GGUF readers do.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(Vocab vocab);

  // Text → ids. add_special: prepend BOS / append EOS as vocab.add_bos /
  // add_eos say. parse_special: recognise control/user-defined token texts
  // (e.g. "<|im_start|>") in the text as single tokens, longest first;
  // otherwise they are tokenized as plain text (so user content cannot
  // inject control tokens). Plain text never yields control/unknown tokens,
  // except unk_id for SPM text that has neither a piece nor byte tokens.
  // SPM with add_space_prefix prefixes a space to the text and to each run
  // of text right after a special token, as other GGUF tools do.
  std::vector<int32_t> Encode(std::string_view text, bool add_special, bool parse_special) const;

  // Encodes the concatenation of `pieces` as one text, recognising special
  // tokens only inside pieces with parse_special. Used for chat prompts:
  // template text may hold control tokens, message content never does, and
  // the result equals Encode(concatenation, ...) whenever content holds no
  // special-token text (one text run spans piece boundaries, so SPM's space
  // prefix is applied as for the whole string).
  struct TextPiece {
    std::string_view text;
    bool parse_special = false;
  };
  std::vector<int32_t> EncodePieces(std::span<const TextPiece> pieces, bool add_special) const;

  // The raw bytes of one token (SPM "▁" → " ", "<0x0A>" → "\n"; BPE
  // byte-level chars → bytes; control tokens → their text only if
  // render_special, else ""). Out-of-range id → "". May be partial UTF-8.
  std::string TokenToPiece(int32_t id, bool render_special = false) const;

  // Concatenated pieces as valid UTF-8 (invalid sequences → U+FFFD). For SPM
  // with add_space_prefix, the leading space of the first token (or of the
  // token right after a leading BOS) is dropped, undoing Encode's prefix;
  // pass strip_leading_space = false to keep it (e.g. when decoding a
  // continuation rather than a whole text). Decode(Encode(x)) == x for valid
  // UTF-8 x without special-token parsing, except that SPM, like
  // SentencePiece, gives a literal "▁" in x back as a space.
  std::string Decode(std::span<const int32_t> ids, bool render_special = false) const {
    return Decode(ids, render_special, /*strip_leading_space=*/true);
  }
  std::string Decode(std::span<const int32_t> ids, bool render_special,
                     bool strip_leading_space) const;

  int32_t vocab_size() const { return static_cast<int32_t>(vocab_.tokens.size()); }
  int32_t bos_id() const { return vocab_.bos_id; }
  int32_t eos_id() const { return vocab_.eos_id; }
  TokenizerKind kind() const { return vocab_.kind; }

  // eos, eot, and control tokens like <|im_end|>, <|endoftext|>, <|eot_id|>,
  // <end_of_turn>. False for out-of-range ids.
  bool IsEndOfGeneration(int32_t id) const;

  // Exact token text → id (the text as stored in the vocab, e.g. "▁the" or
  // "Ġthe"); with duplicate texts, the last id wins.
  std::optional<int32_t> FindToken(std::string_view text) const;

  const Vocab& vocab() const { return vocab_; }

  // True if Decode() (with strip_leading_space) drops one leading space
  // from the first text token: SPM vocabularies with add_space_prefix.
  bool strips_leading_space() const {
    return vocab_.kind == TokenizerKind::kSpm && vocab_.add_space_prefix;
  }

 protected:
  // `vocab` must have passed validation.
  explicit Tokenizer(Vocab vocab);

  // Appends the ids of `text`, which holds no special tokens. `after_special`
  // is true at the start of the input and right after a special token.
  virtual void EncodeText(std::string_view text, bool after_special,
                          std::vector<int32_t>* out) const = 0;

  // True if plain text may produce tokens of `type` by merging. Control,
  // unknown and unused tokens never come from text; byte tokens only by
  // byte fallback.
  static bool IsTextType(TokenType type) {
    return type == TokenType::kNormal || type == TokenType::kUndefined ||
           type == TokenType::kUserDefined;
  }

  const Vocab vocab_;
  std::vector<std::string> pieces_;  // TokenToPiece(id, false); filled by subclasses

 private:
  // TokenToPiece without the copy; a view into this tokenizer.
  std::string_view PieceView(int32_t id, bool render_special) const;

  struct Segment {
    std::string_view text;  // plain text when token < 0
    int32_t token = -1;
  };
  void SplitOnSpecials(std::string_view text, std::vector<Segment>* out) const;
  std::optional<int32_t> MatchSpecial(std::string_view rest) const;

  absl::flat_hash_map<std::string_view, int32_t> token_to_id_;  // views into vocab_.tokens
  std::vector<int32_t> specials_;                               // by first byte, then longest first
  std::array<std::pair<uint32_t, uint32_t>, 256> special_range_{};  // first byte → [begin, end)
  std::vector<bool> end_of_generation_;
};

// Streams text from token ids: returns only whole UTF-8 characters; bytes of
// an incomplete character are held until the next token completes them; an
// invalid sequence becomes U+FFFD. Push…Flush concatenated == Decode(ids).
// Thread safety: one per sequence (not thread-safe); the Tokenizer must
// outlive it.
// render_special and strip_leading_space mean what they do for Decode().
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tok, bool render_special = false,
                            bool strip_leading_space = true);
  std::string Push(int32_t id);
  std::string Flush();  // whatever is held, invalid remainder as U+FFFD

 private:
  const Tokenizer& tok_;
  const bool render_special_;
  bool strip_pending_;  // the leading space of a coming token may still be dropped
  int64_t num_pushed_ = 0;
  std::string held_;  // bytes of an incomplete UTF-8 character
};

}  // namespace surge::engine::model
